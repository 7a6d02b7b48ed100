"""E-mail through an outbox: written in the transaction of the change it reports, sent after commit.

:func:`enqueue` adds a row to ``outbox_messages`` in the caller's session, so a message
exists exactly when the change that caused it was committed (a rolled-back request sends
nothing, and no SMTP call ever happens inside a request transaction). :func:`send_pending`
is the worker: it sends the messages that are due over SMTP (``STADSLAB_SMTP_HOST``,
``_PORT``, ``_FROM``, optional ``_USERNAME``/``_PASSWORD``/``_STARTTLS``) and marks them
sent; a failure is recorded and retried with exponential backoff (1, 2, 4, ... minutes,
at most :data:`MAX_BACKOFF`). When an SMTP host is configured the app runs it periodically on
one process of all nodes (a leader lease, ``governance.contribution``); ``stadslab loket send-mail``
runs it once.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from stadslab.core.database import utcnow

from .models import OutboxMessage

log = logging.getLogger("stadslab.outbox")

MAX_BACKOFF = timedelta(hours=6)
BATCH = 50


def enqueue(session: Session, recipient: str, subject: str, body: str, now: datetime | None = None) -> OutboxMessage:
    """Add a message to the outbox in ``session``'s transaction (the caller commits)."""
    now = now or utcnow()
    message = OutboxMessage(recipient=recipient, subject=subject[:300], body=body, created_at=now,
                            attempts=0, next_attempt_at=now)
    session.add(message)
    return message


def backoff(attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failure: 1, 2, 4, ... minutes, capped."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def _smtp_send(settings, message: OutboxMessage) -> None:
    mail = EmailMessage()
    mail["From"] = settings.smtp_from
    mail["To"] = message.recipient
    mail["Subject"] = message.subject
    mail.set_content(message.body)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password or "")
        smtp.send_message(mail)


def send_pending(session: Session, settings, now: datetime | None = None) -> tuple[int, int]:
    """Send the due messages; returns (sent, failed).

    One message per transaction, taken with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so the
    workers of several app processes never send the same message twice.
    """
    now = now or utcnow()
    sent = failed = 0
    for _ in range(BATCH):
        message = session.scalars(select(OutboxMessage)
                                  .where(OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at <= now)
                                  .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(1)
                                  .with_for_update(skip_locked=True)).first()
        if message is None:
            break
        message.attempts += 1
        try:
            _smtp_send(settings, message)
        except (OSError, smtplib.SMTPException) as exc:
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            message.next_attempt_at = now + backoff(message.attempts)
            failed += 1
            log.warning("outbox message %s not sent (attempt %s): %s", message.id, message.attempts, exc)
        else:
            message.sent_at, message.last_error = now, None
            sent += 1
        session.commit()
    return sent, failed
