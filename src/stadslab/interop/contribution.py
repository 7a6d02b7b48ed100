"""What interop adds to the app: the exchange formats under /api/v1 and OGC API Features at /ogcapi."""

from stadslab.core.assembly import Contribution, Routes, Stage

from .ogcapi import router as ogcapi_router
from .routes import router

CONTRIBUTION = Contribution("interop", routes=(Routes(router, "/api/v1"),
                                               Routes(ogcapi_router, "/ogcapi", Stage.OUTSIDE_API)))
