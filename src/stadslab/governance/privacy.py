"""AVG/GDPR tooling: sensor data retention, access (art. 15) and erasure (art. 17).

Retention: a Thing that processes personal data must state a retention period in
its sensor-register record (``properties.register.retention``, free text such as
"30 dagen", "4 weeks" or ISO 8601 "P30D"). ``enforce_retention`` deletes that
Thing's Observations whose phenomenon time ended before now − retention. Periods
that cannot be read are reported (by Thing id), never guessed. Only counts are logged.

Erasure keeps the audit trail verifiable: audit events name actors by pseudonym,
so deleting the pseudonym mapping unlinks the person's events without changing a
single hashed byte. Loket requests and comments are records of a public body
(Archiefwet; AVG art. 17(3)(b)): they stay, but lose the link to the person and
the contact fields.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from stadslab.core.auth import SYSTEM, Principal, require_role
from stadslab.core.database import lift_statement_timeout, utcnow
from stadslab.core.errors import Forbidden, NotFound
from stadslab.core.unit_of_work import commit

from . import audit
from .models import ApiToken, AuditActor, AuditEvent, LoketComment, LoketRequest, User, UserSession

log = logging.getLogger("stadslab.privacy")

_UNIT_DAYS = {
    "h": 1 / 24, "hour": 1 / 24, "hours": 1 / 24, "uur": 1 / 24, "uren": 1 / 24,
    "d": 1, "day": 1, "days": 1, "dag": 1, "dagen": 1,
    "w": 7, "week": 7, "weeks": 7, "weken": 7,
    "month": 30, "months": 30, "maand": 30, "maanden": 30,
    "y": 365, "year": 365, "years": 365, "jaar": 365, "jaren": 365,
}
_TEXT_RE = re.compile(r"(\d+)\s*(" + "|".join(sorted(_UNIT_DAYS, key=len, reverse=True)) + r")\b", re.I)
_ISO_RE = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$", re.I)


def parse_retention(text: str | None) -> timedelta | None:
    """A retention period from register text; None when it cannot be read unambiguously.

    A month counts as 30 days and a year as 365.
    """
    if not text or not isinstance(text, str):
        return None
    s = text.strip()
    iso = _ISO_RE.match(s)
    if iso and any(iso.groups()):
        y, mo, w, d, h, mi = (int(g or 0) for g in iso.groups())
        return timedelta(days=365 * y + 30 * mo + 7 * w + d, hours=h, minutes=mi)
    matches = _TEXT_RE.findall(s)
    if len(matches) != 1:
        return None
    number, unit = matches[0]
    return timedelta(days=int(number) * _UNIT_DAYS[unit.lower()])


@dataclass
class RetentionReport:
    things_checked: int = 0
    observations_deleted: int = 0
    deleted_per_thing: dict[int, int] = field(default_factory=dict)
    unreadable_retention: list[int] = field(default_factory=list)
    #: The platform-wide retention (``STADSLAB_OBSERVATION_RETENTION_DAYS``), when one was applied.
    platform: object | None = None  # sensorthings.retention.ObservationRetentionReport


def enforce_retention(session: Session, now: datetime | None = None, *, dry_run: bool = False,
                      observation_retention_days: int | None = None) -> RetentionReport:
    """Per-Thing personal-data retention; first the platform-wide one when ``observation_retention_days``
    is given (whole partitions dropped, see ``sensorthings.retention``), all in one transaction."""
    from stadslab.sensorthings.model.tables import Datastream, MultiDatastream, Observation, Thing
    from stadslab.sensorthings.storage.retention import enforce_observation_retention

    now = now or utcnow()
    lift_statement_timeout(session)  # maintenance, also when an admin starts it over HTTP
    report = RetentionReport()
    if observation_retention_days is not None:
        report.platform = enforce_observation_retention(session, observation_retention_days, now,
                                                        dry_run=dry_run)
    things = session.execute(select(Thing.id, Thing.register).where(Thing.processes_personal_data.is_(True))
                             .order_by(Thing.id)).all()
    for thing_id, register in things:
        report.things_checked += 1
        period = parse_retention((register or {}).get("retention"))
        if period is None:
            report.unreadable_retention.append(thing_id)
            continue
        cutoff = now - period
        streams = or_(
            Observation.datastream_id.in_(select(Datastream.id).where(Datastream.thing_id == thing_id)),
            Observation.multi_datastream_id.in_(select(MultiDatastream.id)
                                                .where(MultiDatastream.thing_id == thing_id)))
        too_old = func.coalesce(Observation.phenomenon_time_end, Observation.phenomenon_time_start) < cutoff
        if dry_run:
            n = session.scalar(select(func.count()).select_from(Observation).where(streams, too_old)) or 0
        else:
            n = session.execute(delete(Observation).where(streams, too_old)
                                .execution_options(synchronize_session=False)).rowcount or 0
            if n:
                audit.record(session, SYSTEM, "privacy.retention", "thing", thing_id, None,
                             {"observations_deleted": n, "cutoff": cutoff})
        if n:
            report.deleted_per_thing[thing_id] = n
        report.observations_deleted += n
    if not dry_run:
        commit(session, "Retention could not be enforced")
    log.info("retention%s: %d observation(s) %s across %d thing(s) with personal data; %d unreadable period(s)",
             " (dry run)" if dry_run else "", report.observations_deleted,
             "would be deleted" if dry_run else "deleted", report.things_checked, len(report.unreadable_retention))
    return report


# --- data subject rights -------------------------------------------------------------------------

def _authorise(session: Session, p: Principal, user_id: int) -> User:
    """Admins of the person's organisation, or platform admins (no organisation)."""
    require_role(p, "admin")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} does not exist")
    if p.organisation_id is not None and p.organisation_id != user.organisation_id:
        raise Forbidden("Only administrators of the person's own organisation can do this")
    return user


def _plain(obj, columns: tuple[str, ...]) -> dict:
    return {c: getattr(obj, c) for c in columns}


def collect(session: Session, user: User) -> dict:
    """Everything the platform holds about one person (art. 15)."""
    pseudonym = audit.pseudonym_for(session, user.id, create=False)
    events = []
    if pseudonym:
        rows = session.execute(select(AuditEvent.__table__).where(AuditEvent.actor_ref == pseudonym)
                               .order_by(AuditEvent.seq)).mappings()
        events = [{k: r[k] for k in ("seq", "at", "action", "entity_type", "entity_id", "request_id")} for r in rows]
    requests = session.scalars(select(LoketRequest).where(or_(LoketRequest.submitted_by_user_id == user.id,
                                                              LoketRequest.contact_email == user.email))
                               .order_by(LoketRequest.id)).all()
    comments = session.scalars(select(LoketComment).where(LoketComment.author_user_id == user.id)
                               .order_by(LoketComment.id)).all()
    tokens = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)).all()
    sessions = session.scalars(select(UserSession).where(UserSession.user_id == user.id)).all()
    return {
        "account": _plain(user, ("id", "email", "display_name", "organisation_id", "role", "active", "created_at",
                                 "updated_at", "last_login_at", "failed_logins", "locked_until", "oidc_issuer",
                                 "oidc_subject")),
        "api_tokens": [_plain(t, ("id", "name", "prefix", "scopes", "created_at", "expires_at", "revoked_at",
                                  "last_used_at")) for t in tokens],
        "sessions": [_plain(s, ("method", "created_at", "expires_at")) for s in sessions],
        "loket_requests": [_plain(r, ("id", "type", "topic", "title", "description", "status", "decision",
                                      "contact_name", "contact_email", "submitted_at")) for r in requests],
        "loket_comments": [_plain(c, ("id", "request_id", "body", "created_at")) for c in comments],
        "audit_events": events,
        "audit_pseudonym": pseudonym,
    }


def export_person(session: Session, p: Principal, user_id: int) -> dict:
    user = _authorise(session, p, user_id) if p.user_id != user_id else session.get(User, user_id)
    data = collect(session, user)
    audit.record(session, p, "privacy.export", "user", user.id, None, None)
    commit(session, "Export could not be recorded")
    return data


def erase_person(session: Session, p: Principal, user_id: int) -> dict:
    """Erase a person (art. 17): account, sessions, tokens; unlink loket records and audit events."""
    user = _authorise(session, p, user_id)
    if p.user_id == user.id:
        raise Forbidden("Administrators cannot erase their own account; ask another administrator")
    email = user.email
    counts = {
        "loket_requests_unlinked": session.execute(
            update(LoketRequest).where(or_(LoketRequest.submitted_by_user_id == user.id,
                                           LoketRequest.contact_email == email))
            .values(submitted_by_user_id=None, contact_name=None, contact_email=None)
            .execution_options(synchronize_session=False)).rowcount,
        "loket_comments_unlinked": session.execute(
            update(LoketComment).where(LoketComment.author_user_id == user.id).values(author_user_id=None)
            .execution_options(synchronize_session=False)).rowcount,
        "api_tokens_deleted": session.execute(delete(ApiToken).where(ApiToken.user_id == user.id)).rowcount,
        "sessions_deleted": session.execute(delete(UserSession).where(UserSession.user_id == user.id)).rowcount,
        "audit_pseudonyms_unlinked": session.execute(
            delete(AuditActor).where(AuditActor.user_id == user.id)).rowcount,
    }
    session.execute(update(ApiToken).where(ApiToken.created_by_user_id == user.id).values(created_by_user_id=None))
    session.delete(user)
    session.flush()
    audit.record(session, p, "privacy.erase", "user", user_id, None, counts)
    commit(session, "Erasure failed; nothing was changed")
    log.info("erasure of user %s completed: %s", user_id, counts)
    return counts
