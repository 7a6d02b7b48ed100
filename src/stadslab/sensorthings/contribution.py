"""What the SensorThings hub adds to the app: the hub first in the route table, its register and
LoRaWAN routes in the API, the group writer, and MQTT for the lifespan."""

from fastapi import FastAPI

from stadslab.core.assembly import Contribution, Routes, Stage
from stadslab.core.errors import PROBLEM_SHAPES
from stadslab.core.leader import run_as_leader

from . import housekeeping

from .filter.spatial import install_sqlite_functions
from .write.group_commit import GroupCommit
from .lorawan.routes import lorawan_router
from .mqtt.runtime import start_mqtt, stop_mqtt
from .storage.partitions import maintain_at_startup
from .api import errors
from .api.routes import register_router, router


def _setup(app: FastAPI) -> None:
    PROBLEM_SHAPES[errors.PREFIX] = errors.frost_shape  # error bodies FROST-Server's clients read too
    settings, db = app.state.settings, app.state.db
    install_sqlite_functions(db.engine)  # geometry and Unicode functions for $filter on SQLite
    # Single Observation POSTs arriving together share one transaction (its thread starts on first use).
    app.state.group_commit = (GroupCommit(db, max_batch=settings.sta_group_commit_max,
                                          writers=settings.sta_group_commit_writers,
                                          linger_ms=settings.sta_group_commit_linger_ms)
                              if settings.sta_group_commit else None)


def _start(app: FastAPI) -> None:
    settings, db = app.state.settings, app.state.db
    maintain_at_startup(db.engine)  # PostgreSQL: this month's Observation partitions and the next ones
    start_mqtt(app)  # no-op unless STADSLAB_MQTT_URL is set
    # partitions, retention, receipt pruning: one process of all nodes (core.leader)
    app.state.sta_maintenance = (run_as_leader(db, housekeeping.LEADER_NAME,
                                               lambda: housekeeping.maintain(db, settings),
                                               settings.maintenance_interval_seconds,
                                               poll=settings.leader_poll_seconds)
                                 if settings.maintenance_interval_seconds else None)


def _stop(app: FastAPI) -> None:
    if getattr(app.state, "sta_maintenance", None) is not None:
        app.state.sta_maintenance.stop()
    stop_mqtt(app)
    if app.state.group_commit is not None:
        app.state.group_commit.stop()


CONTRIBUTION = Contribution("sensorthings",
                            routes=(Routes(router, "/sta/v1.1", Stage.HOT),
                                    Routes(register_router, "/api/v1"),
                                    Routes(lorawan_router, "/api/v1")),
                            setup=_setup, start=_start, stop=_stop)
