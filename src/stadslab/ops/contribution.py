"""What operations adds to the app: the probes, /metrics and JSON logs from the start.

Its middlewares (metrics, shedding, the body read timeout) are not here: their place among
the other middlewares is part of the app's frame, so ``create_app`` lists them in order.
"""

from fastapi import FastAPI

from stadslab.core.assembly import Contribution, Routes

from .logging import configure_logging
from .routes import metrics_router, router


def _start(app: FastAPI) -> None:
    settings = app.state.settings
    configure_logging(settings.log_format, settings.log_level)  # JSON logs with request ids


CONTRIBUTION = Contribution("ops", routes=(Routes(router, "/api/v1"),  # /health/live, /health/ready
                                           Routes(metrics_router)),  # /metrics
                            start=_start)
