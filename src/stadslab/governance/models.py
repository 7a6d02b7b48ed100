"""Accounts, credentials, the audit trail and the loket (requests to the national government).

Secrets are never stored: API tokens and session ids are kept as SHA-256 hashes
of high-entropy random values, passwords as argon2id hashes.

The audit trail is append-only and hash-chained. Its rows name actors by a
pseudonym (``audit_actors``), not by user id, so that erasing a person (AVG art. 17)
unlinks their events by deleting the mapping row, without touching the chain.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (JSON, BigInteger, Boolean, Column, Date, DateTime, ForeignKey, Index, Integer, String,
                        Table, Text, UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stadslab.core.database import Base, Timestamped, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class User(Timestamped, Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("oidc_issuer", "oidc_subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Stored lower-cased, so uniqueness is case-insensitive.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    #: argon2id; None for accounts that only log in through OpenID Connect.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"),
                                                        index=True)
    role: Mapped[str] = mapped_column(String(10), default="member", index=True)
    #: For the ``desk`` role: the loket routing team whose requests this account handles (migration 0019).
    desk_team: Mapped[str | None] = mapped_column(String(40), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    oidc_issuer: Mapped[str | None] = mapped_column(String(300))
    oidc_subject: Mapped[str | None] = mapped_column(String(255))


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    #: The visible start of the secret (``stl_AbCd``), to recognise a token in lists.
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: A token belongs to a user or, for machine clients (sensor gateways), to an organisation.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                                        index=True)
    scopes: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class UserSession(Base):
    """A server-side web session: logout and account changes end it at once."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(10), default="password")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class AuditActor(Base):
    """Pseudonym of a user in the audit trail; deleting the row unlinks the person."""

    __tablename__ = "audit_actors"

    pseudonym: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), unique=True)
    #: Random; the ``audit_actor.bind`` event commits to (pseudonym, user_id, salt) (migration 0017).
    #: None: a mapping made before 0017, not bound yet (``stadslab audit bind-actors``).
    salt: Mapped[str | None] = mapped_column(String(32))


class AuditChainHead(Base):
    """The last link of one chain (``id`` is the chain number). A writer locks one head until it
    commits: writers on different chains do not wait for each other."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigId, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class AuditEvent(Base):
    __tablename__ = "audit_events"

    #: Which hash chain the event extends (migration 0015): PostgreSQL writers take any free one.
    chain: Mapped[int] = mapped_column(Integer, primary_key=True, default=1, server_default="1")
    #: Position in its chain (1, 2, 3, ... per chain).
    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    #: user | token | anonymous | system
    actor_type: Mapped[str] = mapped_column(String(10))
    #: The user's pseudonym (audit_actors); None for anonymous/system/organisation tokens.
    actor_ref: Mapped[str | None] = mapped_column(String(32), index=True)
    actor_token_id: Mapped[int | None] = mapped_column(Integer)
    organisation_id: Mapped[int | None] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(60), index=True)
    entity_type: Mapped[str] = mapped_column(String(60), index=True)
    entity_id: Mapped[str | None] = mapped_column(String(100), index=True)
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


LOKET_TYPES = ("experiment", "funding", "cooperation", "knowledge")
LOKET_TOPICS = ("mobility", "privacy", "digital", "energy", "climate", "housing", "health", "safety", "other")
#: ``needs_info``: the desk asked the submitter for more information (migration 0019).
LOKET_STATUSES = ("submitted", "in_review", "needs_info", "decided", "closed")
LOKET_DECISIONS = ("granted", "rejected")
#: What a line in a request's history is: a plain comment or a step of the workflow.
LOKET_STEP_KINDS = ("comment", "submitted", "in_review", "needs_info", "answered", "forwarded", "decided",
                    "closed", "withdrawn")

loket_exemption_labs = Table(
    "loket_exemption_labs", Base.metadata,
    Column("request_id", ForeignKey("loket_requests.id", ondelete="CASCADE"), primary_key=True),
    Column("living_lab_id", ForeignKey("living_labs.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class LoketRequest(Timestamped, Base):
    __tablename__ = "loket_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(20), index=True)
    topic: Mapped[str] = mapped_column(String(20), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    #: For an experiment: which rule the city asks room to deviate from.
    regulation: Mapped[str | None] = mapped_column(String(300))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    living_lab_id: Mapped[int | None] = mapped_column(ForeignKey("living_labs.id", ondelete="SET NULL"),
                                                      index=True)
    submitted_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                             index=True)
    #: Contact person for this request (personal data: cleared on erasure).
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    routed_to: Mapped[str] = mapped_column(String(40), index=True)
    consult: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(12), default="submitted", index=True)
    decision: Mapped[str | None] = mapped_column(String(10), index=True)
    decision_note: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decision_due: Mapped[date] = mapped_column(Date, index=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: A granted exemption holds from ``valid_from`` up to and including ``valid_until``.
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date, index=True)
    #: When the editors of its labs were told that the exemption ends soon.
    expiry_notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    comments: Mapped[list[LoketComment]] = relationship(back_populates="request", cascade="all, delete-orphan",
                                                        order_by="LoketComment.id", lazy="selectin")


class LoketComment(Base):
    __tablename__ = "loket_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("loket_requests.id", ondelete="CASCADE"), index=True)
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: ``comment`` or the workflow step this line records (LOKET_STEP_KINDS).
    kind: Mapped[str] = mapped_column(String(20), default="comment", server_default="comment")
    #: Step details, e.g. ``{"from": "bzk", "to": "ienw"}`` for a forward.
    detail: Mapped[dict | None] = mapped_column(JSON)

    request: Mapped[LoketRequest] = relationship(back_populates="comments")


class OutboxMessage(Base):
    """An e-mail to send: written in the transaction of the change it reports, sent after
    commit by :mod:`stadslab.governance.outbox`, retried with backoff until it goes out."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_pending", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
