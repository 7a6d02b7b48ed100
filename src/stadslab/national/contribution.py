"""What the national view adds to the app: its API routes (the pages live in ``stadslab.web``)."""

from stadslab.core.assembly import Contribution, Routes

from .routes import router

CONTRIBUTION = Contribution("national", routes=(Routes(router, "/api/v1"),))
