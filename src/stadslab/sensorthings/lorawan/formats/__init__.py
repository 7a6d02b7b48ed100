"""Network-server payload formats, one module each, chosen by the integration's ``kind``."""

from __future__ import annotations

from .base import Ignored, PayloadFormat, Uplink
from .chirpstack import ChirpStackV4Format
from .tts import TtsV3Format

FORMATS: dict[str, PayloadFormat] = {f.kind: f for f in (TtsV3Format(), ChirpStackV4Format())}

__all__ = ["FORMATS", "Ignored", "PayloadFormat", "Uplink"]
