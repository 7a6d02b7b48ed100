"""Who may do what: one rule per action, in one place.

Rights follow from the account's role (``member``, ``desk``, ``editor``, ``admin``; see
``core.auth``) and the type of its organisation (``Organisation.kind``: municipality,
company, knowledge_institution, government (ministry or national team), other). The API,
the web pages and the loket service all ask :func:`allowed` / :func:`authorize` here, so a
rule cannot differ between doors. docs/security.md shows this table; a test checks that
the two agree (tests/governance/test_rights.py).

Visibility (who may *see* a request) and permission (who may *act* on it) are separate
rules: a request the caller may not see is a 404 (hidden data stays hidden); one they see
but may not act on is a 403.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from stadslab.core.auth import NOT_PERMITTED, Principal, require_authenticated
from stadslab.core.errors import Forbidden

#: Organisation kinds (``network.models.ORGANISATION_KINDS``) as the network names them.
ORGANISATION_TYPES = {
    "municipality": "municipality",
    "company": "company",
    "knowledge_institution": "knowledge institution",
    "government": "ministry or national team",
    "other": "other",
}


@dataclass(frozen=True)
class Facts:
    """What a rule may look at besides the caller."""

    #: Kind of the caller's own organisation (None: no organisation).
    org_kind: str | None = None
    #: The organisation the item belongs to (a loket request: the submitting organisation).
    owner_org_id: int | None = None
    #: The loket team a request is routed to now.
    team: str | None = None
    #: Teams that see a request besides the current one (consulted, forwarded from).
    also_teams: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    who: str
    check: Callable[[Principal, Facts], bool]


def _admin(p: Principal) -> bool:
    return p.is_admin


def _own(p: Principal, f: Facts) -> bool:
    return p.organisation_id is not None and p.organisation_id == f.owner_org_id


def _editor_of_owner(p: Principal, f: Facts) -> bool:
    return p.role == "editor" and _own(p, f) and p.has_scope("loket:write")


def _desk_of(p: Principal, team: str | None) -> bool:
    return p.role == "desk" and p.desk_team is not None and p.desk_team == team and p.has_scope("loket:write")


RULES: dict[str, Rule] = {
    "loket.submit": Rule(
        "admin; editor of a municipality, for its own organisation",
        lambda p, f: _admin(p) or (p.role == "editor" and f.org_kind == "municipality" and _own(p, f)
                                   and p.has_scope("loket:write"))),
    "loket.view": Rule(
        "admin; member or editor of the submitting organisation; desk of the team it is routed to, "
        "consulted or forwarded from",
        lambda p, f: _admin(p) or (p.role in ("member", "editor") and _own(p, f))
        or (p.role == "desk" and p.desk_team is not None and p.desk_team in (f.team, *f.also_teams))),
    "loket.comment": Rule(
        "admin; editor of the submitting organisation; desk of the team it is routed to",
        lambda p, f: _admin(p) or _editor_of_owner(p, f) or _desk_of(p, f.team)),
    "loket.withdraw": Rule(
        "admin; editor of the submitting organisation (while still submitted)",
        lambda p, f: _admin(p) or _editor_of_owner(p, f)),
    "loket.handle": Rule(
        "admin; desk of the team it is routed to (take in review, ask for information, decide, forward)",
        lambda p, f: _admin(p) or _desk_of(p, f.team)),
    "loket.queue": Rule(
        "admin (every team); desk (its own team)",
        lambda p, f: _admin(p) or _desk_of(p, f.team)),
}


def allowed(action: str, p: Principal, facts: Facts = Facts()) -> bool:
    if p.is_anonymous:
        return False
    return RULES[action].check(p, facts)


def authorize(action: str, p: Principal, facts: Facts = Facts()) -> Principal:
    """401 for an anonymous caller, 403 when the rule of ``action`` says no."""
    require_authenticated(p)
    if not RULES[action].check(p, facts):
        raise Forbidden(NOT_PERMITTED)
    return p


def organisation_kind(session: Session, p: Principal) -> str | None:
    """The kind of the caller's organisation (one query; None without organisation)."""
    if p.organisation_id is None:
        return None
    from stadslab.network.models import Organisation

    org = session.get(Organisation, p.organisation_id)
    return org.kind if org is not None else None


def table_rows() -> list[tuple[str, str]]:
    """(action, who) for the documentation table."""
    return [(action, rule.who) for action, rule in RULES.items()]
