"""Imports every capability's models so that ``Base.metadata`` is complete (Alembic, tests)."""

from stadslab.core.database import Base
from stadslab.core import node_check as cluster_node_models  # noqa: F401
from stadslab.evidence import models as evidence_models  # noqa: F401
from stadslab.federation import models as federation_models  # noqa: F401
from stadslab.governance import models as governance_models  # noqa: F401
from stadslab.infrastructure import models as infrastructure_models  # noqa: F401
from stadslab.interop import models as interop_models  # noqa: F401
from stadslab.labs import models as labs_models  # noqa: F401
from stadslab.network import models as network_models  # noqa: F401
from stadslab.search import models as search_models  # noqa: F401
from stadslab.sensorthings.model import tables as sensorthings_models  # noqa: F401
from stadslab.sensorthings.lorawan import models as lorawan_models  # noqa: F401
from stadslab.sensorthings.mqtt import receipts as ingest_receipt_models  # noqa: F401

__all__ = ["Base"]
