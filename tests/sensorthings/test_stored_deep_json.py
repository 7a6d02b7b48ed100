"""Rows stored before the JSON bounds existed can always be read back.

The bounds (core.json_limits) keep new values out; an older row whose ``result`` or
``properties`` nests a few hundred levels deep must not turn every page, notification
or the audit list that shows it into a 500: the too-deep part is shown clipped.
"""

from __future__ import annotations

import json

from sqlalchemy import update

from stadslab.core.json_limits import CLIPPED, READ_DEPTH, depth, readable
from stadslab.sensorthings.model.tables import Observation, Thing
from tests.governance.audit_helpers import bypass_guard

from .helpers import STA, new_thing
from .test_json_bounds import client, nested  # noqa: F401  (client: answers a server error as 500)

DEEP = 600  # what the attack stored: well past orjson's 255 levels, below Python's recursion limit


def test_readable_leaves_ordinary_values_alone_and_clips_only_the_too_deep_part():
    ordinary = {"a": [1, {"b": nested(50)}]}
    assert readable(ordinary) is ordinary
    clipped = readable({"keep": 1, "deep": nested(DEEP)})
    assert clipped["keep"] == 1
    assert depth(clipped) == READ_DEPTH + 1
    inner = clipped["deep"]
    while isinstance(inner, list):
        inner = inner[0]
    assert inner == CLIPPED


def test_a_too_deep_stored_result_and_property_still_read(client, db):
    ids = new_thing(client)
    thing_id, ds = ids["thing"], ids["datastream"]
    with db.session() as s:  # as the attack left them: written past the (then missing) bounds
        s.execute(update(Observation).values(result=nested(DEEP)))
        s.execute(update(Thing).where(Thing.id == thing_id).values(properties={"x": nested(DEEP)}))
        s.commit()
    for path in ("/Things", f"/Things({thing_id})", f"/Datastreams({ds})/Observations?$orderby=phenomenonTime desc",
                 f"/Things({thing_id})?$expand=Datastreams/Observations"):
        r = client.get(STA + path)
        assert r.status_code == 200, (path, r.status_code, r.text[:200])
        assert "@stadslab.clipped" in r.text, path


def test_a_too_deep_audit_snapshot_still_lists(client, db):
    new_thing(client)
    deep = json.dumps({"properties": nested(DEEP)})
    bypass_guard(db, "UPDATE audit_events SET after = :deep", params={"deep": deep})
    r = client.get("/api/v1/audit")
    assert r.status_code == 200, r.text[:300]
    assert r.json()["items"]
    assert "@stadslab.clipped" in r.text
