"""LoRaWAN ingest: network-server webhooks (The Things Stack v3, ChirpStack v4) → STA Observations.

Each integration is one webhook endpoint with its own secret; registered devices
map decoded payload fields onto Datastreams. See docs/sensorthings.md, "LoRaWAN".
"""
