"""OGC SensorThings API 1.1, mounted at /sta/v1.1 (being built)."""

from fastapi import APIRouter

router = APIRouter(tags=["sensorthings"])
