"""The Things Stack v3 webhook uplink messages (``uplink_message``).

Fields used: ``end_device_ids.dev_eui`` / ``device_id``, ``received_at``,
``correlation_ids``, ``uplink_message.{f_port, f_cnt, decoded_payload,
received_at, rx_metadata, settings.data_rate.lora.spreading_factor}``. Join-accept,
downlink and service-data messages sent to the same webhook are acknowledged as
ignored (like ChirpStack's other events); gateway receptions they carry are kept. The measurements come from ``decoded_payload``, which exists
when the application or device has a payload formatter.

Idempotency key: the ``as:up:`` correlation id, which The Things Stack gives
each uplink once and repeats on every redelivery. Without one, the DevEUI, the
frame counter and the network-server receive time together; the time is part
of it because frame counters restart when a device rejoins.
"""

from __future__ import annotations

from typing import Any

from .base import Ignored, Reception, Uplink, dev_eui, invalid, need, reception, receptions, timestamp

#: Messages The Things Stack may send to the same webhook that carry no measurements.
OTHER_MESSAGES = ("join_accept", "downlink_ack", "downlink_nack", "downlink_sent", "downlink_failed",
                  "downlink_queued", "downlink_queue_invalidated", "service_data", "location_solved")


def _spreading(up: dict) -> int | None:
    settings = up.get("settings")
    rate = settings.get("data_rate") if isinstance(settings, dict) else None
    lora = rate.get("lora") if isinstance(rate, dict) else None
    return lora.get("spreading_factor") if isinstance(lora, dict) else None


def _receptions(up: dict) -> tuple[Reception, ...]:
    sf = _spreading(up)

    def one(rx: dict) -> Reception | None:
        ids = rx.get("gateway_ids") if isinstance(rx.get("gateway_ids"), dict) else {}
        return reception(ids.get("gateway_id"), ids.get("eui"), rx.get("rssi", rx.get("channel_rssi")),
                         rx.get("snr"), sf, rx.get("time") or rx.get("received_at"), rx.get("location"))
    return receptions(up.get("rx_metadata"), one)


class TtsV3Format:
    kind = "tts"

    def parse(self, body: Any, params: dict[str, str]) -> Uplink | Ignored:
        if not isinstance(body, dict):
            raise invalid(["body"], "must be a JSON object (a The Things Stack v3 message)")
        if "uplink_message" not in body:
            others = [k for k in OTHER_MESSAGES if k in body]
            if others:
                inner = body[others[0]]
                heard = _receptions(inner) if isinstance(inner, dict) else ()
                return Ignored(f"The Things Stack '{others[0]}' message carries no measurements", heard)
            raise invalid(["uplink_message"], "required: not an uplink message (nor a join-accept, downlink "
                          "or service-data message)")
        up = need(body, ["uplink_message"], dict)
        eui = dev_eui(need(body, ["end_device_ids", "dev_eui"], str), ["end_device_ids", "dev_eui"])
        ns_time = need(body, ["uplink_message", "received_at"], str, required=False)
        if ns_time is not None:
            received = timestamp(ns_time, ["uplink_message", "received_at"])
        else:
            received = timestamp(need(body, ["received_at"], str), ["received_at"])
        f_cnt = need(body, ["uplink_message", "f_cnt"], int, required=False)
        decoded = need(body, ["uplink_message", "decoded_payload"], dict, required=False)
        if decoded is None:
            if up.get("frm_payload") is None:
                return Ignored("uplink without application payload", _receptions(up))
            raise invalid(["uplink_message", "decoded_payload"],
                          "missing: configure a payload formatter for this device or application")
        correlation = need(body, ["correlation_ids"], list, required=False) or []
        as_up = next((c for c in correlation if isinstance(c, str) and c.startswith("as:up:")), None)
        if as_up is not None:
            message_id = f"tts:{as_up}"
        else:
            message_id = f"tts:{eui}:{f_cnt if f_cnt is not None else '-'}:{received.isoformat()}"
        return Uplink(message_id=message_id[:200], dev_eui=eui, received_at=received, decoded=decoded,
                      device_name=need(body, ["end_device_ids", "device_id"], str, required=False),
                      f_port=need(body, ["uplink_message", "f_port"], int, required=False), f_cnt=f_cnt,
                      receptions=_receptions(up))
