"""Who may write what in the SensorThings hub: every write endpoint × role, organisation rules,
ownership, shared entities, the development setting ``anonymous_writes``, and the audit trail."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from stadslab.app import create_app
from stadslab.core.config import Settings
from stadslab.governance import audit
from stadslab.sensorthings.model.tables import Datastream, Thing
from tests.governance.factories import auth_headers, make_organisation, make_token, make_user

from .helpers import STA, datastream, full_thing, location, sensor, thing

ROLES = ("anonymous", "member", "readonly-token", "editor", "other-editor", "admin")
#: status of a permitted write per role; None: the write's own success status
MAY_WRITE = {"anonymous": 401, "member": 403, "readonly-token": 403, "editor": None, "other-editor": 403,
             "admin": None}


@dataclass
class Actors:
    own: int
    other: int
    headers: dict[str, dict[str, str]]


@pytest.fixture
def actors(db) -> Actors:
    with db.session() as s:
        own, other = make_organisation(s), make_organisation(s)
        headers = {"anonymous": {}}
        for name, role, org in (("member", "member", own), ("editor", "editor", own),
                                ("other-editor", "editor", other), ("admin", "admin", None)):
            headers[name] = auth_headers(make_token(s, make_user(s, role, org, password=None)))
        readonly = make_token(s, make_user(s, "editor", own, password=None), scopes=["sta:read"])
        headers["readonly-token"] = auth_headers(readonly)
        return Actors(own.id, other.id, headers)


@dataclass
class Target:
    thing: int
    datastream: int
    observation: int
    location: int
    sensor: int


def make_target(client, actors: Actors, access_class: str = "network") -> Target:
    """A Thing of the ``own`` organisation, made by the administrator."""
    body = full_thing(properties={"register": {"access_class": access_class,
                                               "owner": {"organisation_id": actors.own}}})
    r = client.post(f"{STA}/Things", json=body, headers=actors.headers["admin"])
    assert r.status_code == 201, r.text
    tid = r.json()["@iot.id"]
    admin = actors.headers["admin"]
    ds = client.get(f"{STA}/Things({tid})/Datastreams", params={"$expand": "Sensor"}, headers=admin).json()["value"][0]
    obs = client.get(f"{STA}/Datastreams({ds['@iot.id']})/Observations", headers=admin).json()["value"][0]
    loc = client.get(f"{STA}/Things({tid})/Locations", headers=admin).json()["value"][0]
    return Target(tid, ds["@iot.id"], obs["@iot.id"], loc["@iot.id"], ds["Sensor"]["@iot.id"])


def _batch(path: str, body: dict) -> dict:
    return {"requests": [{"id": "w", "method": "POST", "url": path, "body": body}]}


#: name -> (method, path, body or None, success status, extra headers)
Operation = Callable[[Target], tuple[str, str, object, int, dict]]
OPERATIONS: dict[str, Operation] = {
    "create Thing": lambda t: ("POST", "Things", thing(), 201, {}),
    "PATCH Thing": lambda t: ("PATCH", f"Things({t.thing})", {"description": "bijgewerkt"}, 200, {}),
    "PUT Thing": lambda t: ("PUT", f"Things({t.thing})", {"name": "n", "description": "d"}, 200, {}),
    "JSON-Patch Thing": lambda t: ("PATCH", f"Things({t.thing})",
                                   [{"op": "replace", "path": "/description", "value": "jp"}], 200,
                                   {"content-type": "application/json-patch+json"}),
    "DELETE Thing": lambda t: ("DELETE", f"Things({t.thing})", None, 200, {}),
    "POST Things(id)/Datastreams": lambda t: ("POST", f"Things({t.thing})/Datastreams", datastream(), 201, {}),
    "POST Datastream linking the Thing": lambda t: ("POST", "Datastreams",
                                                    datastream(Thing={"@iot.id": t.thing}), 201, {}),
    "POST Observation linking the Datastream": lambda t: (
        "POST", "Observations", {"result": 1, "Datastream": {"@iot.id": t.datastream}}, 201, {}),
    "POST Datastreams(id)/Observations": lambda t: ("POST", f"Datastreams({t.datastream})/Observations",
                                                    {"result": 2}, 201, {}),
    "PATCH Datastream": lambda t: ("PATCH", f"Datastreams({t.datastream})", {"name": "nieuw"}, 200, {}),
    "DELETE Observation": lambda t: ("DELETE", f"Observations({t.observation})", None, 200, {}),
    "PATCH Location of the Thing": lambda t: ("PATCH", f"Locations({t.location})", {"name": "verplaatst"}, 200,
                                              {}),
    "DELETE Sensor of the Datastream": lambda t: ("DELETE", f"Sensors({t.sensor})", None, 200, {}),
    "CreateObservations": lambda t: ("POST", "CreateObservations", [
        {"Datastream": {"@iot.id": t.datastream}, "components": ["result"], "dataArray": [[1], [2]]}], 201, {}),
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_write_matrix(client, actors, operation):
    for role in ROLES:
        target = make_target(client, actors)
        method, path, body, success, extra = OPERATIONS[operation](target)
        kwargs: dict = {"headers": {**actors.headers[role], **extra}}
        if body is not None:
            kwargs["content"] = json.dumps(body)
            kwargs["headers"].setdefault("content-type", "application/json")
        r = client.request(method, f"{STA}/{path}", **kwargs)
        expected = MAY_WRITE[role] or success
        if operation == "create Thing" and role == "other-editor":
            expected = 201  # a new Thing belongs to the creator's organisation
        assert r.status_code == expected, (operation, role, r.text)
        if expected == 401:
            assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("role", ROLES)
def test_batch_changes_run_with_the_batch_callers_rights(client, actors, role):
    target = make_target(client, actors)
    body = {"requests": [
        {"id": "obs", "method": "POST", "url": f"Datastreams({target.datastream})/Observations",
         "body": {"result": 5}},
        {"id": "thing", "method": "PATCH", "url": f"Things({target.thing})", "body": {"name": "via batch"}},
        # a request's own headers cannot lend it other credentials
        {"id": "lend", "method": "PATCH", "url": f"Things({target.thing})", "body": {"name": "geleend"},
         "headers": actors.headers["admin"]},
    ]}
    r = client.post(f"{STA}/$batch", json=body, headers=actors.headers[role])
    assert r.status_code == 200, r.text
    status = {a["id"]: a["status"] for a in r.json()["responses"]}
    expected = MAY_WRITE[role]
    assert status == {"obs": expected or 201, "thing": expected or 200, "lend": expected or 200}, role
    name = client.get(f"{STA}/Things({target.thing})", headers=actors.headers["admin"]).json()["name"]
    if expected is None:
        assert name == "geleend"
    else:
        assert name not in ("via batch", "geleend")


def test_hidden_entities_are_unknown_to_writers_who_cannot_see_them(client, actors):
    """A restricted Thing of another organisation: its id behaves as if it did not exist."""
    r_target = make_target(client, actors, "restricted")
    other = actors.headers["other-editor"]
    unknown = client.patch(f"{STA}/Things(987654)", json={"name": "x"}, headers=other)
    hidden = client.patch(f"{STA}/Things({r_target.thing})", json={"name": "x"}, headers=other)
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json()["detail"].replace(str(r_target.thing), "N") == unknown.json()["detail"].replace("987654", "N")
    assert client.delete(f"{STA}/Datastreams({r_target.datastream})", headers=other).status_code == 404
    r = client.post(f"{STA}/Datastreams", json=datastream(Thing={"@iot.id": r_target.thing}), headers=other)
    assert r.status_code == 404 and "Thing" in r.json()["errors"][0]["msg"]
    r = client.post(f"{STA}/Observations", json={"result": 1, "Datastream": {"@iot.id": r_target.datastream}},
                    headers=other)
    assert r.status_code == 404
    r = client.post(f"{STA}/CreateObservations", headers=other, json=[
        {"Datastream": {"@iot.id": r_target.datastream}, "components": ["result"], "dataArray": [[1]]}])
    assert r.status_code == 404
    # a visible (network) Thing of another organisation: 403, not 404
    n_target = make_target(client, actors, "network")
    r = client.post(f"{STA}/Datastreams", json=datastream(Thing={"@iot.id": n_target.thing}), headers=other)
    assert r.status_code == 403
    # the owner organisation's editor may do all of it
    own = actors.headers["editor"]
    assert client.patch(f"{STA}/Things({r_target.thing})", json={"name": "x"}, headers=own).status_code == 200


def test_hidden_feature_of_interest_counts_as_unknown_in_data_arrays(client, actors):
    secret = make_target(client, actors, "restricted")
    admin = actors.headers["admin"]
    foi = client.get(f"{STA}/Observations({secret.observation})/FeatureOfInterest", headers=admin).json()["@iot.id"]
    mine = make_target(client, actors, "open")
    with_other = actors.headers["other-editor"]
    # another organisation's editor with their own open Thing
    r = client.post(f"{STA}/Things", headers=with_other,
                    json=full_thing(n_obs=0, properties={"register": {"access_class": "open"}}))
    their_thing = r.json()["@iot.id"]
    their_ds = client.get(f"{STA}/Things({their_thing})/Datastreams", headers=with_other).json()["value"][0]["@iot.id"]
    r = client.post(f"{STA}/CreateObservations", headers=with_other, json=[
        {"Datastream": {"@iot.id": their_ds}, "components": ["result", "FeatureOfInterest/id"],
         "dataArray": [[1, foi], [2, 987654]]}])
    assert r.status_code == 201 and r.json() == ["error", "error"], r.text
    r = client.post(f"{STA}/Observations", headers=with_other,
                    json={"result": 1, "Datastream": {"@iot.id": their_ds}, "FeatureOfInterest": {"@iot.id": foi}})
    assert r.status_code == 404
    assert mine.thing  # the open Thing of the own organisation is untouched


def test_new_things_belong_to_the_creators_organisation(client, actors, db):
    editor, admin = actors.headers["editor"], actors.headers["admin"]
    mine = client.post(f"{STA}/Things", json=thing(), headers=editor).json()["@iot.id"]
    for_other = {"properties": {"register": {"owner": {"organisation_id": actors.other}}}}
    assert client.post(f"{STA}/Things", json=thing(**for_other), headers=editor).status_code == 403
    theirs = client.post(f"{STA}/Things", json=thing(**for_other), headers=admin)
    assert theirs.status_code == 201
    with db.session() as s:
        owners = dict(s.execute(select(Thing.id, Thing.owner_organisation_id)).all())
    assert owners[mine] == actors.own and owners[theirs.json()["@iot.id"]] == actors.other
    register = {i["id"]: i for i in client.get("/api/v1/sensor-register", headers=admin).json()["items"]}
    assert register[mine]["owner"]["organisation_id"] == actors.own
    assert register[mine]["owner"]["organisation"]  # the organisation's name fills in


def test_ownership_and_access_class_change_only_when_stated(client, actors, db):
    target = make_target(client, actors, "restricted")
    editor, admin = actors.headers["editor"], actors.headers["admin"]
    url = f"{STA}/Things({target.thing})"
    # properties without a register: the Thing neither changes hands nor opens up
    assert client.patch(url, json={"properties": {"wijk": "Noord"}}, headers=editor).status_code == 200
    assert client.put(url, json={"name": "n", "description": "d"}, headers=editor).status_code == 200
    with db.session() as s:
        row = s.execute(select(Thing.owner_organisation_id, Thing.access_class).where(Thing.id == target.thing)).one()
    assert tuple(row) == (actors.own, "restricted")
    assert client.get(url, headers=actors.headers["anonymous"]).status_code == 404
    # giving it away needs rights on the new owner too
    give = {"properties": {"register": {"owner": {"organisation_id": actors.other}, "access_class": "restricted"}}}
    assert client.patch(url, json=give, headers=editor).status_code == 403
    assert client.patch(url, json=give, headers=admin).status_code == 200
    assert client.patch(url, json={"name": "weg"}, headers=editor).status_code == 404  # restricted, not ours
    assert client.patch(url, json={"name": "ontvangen"}, headers=actors.headers["other-editor"]).status_code == 200
    # opening it is an explicit statement
    opened = {"properties": {"register": {"access_class": "open"}}}
    assert client.patch(url, json=opened, headers=actors.headers["other-editor"]).status_code == 200
    assert client.get(url, headers=actors.headers["anonymous"]).status_code == 200


def test_datastream_access_class_is_validated_and_sticky(client, actors, db):
    target = make_target(client, actors, "open")
    editor = actors.headers["editor"]
    url = f"{STA}/Datastreams({target.datastream})"
    r = client.patch(url, json={"properties": {"access_class": "geheim"}}, headers=editor)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "properties.access_class"
    assert client.patch(url, json={"properties": {"access_class": "network"}}, headers=editor).status_code == 200
    assert client.get(url).status_code == 404  # anonymous: hidden now
    assert client.patch(url, json={"properties": {"note": "x"}}, headers=editor).status_code == 200
    with db.session() as s:
        assert s.scalar(select(Datastream.access_class).where(Datastream.id == target.datastream)) == "network"
    r = client.post(f"{STA}/Datastreams", headers=editor,
                    json=datastream(Thing={"@iot.id": target.thing}, properties={"access_class": "secret"}))
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "properties.access_class"


def test_shared_entities_need_rights_on_every_owner_they_reach(client, actors):
    target = make_target(client, actors)
    other, editor, member = (actors.headers[k] for k in ("other-editor", "editor", "member"))
    assert client.patch(f"{STA}/Sensors({target.sensor})", json={"name": "x"}, headers=other).status_code == 403
    assert client.patch(f"{STA}/Sensors({target.sensor})", json={"name": "x"}, headers=editor).status_code == 200
    loose = client.post(f"{STA}/Sensors", json=sensor(), headers=other)
    assert loose.status_code == 201
    loose_url = f"{STA}/Sensors({loose.json()['@iot.id']})"
    assert client.patch(loose_url, json={"name": "y"}, headers=editor).status_code == 200  # used by nobody
    assert client.patch(loose_url, json={"name": "z"}, headers=member).status_code == 403
    assert client.post(f"{STA}/Locations", json=location(), headers=member).status_code == 403
    # linking your own Thing to a shared Location is fine; moving another's Thing is not
    loc = client.post(f"{STA}/Locations", json=location(), headers=other).json()["@iot.id"]
    r = client.patch(f"{STA}/Locations({loc})", json={"Things": [{"@iot.id": target.thing}]}, headers=other)
    assert r.status_code == 403


def test_bad_credentials_are_refused_even_for_reads(client):
    bad = {"Authorization": "Bearer stl_nonsense"}
    assert client.get(f"{STA}/Things", headers=bad).status_code == 401
    assert client.post(f"{STA}/Things", json=thing(), headers=bad).status_code == 401
    assert client.get(f"{STA}/Things").status_code == 200


def test_anonymous_writes_setting_is_for_development(db):
    app = create_app(Settings(database_url=db.url, anonymous_writes=True), db=db)
    with TestClient(app) as c:
        r = c.post(f"{STA}/Things", json=full_thing())
        assert r.status_code == 201, r.text
        assert c.post(f"{STA}/CreateObservations", json=[]).status_code == 201
    with TestClient(create_app(Settings(database_url=db.url), db=db)) as c:
        assert c.post(f"{STA}/Things", json=thing()).status_code == 401


def _events(db, entity_type: str) -> list[dict]:
    with db.session() as s:
        return list(audit.iterate(s, audit.AuditFilter(entity_type=entity_type)))


def test_writes_are_audited_once_per_request(client, actors, db):
    editor = actors.headers["editor"]
    before_obs = len(_events(db, "sta.Observation"))
    t = client.post(f"{STA}/Things", json=full_thing(n_obs=2), headers=editor).json()["@iot.id"]
    [created] = [e for e in _events(db, "sta.Thing") if e["entity_id"] == str(t)]
    assert created["action"] == "create" and created["after"]["owner_organisation_id"] == actors.own
    assert created["after"]["deep_insert"] == {"Location": 1, "Datastream": 1, "Sensor": 1, "ObservedProperty": 1,
                                               "Observation": 2}
    ds = client.get(f"{STA}/Things({t})/Datastreams", headers=editor).json()["value"][0]["@iot.id"]
    r = client.post(f"{STA}/CreateObservations", headers=editor, json=[
        {"Datastream": {"@iot.id": ds}, "components": ["result"], "dataArray": [[1], [2], ["x", 1]]}])
    assert r.status_code == 201
    bulk = _events(db, "sta.Observation")[before_obs:]
    assert len(bulk) == 1 and bulk[0]["after"] == {"count": 2, "datastreams": [ds], "multi_datastreams": []}
    client.patch(f"{STA}/Things({t})", json={"description": "nieuw"}, headers=editor)
    client.delete(f"{STA}/Things({t})", headers=editor)
    events = [e for e in _events(db, "sta.Thing") if e["entity_id"] == str(t)]
    assert [e["action"] for e in events] == ["create", "update", "delete"]
    assert events[1]["before"]["description"] != "nieuw" and events[1]["after"]["description"] == "nieuw"
    assert events[2]["after"] is None and events[2]["before"]["name"]
    assert all(e["actor_type"] == "user" and e["organisation_id"] == actors.own for e in events)
    # refused and rolled-back writes leave nothing behind
    n = len(_events(db, "sta.Thing"))
    client.post(f"{STA}/Things", json=thing(), headers=actors.headers["member"])
    client.post(f"{STA}/Things", json=thing(Locations="not a list"), headers=editor)
    body = {"requests": [
        {"id": "a", "method": "POST", "url": "Things", "body": thing(), "atomicityGroup": "g"},
        {"id": "b", "method": "POST", "url": "Things", "body": {"name": 1}, "atomicityGroup": "g"},
        {"id": "c", "method": "POST", "url": "Things", "body": thing()}]}
    client.post(f"{STA}/$batch", json=body, headers=editor)
    assert len(_events(db, "sta.Thing")) == n + 1  # only request c
    with db.session() as s:
        assert audit.verify_chain(s) == (True, None)
