"""ChirpStack v4 HTTP integration, JSON marshaler, ``up`` events.

ChirpStack posts every event type to the one configured URL and names it in
the ``event`` query parameter; events other than ``up`` (join, status, ack,
txack, log, location, integration) carry no measurements and are acknowledged
without storing anything, so ChirpStack does not count them as failures.

Fields used: ``deduplicationId`` (one per uplink after gateway de-duplication,
repeated on redelivery: the idempotency key), ``time``,
``deviceInfo.{devEui, deviceName}``, ``fPort``, ``fCnt``, ``object`` (the
codec's decoded payload), ``rxInfo`` (gateway receptions) and
``txInfo.modulation.lora.spreadingFactor``.
"""

from __future__ import annotations

from typing import Any

from .base import Ignored, Reception, Uplink, dev_eui, invalid, need, reception, receptions, timestamp


def _receptions(body: dict) -> tuple[Reception, ...]:
    tx = body.get("txInfo") if isinstance(body.get("txInfo"), dict) else {}
    modulation = tx.get("modulation") if isinstance(tx.get("modulation"), dict) else {}
    lora = modulation.get("lora") if isinstance(modulation.get("lora"), dict) else {}
    sf = lora.get("spreadingFactor")

    def one(rx: dict) -> Reception | None:
        gid = rx.get("gatewayId")  # ChirpStack v4 names gateways by their EUI
        return reception(gid, gid, rx.get("rssi"), rx.get("snr"), sf, rx.get("gwTime") or rx.get("nsTime")
                         or body.get("time"), rx.get("location"))
    return receptions(body.get("rxInfo"), one)


class ChirpStackV4Format:
    kind = "chirpstack"

    def parse(self, body: Any, params: dict[str, str]) -> Uplink | Ignored:
        event = params.get("event", "up")
        if event != "up":
            heard = _receptions(body) if isinstance(body, dict) else ()
            return Ignored(f"ChirpStack '{event[:20]}' event carries no measurements", heard)
        if not isinstance(body, dict):
            raise invalid(["body"], "must be a JSON object (a ChirpStack v4 up event, JSON marshaler)")
        dedup = need(body, ["deduplicationId"], str)
        if not dedup.strip():
            raise invalid(["deduplicationId"], "must not be empty")
        eui = dev_eui(need(body, ["deviceInfo", "devEui"], str), ["deviceInfo", "devEui"])
        received = timestamp(need(body, ["time"], str), ["time"])
        decoded = need(body, ["object"], dict, required=False)
        if decoded is None:
            if body.get("data") is None:
                return Ignored("uplink without application payload", _receptions(body))
            raise invalid(["object"], "missing: configure a codec in the device profile")
        return Uplink(message_id=f"cs:{dedup.strip()}"[:200], dev_eui=eui, received_at=received,
                      decoded=decoded,
                      device_name=need(body, ["deviceInfo", "deviceName"], str, required=False),
                      f_port=need(body, ["fPort"], int, required=False),
                      f_cnt=need(body, ["fCnt"], int, required=False), receptions=_receptions(body))
