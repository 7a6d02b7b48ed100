"""Group commit of single Observation POSTs (``group_commit``), on both databases.

Requests that arrive together are stored in one transaction, yet each must keep what
it had alone: its own row, its own audit event (with its request id), a 201 only for
what was committed, and refusal the moment its token stops being valid. Tests drive
``GroupCommit.store`` from one event loop, as the HTTP route does, so that many
requests are waiting at once; and the HTTP API for what a client sees.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import orjson
import pytest
from sqlalchemy import func, select

from stadslab.core.auth import SYSTEM
from stadslab.governance import audit, service as governance
from stadslab.governance.models import ApiToken, AuditEvent, User
from stadslab.sensorthings.write.group_commit import GroupCommit, candidate
from tests.governance.factories import auth_headers, make_organisation, make_token, make_user

from .helpers import STA, client, get, new_thing, post  # noqa: F401

T0 = datetime(2025, 6, 1, tzinfo=timezone.utc)


def _secret(client) -> str:
    return client.headers["Authorization"].split(" ", 1)[1]


def _item(ds: int, secret: str, result, at: datetime | None = None):
    body = {"result": result} | ({"phenomenonTime": at.isoformat()} if at else {})
    found = candidate(f"Datastreams({ds})/Observations", f"Bearer {secret}", orjson.dumps(body))
    assert found is not None
    return found


def _store_all(writer: GroupCommit, items, request_ids=None):
    """All requests handed over in the same moment, from one event loop (as concurrent POSTs)."""
    request_ids = request_ids or [None] * len(items)

    async def run():
        return await asyncio.gather(*(writer.store(item, rid) for item, rid in zip(items, request_ids)))

    try:
        return asyncio.run(run())
    finally:
        writer.stop()


def _events(session, ids) -> list[AuditEvent]:
    ids = [str(i) for i in ids]
    return list(session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "sta.Observation",
                                                         AuditEvent.entity_id.in_(ids))))


def test_requests_arriving_together_share_transactions_and_keep_their_own_rows_and_events(client, db, session):
    streams = [new_thing(client)["datastream"] for _ in range(3)]
    secret = _secret(client)
    n = 30
    items = [_item(streams[i % 3], secret, i, T0 + timedelta(minutes=i)) for i in range(n)]
    rows = _store_all(GroupCommit(db, max_batch=64), items, [f"req-{i}" for i in range(n)])

    assert all(row is not None for row in rows)
    assert [row["result"] for row in rows] == list(range(n))  # each request got its own row back
    assert [row["datastream_id"] for row in rows] == [streams[i % 3] for i in range(n)]
    assert len({row["id"] for row in rows}) == n
    for row in rows:  # what was answered is what is stored
        assert get(client, f"Observations({row['id']})")["result"] == row["result"]

    events = _events(session, [row["id"] for row in rows])
    assert sorted((e.entity_id, e.request_id) for e in events) == sorted(
        (str(row["id"]), f"req-{i}") for i, row in enumerate(rows))
    # grouped: fewer transactions (events of one group share their time) than requests
    assert len({e.at for e in events}) < n
    assert audit.verify_chain(session) == (True, None)

    for k, ds in enumerate(streams):  # every stream's summary covers all of its new Observations
        times = [T0 + timedelta(minutes=i) for i in range(k, n, 3)]
        start, end = get(client, f"Datastreams({ds})")["phenomenonTime"].split("/")
        assert datetime.fromisoformat(start.replace("Z", "+00:00")) <= min(times)
        assert datetime.fromisoformat(end.replace("Z", "+00:00")) == max(times)


def test_a_request_it_cannot_take_is_declined_and_the_others_in_its_group_are_stored(client, db, session):
    ds = new_thing(client)["datastream"]
    other_org = make_organisation(session, "Elders BV", kind="company")
    outsider = make_token(session, make_user(session, "editor", other_org))  # may not write to ds
    items = [_item(ds, _secret(client), 1), _item(ds, outsider, 2), _item(ds, "stl_" + "x" * 43, 3),
             _item(ds, _secret(client), 4)]
    rows = _store_all(GroupCommit(db), items)

    assert [r["result"] if r else None for r in rows] == [1, None, None, 4]
    # over HTTP the general writer answers the declined ones, with its own errors
    assert client.post(f"{STA}/Datastreams({ds})/Observations", json={"result": 2},
                       headers=auth_headers(outsider)).status_code in (403, 404)
    assert client.post(f"{STA}/Datastreams({ds})/Observations", json={"result": 3},
                       headers={"Authorization": "Bearer stl_" + "x" * 43}).status_code == 401


def test_a_revoked_token_is_refused_by_the_very_next_group(client, db, session):
    ds = new_thing(client)["datastream"]
    editor = make_user(session, "admin")
    secret = make_token(session, editor)
    writer = GroupCommit(db)
    assert _store_all(writer, [_item(ds, secret, 1)])[0] is not None  # the token is now remembered
    token = session.scalars(select(ApiToken).where(ApiToken.user_id == editor.id)).one()
    assert token.last_used_at is not None  # the lookup records its use

    governance.revoke_token(session, SYSTEM, token.id)
    assert _store_all(writer, [_item(ds, secret, 2)]) == [None]
    r = client.post(f"{STA}/Datastreams({ds})/Observations", json={"result": 2}, headers=auth_headers(secret))
    assert r.status_code == 401


def test_a_deactivated_user_is_refused_by_the_very_next_group(client, db, session):
    ds = new_thing(client)["datastream"]
    user = make_user(session, "admin")
    secret = make_token(session, user)
    writer = GroupCommit(db)
    assert _store_all(writer, [_item(ds, secret, 1)])[0] is not None
    session.get(User, user.id).active = False
    session.commit()
    assert _store_all(writer, [_item(ds, secret, 2)]) == [None]


def test_a_failing_group_is_retried_one_request_at_a_time(client, db, session, monkeypatch):
    """One request's failure must not fail the others: the group is retried request by request."""
    ds = new_thing(client)["datastream"]
    real_insert = GroupCommit._insert
    failed: list[int] = []

    def insert_refusing_groups(session, values):
        if len(values) > 1:
            failed.append(len(values))
            raise RuntimeError("simulated failure of a whole group")
        return real_insert(session, values)

    monkeypatch.setattr(GroupCommit, "_insert", staticmethod(insert_refusing_groups))
    before = session.scalar(select(func.count()).select_from(AuditEvent))
    rows = _store_all(GroupCommit(db), [_item(ds, _secret(client), i) for i in range(6)])

    assert failed, "the requests were never grouped"
    assert [r["result"] for r in rows] == list(range(6))
    stored = get(client, f"Datastreams({ds})/Observations", **{"$filter": "result ge 0", "$count": "true"})
    assert stored["@iot.count"] == 6 + 3  # new_thing's three, and each of these exactly once
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(AuditEvent)) - before == 6
    assert audit.verify_chain(session) == (True, None)


@pytest.mark.parametrize("grouped", [True, False])
def test_http_answers_the_same_with_and_without_group_commit(db, grouped):
    from fastapi.testclient import TestClient

    from stadslab.app import create_app
    from stadslab.core.config import Settings

    app = create_app(Settings(database_url=db.url, sta_group_commit=grouped), db=db)
    with db.session() as s:
        secret = make_token(s, make_user(s, "admin"))
    with TestClient(app, headers=auth_headers(secret)) as c:
        ds = new_thing(c)["datastream"]
        r = c.post(f"{STA}/Datastreams({ds})/Observations",
                   json={"phenomenonTime": "2025-01-02T03:04:05Z", "result": 7.5, "parameters": {"b": 1}})
        assert r.status_code == 201, r.text
        body = r.json()
        assert r.headers["location"].endswith(f"/Observations({body['@iot.id']})")
        assert {k: body[k] for k in ("phenomenonTime", "result", "parameters")} == {
            "phenomenonTime": "2025-01-02T03:04:05Z", "result": 7.5, "parameters": {"b": 1}}
        assert get(c, f"Observations({body['@iot.id']})") == body
    assert (app.state.group_commit is not None) is grouped
