"""Real-shaped uplinks with gateway receptions, built here (modelled on The Things Stack v3 and
ChirpStack v4 webhook messages; the TTS example in ../shared/data/lorawan-examples has the same shape)."""

from __future__ import annotations

import base64
import uuid

GW_A = {"gateway_id": "gw-stadhuis", "eui": "AA555A0000000001", "lat": 52.3676, "lon": 4.9041}
GW_B = {"gateway_id": "gw-noord", "eui": "AA555A0000000002", "lat": 52.3900, "lon": 4.9200}


def tts_rx(gw: dict, rssi: float, snr: float, *, position: bool = True, time: str = "2024-05-01T10:00:05.0Z") -> dict:
    rx = {"gateway_ids": {"gateway_id": gw["gateway_id"], "eui": gw["eui"]}, "time": time, "timestamp": 2463457000,
          "rssi": rssi, "channel_rssi": rssi, "snr": snr, "uplink_token": "ChIKEAoEZ3R3MRIInFyOAAAaBcQQ6L3Vlgk=",
          "channel_index": 2}
    if position:
        rx["location"] = {"latitude": gw["lat"], "longitude": gw["lon"], "altitude": 12, "source": "SOURCE_REGISTRY"}
    return rx


def tts_uplink(dev_eui: str, lat: float, lon: float, rx: list[dict], *, f_cnt: int = 1,
               received_at: str = "2024-05-01T10:00:05.789585559Z") -> dict:
    return {
        "end_device_ids": {"device_id": "fietskoerier-1", "application_ids": {"application_id": "stadslab"},
                           "dev_eui": dev_eui, "join_eui": "800000000000000C", "dev_addr": "00BCB929"},
        "correlation_ids": [f"as:up:{uuid.uuid4().hex.upper()[:26]}", "gs:conn:01E0WDEC6T5T4XXBAX7S1VMFKE"],
        "received_at": received_at,
        "uplink_message": {
            "session_key_id": "AXA50tHUGUucuzS/bCGMNw==", "f_port": 1, "f_cnt": f_cnt,
            "frm_payload": base64.b64encode(b"\x01\x02\x03").decode(),
            "decoded_payload": {"temperature": 14.5, "latitude": lat, "longitude": lon},
            "rx_metadata": rx,
            "settings": {"data_rate": {"lora": {"bandwidth": 125000, "spreading_factor": 9}},
                         "coding_rate": "4/5", "frequency": "868300000"},
            "consumed_airtime": "0.185344s", "received_at": received_at,
        },
    }


def tts_join_accept(dev_eui: str) -> dict:
    return {"end_device_ids": {"device_id": "fietskoerier-1", "application_ids": {"application_id": "stadslab"},
                               "dev_eui": dev_eui, "dev_addr": "01497ECC"},
            "correlation_ids": ["as:up:01E191YN5F2HMBQCBCVRF731VY"], "received_at": "2024-05-01T09:59:00.9Z",
            "join_accept": {"session_key_id": "AXBSH1Pk6Z0G166RlH16CQ==", "received_at": "2024-05-01T09:59:00.7Z"}}


def tts_downlink(kind: str) -> dict:
    return {"end_device_ids": {"device_id": "fietskoerier-1", "application_ids": {"application_id": "stadslab"}},
            "correlation_ids": ["as:downlink:01E19Z5W3BZBG7CXSJE9C0A3CE"],
            kind: {"f_port": 15, "frm_payload": "vu8=", "confirmed": True, "priority": "NORMAL"}}


def chirpstack_up(dev_eui: str, lat: float, lon: float, rx: list[dict], *, sf: int = 10,
                  time: str = "2024-05-02T10:00:05.775023242+02:00") -> dict:
    return {
        "deduplicationId": str(uuid.uuid4()), "time": time,
        "deviceInfo": {"tenantId": str(uuid.uuid4()), "tenantName": "Gemeente", "applicationId": str(uuid.uuid4()),
                       "applicationName": "mobiliteit", "deviceProfileId": str(uuid.uuid4()),
                       "deviceProfileName": "GPS tracker", "deviceName": "fietskoerier-1", "devEui": dev_eui},
        "devAddr": "00189440", "adr": True, "dr": 2, "fCnt": 17, "fPort": 1, "confirmed": False,
        "data": base64.b64encode(b"\x01\x00").decode(),
        "object": {"temperature": 15.0, "gps": {"lat": lat, "lon": lon}},
        "rxInfo": rx,
        "txInfo": {"frequency": 868100000, "modulation": {"lora": {"bandwidth": 125000, "spreadingFactor": sf,
                                                                     "codeRate": "CR_4_5"}}},
    }


def chirpstack_rx(gw: dict, rssi: float, snr: float) -> dict:
    return {"gatewayId": gw["eui"].lower(), "uplinkId": 4217106255, "rssi": rssi, "snr": snr,
            "location": {"latitude": gw["lat"], "longitude": gw["lon"], "altitude": 8},
            "context": "E3OWOQ==", "metadata": {"region_common_name": "EU868"}}
