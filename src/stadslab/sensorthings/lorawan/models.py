"""Storage of LoRaWAN integrations, devices, field mappings and the idempotency log.

``lorawan_received`` is what makes a webhook redelivery harmless: the message
id is unique per integration and is inserted in the same transaction as the
Observations it produced, so a message is stored completely once or not at all.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (BigInteger, Boolean, DateTime, Float, ForeignKey, Integer, String,
                        UniqueConstraint, true)
from sqlalchemy.orm import Mapped, mapped_column

from stadslab.core.database import Base, Timestamped, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")
KINDS = ("tts", "chirpstack")


class LorawanIntegration(Timestamped, Base):
    __tablename__ = "lorawan_integrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    #: ``scrypt$n$r$p$salt$hash`` (base64); the secret itself is never stored.
    secret_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    #: Whose integration this is: its editors (and admins) manage it, its devices and mappings.
    owner_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True)


class LorawanDevice(Timestamped, Base):
    __tablename__ = "lorawan_devices"
    __table_args__ = (UniqueConstraint("integration_id", "dev_eui"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    integration_id: Mapped[int] = mapped_column(
        ForeignKey("lorawan_integrations.id", ondelete="CASCADE"), index=True)
    #: 16 upper-case hex digits, as both network servers can spell it differently.
    dev_eui: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(255))
    thing_id: Mapped[int] = mapped_column(ForeignKey("sta_things.id", ondelete="CASCADE"), index=True)


class LorawanFieldMapping(Base):
    __tablename__ = "lorawan_field_mappings"
    __table_args__ = (UniqueConstraint("device_id", "field"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("lorawan_devices.id", ondelete="CASCADE"), index=True)
    #: Name of a decoded payload field; dots reach into nested objects ("air.temperature").
    field: Mapped[str] = mapped_column(String(200))
    datastream_id: Mapped[int] = mapped_column(ForeignKey("sta_datastreams.id", ondelete="CASCADE"),
                                               index=True)
    #: result = value * scale + offset (both optional) — e.g. deci-degrees to degrees.
    scale: Mapped[float | None] = mapped_column(Float)
    offset: Mapped[float | None] = mapped_column(Float)


class LorawanReceived(Base):
    __tablename__ = "lorawan_received"
    __table_args__ = (UniqueConstraint("integration_id", "message_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[int] = mapped_column(
        ForeignKey("lorawan_integrations.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(200))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("lorawan_devices.id", ondelete="SET NULL"),
                                                  index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    observations: Mapped[int] = mapped_column(Integer, default=0)
