"""Digital infrastructure: the register of assets (gateways, 5G sites, fibre, Wi-Fi), LoRaWAN
coverage learned from real uplinks, coverage per neighbourhood, and the joint investment agenda."""
