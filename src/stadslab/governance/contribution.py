"""What governance adds to the app: the account, token and audit routes, and the authenticator.

Core resolves every request's principal through the authenticator installed here, so that
core never imports governance (which keeps the accounts, tokens and sessions).
"""

from fastapi import FastAPI

from stadslab.core.assembly import Contribution, Routes
from stadslab.core.auth import install_authenticator
from stadslab.core.leader import run_as_leader

from .authn import authenticate_request
from .routes import router


def _setup(app: FastAPI) -> None:
    install_authenticator(app, authenticate_request)


AUDIT_HEAD_LEADER = "audit-head-export"
OUTBOX_LEADER = "email-outbox"


def _start(app: FastAPI) -> None:
    """Periodic work, each job on one process of all nodes (``core.leader``):
    the e-mail outbox when an SMTP host is configured, and with ``STADSLAB_AUDIT_HEAD_EXPORT_DIR``
    the export of the audit chain head."""
    settings, db = app.state.settings, app.state.db
    app.state.governance_loops = []
    if settings.smtp_host:
        from .outbox import send_pending

        def send() -> None:
            with db.session() as session:
                send_pending(session, settings)

        app.state.governance_loops.append(run_as_leader(db, OUTBOX_LEADER, send, settings.outbox_interval_seconds,
                                                        poll=settings.leader_poll_seconds))
    if settings.audit_head_export_dir:
        from .audit import export_head_to

        def export() -> None:
            with db.session() as session:
                export_head_to(settings.audit_head_export_dir, session,
                               settings.audit_head_key or settings.secret_key)

        app.state.governance_loops.append(run_as_leader(db, AUDIT_HEAD_LEADER, export,
                                                        settings.audit_head_export_interval_seconds,
                                                        poll=settings.leader_poll_seconds))


def _stop(app: FastAPI) -> None:
    for loop in getattr(app.state, "governance_loops", []):
        loop.stop()


CONTRIBUTION = Contribution("governance", routes=(Routes(router, "/api/v1"),), setup=_setup,
                            start=_start, stop=_stop)
