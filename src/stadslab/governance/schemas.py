"""API shapes of governance: login, accounts, tokens, audit, loket, privacy."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from stadslab.core.json_limits import readable
from stadslab.core.schemas import InputModel, OutputModel

AccountRole = Literal["member", "desk", "editor", "admin"]
Scope = Literal["registry:write", "sta:write", "sta:read", "loket:write", "admin"]


class LoginIn(InputModel):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class MeOut(OutputModel):
    id: int | None
    email: str | None = None
    display_name: str | None = None
    role: str
    organisation_id: int | None
    scopes: list[str]
    via: str
    #: Send this value in the X-CSRF-Token header on cookie-authenticated writes.
    csrf_token: str | None = None


class UserIn(InputModel):
    email: str = Field(min_length=3, max_length=254)
    display_name: str = Field(default="", max_length=200)
    password: str | None = Field(default=None, max_length=1024)
    organisation_id: int | None = None
    role: AccountRole = "member"
    #: For role ``desk``: the loket routing team (GET /api/v1/loket/routing lists them).
    desk_team: str | None = Field(default=None, max_length=40)


class UserPatch(InputModel):
    """Fields left out stay as they are. An account always has a name, a role and an active flag,
    so ``null`` is refused for those (a 422 naming the field, not the database's NOT NULL);
    ``organisation_id: null`` detaches the account from its organisation."""

    display_name: str = Field(default=None, max_length=200)  # type: ignore[assignment]
    role: AccountRole = None  # type: ignore[assignment]
    organisation_id: int | None = None
    desk_team: str | None = Field(default=None, max_length=40)
    active: bool = None  # type: ignore[assignment]


class PasswordIn(InputModel):
    password: str = Field(min_length=1, max_length=1024)


class UserOut(OutputModel):
    id: int
    email: str
    display_name: str
    role: str
    organisation_id: int | None
    desk_team: str | None = None
    active: bool
    locked_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime


class TokenIn(InputModel):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1, max_length=10)
    expires_in_days: int | None = Field(default=None, description="1..366, default 90")
    user_id: int | None = None
    organisation_id: int | None = None


class TokenOut(OutputModel):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    user_id: int | None
    organisation_id: int | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenCreated(TokenOut):
    #: The secret, shown once. Send it as ``Authorization: Bearer <token>``.
    token: str


class AuditEventOut(OutputModel):
    chain: int = 1
    seq: int
    at: datetime
    actor_type: str
    actor_ref: str | None
    actor_token_id: int | None
    organisation_id: int | None
    action: str
    entity_type: str
    entity_id: str | None
    before: Any = None
    after: Any = None
    request_id: str | None
    prev_hash: str
    hash: str

    @field_validator("before", "after", mode="plain")
    @classmethod
    def _readable(cls, value: Any) -> Any:
        # A snapshot stored before the JSON bounds may nest too deep to serialise; the
        # event itself can never be removed, so it is shown clipped (core.json_limits.readable).
        return readable(value)


class VerifyOut(OutputModel):
    ok: bool
    #: the first broken chain (migration 0015: PostgreSQL keeps several) and the position in it
    first_bad_chain: int | None = None
    first_bad_seq: int | None
    events: int
    #: every actor mapping matches its binding event (migration 0017); the first that does not
    actors_ok: bool = True
    first_bad_actor: str | None = None
    #: mappings from before 0017 that are not bound yet (``stadslab audit bind-actors``)
    unbound_actors: int = 0


# --- loket -------------------------------------------------------------------------------------

LoketType = Literal["experiment", "funding", "cooperation", "knowledge"]
LoketTopic = Literal["mobility", "privacy", "digital", "energy", "climate", "housing", "health", "safety", "other"]
LoketStatus = Literal["submitted", "in_review", "needs_info", "decided", "closed"]


class LoketRequestIn(InputModel):
    type: LoketType
    topic: LoketTopic = "other"
    title: str = Field(min_length=3, max_length=300)
    description: str = Field(default="", max_length=20_000)
    regulation: str | None = Field(default=None, max_length=300,
                                   description="For an experiment: the rule the city asks room to deviate from")
    living_lab_id: int | None = None
    contact_name: str | None = Field(default=None, max_length=200)
    contact_email: str | None = Field(default=None, max_length=254)
    #: Admins may submit on behalf of an organisation; others submit for their own.
    organisation_id: int | None = None


class TransitionIn(InputModel):
    status: LoketStatus
    decision: Literal["granted", "rejected"] | None = None
    #: With needs_info: the question to the submitter (required). With decided: the reasons.
    note: str | None = Field(default=None, max_length=20_000)
    #: Granting an experiment (an exemption): the validity period, required, and the labs it
    #: applies to (default: the request's lab).
    valid_from: date | None = None
    valid_until: date | None = None
    living_lab_ids: list[int] | None = Field(default=None, max_length=100)


class ForwardIn(InputModel):
    team: str = Field(min_length=1, max_length=40, description="A team of GET /api/v1/loket/routing")
    note: str | None = Field(default=None, max_length=20_000)


class CommentIn(InputModel):
    body: str = Field(min_length=1, max_length=10_000)


class CommentOut(OutputModel):
    id: int
    author_user_id: int | None
    body: str
    created_at: datetime
    #: ``comment`` or the step it records: in_review, needs_info, answered, forwarded, decided, closed, withdrawn.
    kind: str = "comment"
    detail: dict | None = None


class LoketRequestOut(OutputModel):
    id: int
    type: str
    topic: str
    title: str
    description: str
    regulation: str | None
    organisation_id: int
    living_lab_id: int | None
    submitted_by_user_id: int | None
    contact_name: str | None
    contact_email: str | None
    routed_to: str
    routed_to_name: str
    consult: list[str]
    status: str
    decision: str | None
    decision_note: str | None
    submitted_at: datetime
    decision_due: date
    decided_at: datetime | None
    closed_at: datetime | None
    overdue: bool
    valid_from: date | None = None
    valid_until: date | None = None
    #: The labs a granted exemption applies to.
    exemption_lab_ids: list[int] = []
    comments: list[CommentOut] = []


class ExemptionOut(OutputModel):
    """A granted room-to-experiment (experimenteerruimte), public."""

    id: int
    title: str
    topic: str
    regulation: str | None
    decision_note: str | None
    decided_at: datetime | None
    organisation_id: int
    organisation_name: str | None
    living_lab_id: int | None
    living_lab_name: str | None
    routed_to: str
    routed_to_name: str
    valid_from: date | None = None
    valid_until: date | None = None
    expired: bool = False
    #: Every lab the exemption applies to ({"id", "name"}); living_lab_id/name: the first.
    living_labs: list[dict] = []
