"""What federation adds to the app: its API routes and the harvest loop of the lifespan.

The loop is a no-op unless ``STADSLAB_FEDERATION_INTERVAL_SECONDS`` > 0.
"""

from stadslab.core.assembly import Contribution, Routes

from .routes import router
from .scheduler import start_federation, stop_federation

CONTRIBUTION = Contribution("federation", routes=(Routes(router, "/api/v1"),), start=start_federation,
                            stop=stop_federation)
