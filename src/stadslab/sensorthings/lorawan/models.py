"""Storage of LoRaWAN integrations, devices, field mappings, the idempotency log, and the gateway
receptions every stored uplink carries (gateways heard, one row per receiving gateway).

``lorawan_received`` is what makes a webhook redelivery harmless: the message
id is unique per integration and is inserted in the same transaction as the
Observations it produced, so a message is stored completely once or not at all.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, String,
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


class LorawanGateway(Base):
    """A gateway heard in traffic: what the network servers reported about it, nothing more.

    Keyed by its EUI where the network server gives one (ChirpStack always does; The Things
    Stack when the gateway registered it), else by the gateway id. The register
    (``stadslab.infrastructure``) shows it as an *observed* LoRaWAN gateway until an owner
    claims and describes it.
    """

    __tablename__ = "lorawan_gateways"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    gateway_id: Mapped[str] = mapped_column(String(100))
    eui: Mapped[str | None] = mapped_column(String(16), index=True)
    #: Last reported position (WGS 84); None while the gateway reports none.
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: Stored uplinks it received; other messages (joins, downlink reports) it took part in.
    uplinks_heard: Mapped[int] = mapped_column(Integer, default=0)
    messages_heard: Mapped[int] = mapped_column(Integer, default=0)
    #: Receptions with impossible values (never stored as coverage).
    rejected: Mapped[int] = mapped_column(Integer, default=0)


class LorawanReception(Base):
    """One gateway's reception of one stored uplink, written in the uplink's transaction.

    No device identifier is kept here: the device is reachable only through ``received_id``
    (internal). The device position is the one the public may see: coarsened by its Thing's
    precision rules; ``cell`` is the H3 cell of that position (``CELL_RESOLUTION``).
    """

    __tablename__ = "lorawan_receptions"
    __table_args__ = (Index("ix_lorawan_receptions_cell_time", "cell", "time"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    received_id: Mapped[int] = mapped_column(ForeignKey("lorawan_received.id", ondelete="CASCADE"), index=True)
    gateway_ref: Mapped[int] = mapped_column(ForeignKey("lorawan_gateways.id", ondelete="CASCADE"), index=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rssi: Mapped[float] = mapped_column(Float)
    snr: Mapped[float | None] = mapped_column(Float)
    spreading_factor: Mapped[int | None] = mapped_column(Integer)
    device_latitude: Mapped[float | None] = mapped_column(Float)
    device_longitude: Mapped[float | None] = mapped_column(Float)
    cell: Mapped[str | None] = mapped_column(String(16))
