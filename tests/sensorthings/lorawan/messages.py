"""Test messages written for these tests (not copies of vendor examples).

``tts_uplink`` follows the shape of a The Things Stack v3 ``uplink_message``
webhook; ``chirpstack_up`` that of a ChirpStack v4 ``up`` event (JSON
marshaler), as both are documented by their projects.
"""

from __future__ import annotations

import base64
import uuid

DEV_EUI = "70B3D57ED0051234"


def tts_uplink(decoded: dict | None = None, *, dev_eui: str = DEV_EUI, f_cnt: int = 42,
               as_up: str | None = None, received_at: str = "2024-05-01T10:00:05.123456789Z") -> dict:
    return {
        "end_device_ids": {"device_id": "luchtmeter-centrum", "application_ids": {"application_id": "stadslab"},
                           "dev_eui": dev_eui, "dev_addr": "260B1234"},
        "correlation_ids": [f"as:up:{as_up or uuid.uuid4().hex.upper()}", "gs:conn:01HX"],
        "received_at": "2024-05-01T10:00:05.400Z",
        "uplink_message": {
            "f_port": 2, "f_cnt": f_cnt, "frm_payload": base64.b64encode(b"\x00\xd7").decode(),
            "decoded_payload": {"temperature": 21.5, "humidity": 61} if decoded is None else decoded,
            "rx_metadata": [{"gateway_ids": {"gateway_id": "gw-stadhuis"}, "rssi": -97, "snr": 7.5}],
            "received_at": received_at,
        },
    }


def chirpstack_up(obj: dict | None = None, *, dev_eui: str = "0101010101010101", dedup: str | None = None,
                  time: str = "2024-05-01T10:00:05.775023242+02:00") -> dict:
    return {
        "deduplicationId": dedup or str(uuid.uuid4()),
        "time": time,
        "deviceInfo": {"tenantId": str(uuid.uuid4()), "tenantName": "Gemeente", "applicationId": str(uuid.uuid4()),
                       "applicationName": "luchtkwaliteit", "deviceProfileId": str(uuid.uuid4()),
                       "deviceProfileName": "ERS CO2", "deviceName": "ers-bibliotheek", "devEui": dev_eui,
                       "tags": {"wijk": "Centrum"}},
        "devAddr": "00189440", "adr": True, "dr": 5, "fCnt": 17, "fPort": 1, "confirmed": False,
        "data": base64.b64encode(b"\x01\x00\xd7\x02\x3d").decode(),
        "object": {"temperature": 21.5, "humidity": 61.0, "co2": 612} if obj is None else obj,
        "rxInfo": [{"gatewayId": "0016c001ff10a235", "uplinkId": 4217106255, "rssi": -36, "snr": 10.5,
                    "context": "E3OWOQ==", "metadata": {"region_common_name": "EU868"}}],
        "txInfo": {"frequency": 868100000, "modulation": {"lora": {"bandwidth": 125000, "spreadingFactor": 7,
                                                                     "codeRate": "CR_4_5"}}},
    }
