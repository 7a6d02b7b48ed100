"""What governance adds to the app: the account, token and audit routes, and the authenticator.

Core resolves every request's principal through the authenticator installed here, so that
core never imports governance (which keeps the accounts, tokens and sessions).
"""

from fastapi import FastAPI

from stadslab.core.assembly import Contribution, Routes
from stadslab.core.auth import install_authenticator

from .authn import authenticate_request
from .outbox import OutboxWorker
from .routes import router


def _setup(app: FastAPI) -> None:
    install_authenticator(app, authenticate_request)


def _start(app: FastAPI) -> None:
    """Send the e-mail outbox in the background when an SMTP host is configured."""
    settings = app.state.settings
    if settings.smtp_host:
        app.state.outbox_worker = OutboxWorker(app.state.db.session, settings, settings.outbox_interval_seconds)
        app.state.outbox_worker.start()


def _stop(app: FastAPI) -> None:
    worker = getattr(app.state, "outbox_worker", None)
    if worker is not None:
        worker.stop()


CONTRIBUTION = Contribution("governance", routes=(Routes(router, "/api/v1"),), setup=_setup, start=_start,
                            stop=_stop)
