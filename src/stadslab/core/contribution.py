"""What core adds to the app besides its frame (error handlers, middlewares): the platform health route."""

from stadslab.core.assembly import Contribution, Routes
from stadslab.core.routes import router

CONTRIBUTION = Contribution("core", routes=(Routes(router, "/api/v1"),))
