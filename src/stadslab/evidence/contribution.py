"""What the evidence capability adds to the app: its API routes."""

from stadslab.core.assembly import Contribution, Routes

from .routes import router

CONTRIBUTION = Contribution("evidence", routes=(Routes(router, "/api/v1"),))
