"""The ASGI application: one FastAPI app that mounts every capability's routes.

Read top to bottom: settings, database, the app with its error handlers, the middlewares in
their order, then the capabilities. Each capability declares what it adds in its
``contribution.py`` (routes with their prefixes, setup, start and stop hooks); ``CAPABILITIES``
is their order, which is the order of routes within a stage (``core.assembly.Stage``), of the
start hooks, and, reversed, of the stop hooks.
"""

from __future__ import annotations

import gc
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware

from stadslab import __version__
from stadslab.core import assembly
from stadslab.core import contribution as core
from stadslab.core.config import Settings, get_settings
from stadslab.core.database import Database
from stadslab.core.errors import install_error_handlers
from stadslab.core.json_limits import configure as configure_json_limits
from stadslab.core.node_check import check_node
from stadslab.core.replicas import ReadRoutingMiddleware, attach_read_replicas
from stadslab.core.limits import BodySizeLimitMiddleware, RequestReadTimeoutMiddleware
from stadslab.core.security import install_security
from stadslab.evidence import contribution as evidence
from stadslab.federation import contribution as federation
from stadslab.governance import contribution as governance
from stadslab.infrastructure import contribution as infrastructure
from stadslab.interop import contribution as interop
from stadslab.labs import contribution as labs
from stadslab.national import contribution as national
from stadslab.network import contribution as network
from stadslab.ops import contribution as ops
from stadslab.ops.metrics import SLOW_CLIENTS, MetricsMiddleware
from stadslab.ops.shedding import SheddingMiddleware
from stadslab.search import contribution as search
from stadslab.sensorthings import contribution as sensorthings
from stadslab.web import contribution as web

CAPABILITIES: tuple[assembly.Contribution, ...] = tuple(c.CONTRIBUTION for c in (
    ops, core, network, labs, evidence, search, governance, sensorthings, interop, infrastructure, federation, national,
    web))


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_json_limits(settings)  # the bounds on stored JSON of every write path (process-wide)
    own_db = db is None
    db = db or Database(settings.database_url, statement_timeout_ms=settings.statement_timeout_ms)
    # hot standbys for anonymous reads (docs/deployment.md "Read replicas"); before anything listens on db
    replicas = attach_read_replicas(db, settings.read_urls, max_lag_bytes=settings.database_read_max_lag_bytes,
                                    check_seconds=settings.database_read_check_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        node = check_node(db, settings)  # a node with another secret key or schema than the others refuses to start
        if replicas is not None:
            replicas.start()
        await assembly.start(app, CAPABILITIES)
        if settings.gc_freeze_at_start:
            gc.freeze()  # long-lived objects out of full collections (core.config: gc_freeze_at_start)
        yield
        await assembly.stop(app, CAPABILITIES)
        if replicas is not None:
            replicas.stop()
        if node is not None:
            node.stop()
        if own_db:
            db.dispose()

    app = FastAPI(
        title="Stadslab API",
        version=__version__,
        description="Registry, knowledge base and urban data hub of the Dutch Smart City network.",
        # /api/docs is served by the web capability from local assets (web/api_docs.py)
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.docs_paths = ("/api/docs",)  # the Swagger UI page gets its own CSP (core.security)
    install_error_handlers(app)

    # Middlewares, innermost first (each add wraps the ones before it):
    # the body size bound sits closest to the routes, so it sees the body as the route will.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    # compress text responses (pages, CSS, JSON): the NL Design System CSS alone is ~430 KB raw
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)
    # write rate limit, CSRF, request ids, security headers (see core.security for their own order)
    install_security(app, settings)
    # bounds the wait for a request body (408); outside the CSRF check, which buffers form bodies
    app.add_middleware(RequestReadTimeoutMiddleware, timeout_s=settings.request_read_timeout_s,
                       on_timeout=SLOW_CLIENTS.labels("body").inc)
    if replicas is not None and replicas.standbys:
        # anonymous reads to the standbys, retried on the primary when one fails (inside the metrics: counted once)
        app.add_middleware(ReadRoutingMiddleware, replicas=replicas, secure=settings.cookie_secure,
                           sticky_seconds=settings.database_read_sticky_seconds)
    app.add_middleware(MetricsMiddleware)  # outside security, so refused requests are counted too
    # outermost: refuses excess load before any other work is done for it
    app.add_middleware(SheddingMiddleware, max_in_flight=settings.max_in_flight,
                       retry_after=settings.shed_retry_after_seconds)

    assembly.set_up(app, CAPABILITIES)
    assembly.include_routes(app, CAPABILITIES)
    return app
