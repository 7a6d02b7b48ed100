"""The Things Stack v3 webhook uplink messages (``uplink_message``).

Fields used: ``end_device_ids.dev_eui`` / ``device_id``, ``received_at``,
``correlation_ids``, ``uplink_message.{f_port, f_cnt, decoded_payload,
received_at}``. The measurements come from ``decoded_payload``, which exists
when the application or device has a payload formatter.

Idempotency key: the ``as:up:`` correlation id, which The Things Stack gives
each uplink once and repeats on every redelivery. Without one, the DevEUI, the
frame counter and the network-server receive time together; the time is part
of it because frame counters restart when a device rejoins.
"""

from __future__ import annotations

from typing import Any

from .base import Ignored, Uplink, dev_eui, invalid, need, timestamp


class TtsV3Format:
    kind = "tts"

    def parse(self, body: Any, params: dict[str, str]) -> Uplink | Ignored:
        if not isinstance(body, dict):
            raise invalid(["body"], "must be a JSON object (a The Things Stack v3 message)")
        if "uplink_message" not in body:
            others = [k for k in ("join_accept", "downlink_queued", "downlink_sent", "downlink_ack",
                                  "downlink_nack", "downlink_failed", "service_data", "location_solved")
                      if k in body]
            hint = f" (this is a {others[0]} message; point only uplink messages at this webhook)" if others else ""
            raise invalid(["uplink_message"], "required: not an uplink message" + hint)
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
                return Ignored("uplink without application payload")
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
                      f_port=need(body, ["uplink_message", "f_port"], int, required=False), f_cnt=f_cnt)
