"""What infrastructure adds to the app: its API routes (and, through interop, its OGC API
collections, exports and catalogue entry)."""

from stadslab.core.assembly import Contribution, Routes

from . import publishing
from .routes import router

publishing.register()

CONTRIBUTION = Contribution("infrastructure", routes=(Routes(router, "/api/v1"),))
