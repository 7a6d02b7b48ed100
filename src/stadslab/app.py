"""The ASGI application: one FastAPI app that mounts every capability's routes."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware

from stadslab import __version__
from stadslab.core.config import Settings, get_settings
from stadslab.core.database import Database
from stadslab.core.errors import install_error_handlers
from stadslab.core.limits import BodySizeLimitMiddleware
from stadslab.core.security import install_security


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    own_db = db is None
    db = db or Database(settings.database_url, statement_timeout_ms=settings.statement_timeout_ms)
    from stadslab.sensorthings.filter.spatial import install_sqlite_functions

    install_sqlite_functions(db.engine)  # geometry and Unicode functions for $filter on SQLite

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from stadslab.sensorthings.mqtt.runtime import start_mqtt, stop_mqtt

        from stadslab.federation.scheduler import start_federation, stop_federation

        from stadslab.ops.logging import configure_logging

        configure_logging(settings.log_format, settings.log_level)  # ops: JSON logs with request ids
        from stadslab.sensorthings.storage.partitions import maintain_at_startup

        maintain_at_startup(db.engine)  # PostgreSQL: this month's Observation partitions and the next ones
        start_mqtt(app)  # no-op unless STADSLAB_MQTT_URL is set
        start_federation(app)  # no-op unless STADSLAB_FEDERATION_INTERVAL_SECONDS > 0
        yield
        await stop_federation(app)
        stop_mqtt(app)
        if app.state.group_commit is not None:
            app.state.group_commit.stop()
        if own_db:
            db.dispose()

    app = FastAPI(
        title="Stadslab API",
        version=__version__,
        description="Registry, knowledge base and urban data hub of the Dutch Smart City network.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    from stadslab.core.json_limits import configure as configure_json_limits

    configure_json_limits(settings)  # the bounds on stored JSON of every write path (process-wide)
    app.state.db = db
    from stadslab.sensorthings.write.group_commit import GroupCommit

    # Single Observation POSTs arriving together share one transaction (its thread starts on first use).
    app.state.group_commit = (GroupCommit(db, max_batch=settings.sta_group_commit_max,
                                          writers=settings.sta_group_commit_writers,
                                          linger_ms=settings.sta_group_commit_linger_ms)
                              if settings.sta_group_commit else None)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    # compress text responses (pages, CSS, JSON): the NL Design System CSS alone is ~430 KB raw
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)
    install_security(app, settings)
    from stadslab.core.limits import RequestReadTimeoutMiddleware
    from stadslab.ops.metrics import SLOW_CLIENTS, MetricsMiddleware

    # ops: bounds the wait for a request body (408); outside the CSRF check, which buffers form bodies
    app.add_middleware(RequestReadTimeoutMiddleware, timeout_s=settings.request_read_timeout_s,
                       on_timeout=SLOW_CLIENTS.labels("body").inc)
    from stadslab.ops.shedding import SheddingMiddleware

    app.add_middleware(MetricsMiddleware)  # ops: outside security, so refused requests are counted too
    app.add_middleware(SheddingMiddleware, max_in_flight=settings.max_in_flight,
                       retry_after=settings.shed_retry_after_seconds)

    from stadslab.core.routes import router as core_router
    from stadslab.evidence.routes import router as evidence_router
    from stadslab.federation.routes import router as federation_router
    from stadslab.governance.routes import router as governance_router
    from stadslab.interop.ogcapi import router as ogcapi_router
    from stadslab.interop.routes import router as interop_router
    from stadslab.labs.routes import router as labs_router
    from stadslab.network.routes import router as network_router
    from stadslab.search.routes import router as search_router
    from stadslab.sensorthings.api.routes import register_router, router as sta_router
    from stadslab.sensorthings.lorawan.routes import lorawan_router
    from stadslab.web.routes import mount_web

    from stadslab.ops.routes import metrics_router, router as ops_router

    # The hub first: its hot requests (single Observation POSTs, newest pages) then match at once
    # instead of after every other route.
    app.include_router(sta_router, prefix="/sta/v1.1")
    app.include_router(ops_router, prefix="/api/v1")  # ops: /health/live, /health/ready
    app.include_router(metrics_router)  # ops: /metrics
    app.include_router(core_router, prefix="/api/v1")
    app.include_router(network_router, prefix="/api/v1")
    app.include_router(labs_router, prefix="/api/v1")
    app.include_router(evidence_router, prefix="/api/v1")
    app.include_router(search_router, prefix="/api/v1")
    app.include_router(governance_router, prefix="/api/v1")
    app.include_router(register_router, prefix="/api/v1")
    app.include_router(lorawan_router, prefix="/api/v1")
    app.include_router(interop_router, prefix="/api/v1")
    app.include_router(federation_router, prefix="/api/v1")
    app.include_router(ogcapi_router, prefix="/ogcapi")
    mount_web(app)
    return app
