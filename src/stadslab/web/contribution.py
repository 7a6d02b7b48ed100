"""What the web interface adds to the app: ``/static`` and the page routers after the API, and the
HTML error pages.

Pages call the registry and search services in-process with their own session
(never over HTTP). Everything works without JavaScript; the scripts in
``static/js`` only enhance (map, chart, facet auto-submit).
"""

from __future__ import annotations

from fastapi.staticfiles import StaticFiles

from stadslab.core.assembly import Contribution, Routes, Stage

from .account import router as account_router
from .api_docs import router as api_docs_router
from .admin import router as admin_router
from .agenda import router as agenda_router
from .editing import router as editing_router
from .errors import install_html_errors
from .inbox import router as inbox_router
from .lab_forms import router as lab_forms_router
from .infrastructure import router as infrastructure_router
from .registry_forms import router as registry_forms_router
from .sensor_forms import router as sensor_forms_router
from .loket import router as loket_router
from .national import router as national_router
from .pages import router as pages_router
from .profiles import router as profiles_router
from .rendering import STATIC_DIR
from .sensors import router as sensors_router

# lab_forms and registry_forms before profiles and national: /labs/nieuw, /oplossingen/nieuw, /coalities/nieuw
_PAGES = (pages_router, lab_forms_router, registry_forms_router, profiles_router, account_router, admin_router,
          editing_router, sensors_router, agenda_router, loket_router, inbox_router, sensor_forms_router,
          national_router, infrastructure_router, api_docs_router)

CONTRIBUTION = Contribution(
    "web",
    routes=(Routes(StaticFiles(directory=STATIC_DIR, check_dir=True), "/static", Stage.OUTSIDE_API, name="static"),
            *(Routes(router, stage=Stage.OUTSIDE_API) for router in _PAGES)),
    setup=install_html_errors,  # wraps the core's error handlers: HTML pages for browsers on web paths
)
