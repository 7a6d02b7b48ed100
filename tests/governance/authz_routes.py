"""The one registry of authorization specs, and the route table it must cover.

:func:`all_specs` lists an :class:`EndpointSpec` for every state-changing route of the
app (REST, SensorThings, LoRaWAN, federation, web forms), plus the governance reads
the matrix has always checked. ``test_route_table_matrix.py`` fails when a route of the
app has no spec, so a new endpoint cannot ship without its rule being written down;
``test_authz_matrix.py`` runs every spec for every role and organisation.

A spec's ``path`` is a concrete request path with ``{placeholders}``; it is matched
against the route table the way Starlette routes a request (first match wins), so the
SensorThings catch-all route is covered by its resource paths.
"""

from __future__ import annotations

import itertools
import re

from fastapi.routing import iter_route_contexts
from starlette.routing import Mount, compile_path

from tests.factories import AMSTERDAM, UTRECHT, lab_payload, organisation_payload, project_payload, solution_payload
from tests.sensorthings.helpers import STA, full_thing, thing
from tests.sensorthings.lorawan.messages import tts_uplink

from .authz_matrix import EndpointSpec, MatrixContext
from .factories import make_token, make_user

SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_seq = itertools.count(1)


# --- the route table ---------------------------------------------------------------------------

def route_table(app, *, _routes=None, _prefix: str = "") -> list[tuple[str, str, re.Pattern]]:
    """(method, path template, path regex) of every state-changing route, in matching order.

    Included routers are flattened by FastAPI; mounted sub-applications are walked too, so
    a capability mounted as its own app cannot hide its routes from the matrix.
    """
    out = []
    for rc in iter_route_contexts(app.routes if _routes is None else _routes):
        if isinstance(rc.original_route, Mount):
            out += route_table(app, _routes=getattr(rc.original_route, "routes", None) or [],
                               _prefix=_prefix + rc.path)
            continue
        template = _prefix + rc.path
        for method in sorted(set(rc.methods or ()) - SAFE):
            out.append((method, template, compile_path(template)[0]))
    return out


def sample_path(path: str) -> str:
    """A concrete path for a spec or route template: every placeholder becomes ``1``."""
    return re.sub(r"\{[^}]+\}", "1", path)


def route_of(table, method: str, path: str) -> tuple[str, str] | None:
    """The (method, template) of the route a request would reach, or None."""
    for m, template, regex in table:
        if m == method and regex.match(path):
            return m, template
    return None


def uncovered(app, specs: list[EndpointSpec]) -> list[str]:
    table = route_table(app)
    covered = {route_of(table, s.method, sample_path(s.path)) for s in specs}
    return [f"{m} {t}" for m, t, _ in table if (m, t) not in covered]


# --- setups: what each request needs, owned by the organisation under test ----------------------

def _admin_post(ctx: MatrixContext, path: str, body: dict, **kwargs) -> dict:
    r = ctx.client.post(path, json=body, headers=ctx.headers["admin"], **kwargs)
    assert r.status_code == 201, f"setup {path}: {r.status_code} {r.text}"
    return r.json()


def _adoption_payload(ctx: MatrixContext, org: int) -> dict:
    solution = _admin_post(ctx, "/api/v1/solutions", solution_payload(owner_organisation_id=org))
    return {"solution_id": solution["id"], "city": UTRECHT, "status": "adopted", "adopted_on": "2024-03-15"}


def _event_payload(ctx: MatrixContext, org: int) -> dict:
    return {"kind": "conference", "title": f"Smart City Expo {next(_seq)}", "start": "2026-11-03T09:00:00",
            "end": "2026-11-03T18:00:00", "timezone": "Europe/Madrid", "themes": ["mobility"]}


def _programme(ctx: MatrixContext) -> str:
    code = f"programma-{next(_seq)}"
    _admin_post(ctx, "/api/v1/funding-programmes", {"code": code, "name": f"Programma {code}"})
    return code


def _call_payload(ctx: MatrixContext, org: int) -> dict:
    return {"programme": _programme(ctx), "title": f"Call {next(_seq)}", "description": "Slimme mobiliteit",
            "themes": ["mobility"], "deadline": "2099-03-01T17:00:00", "deadline_timezone": "Europe/Brussels",
            "status": "open"}


def _programme_payload(ctx: MatrixContext, org: int) -> dict:
    code = f"programma-{next(_seq)}"
    return {"code": code, "name": f"Programma {code}"}


#: Registry resources through core.crud: path -> payload(ctx, owner organisation id).
REGISTRY = {
    "living-labs": lambda ctx, org: lab_payload(),
    "projects": lambda ctx, org: project_payload(),
    "solutions": lambda ctx, org: solution_payload(),
    "coalitions": lambda ctx, org: {"title": f"Coalitie {next(_seq)}", "lead_city": AMSTERDAM},
    "adoptions": _adoption_payload,
    "events": _event_payload,
    "funding-calls": _call_payload,
}


def _registry_specs() -> list[EndpointSpec]:
    specs = []
    for path, payload in REGISTRY.items():
        def create(ctx, org, payload=payload):
            return {"json": {**payload(ctx, org), "owner_organisation_id": org}}

        def existing(ctx, org, body=None, path=path, payload=payload):
            item = _admin_post(ctx, f"/api/v1/{path}", {**payload(ctx, org), "owner_organisation_id": org})
            return {"path": {"id": item["id"]}, **({"json": body(ctx, org)} if body else {})}

        specs += [
            EndpointSpec(f"{path} create", "POST", f"/api/v1/{path}", "owner_write", setup=create),
            EndpointSpec(f"{path} replace", "PUT", f"/api/v1/{path}/{{id}}", "owner_write",
                         setup=lambda ctx, org, existing=existing, payload=payload: existing(ctx, org, payload)),
            EndpointSpec(f"{path} change", "PATCH", f"/api/v1/{path}/{{id}}", "owner_write",
                         setup=lambda ctx, org, existing=existing: existing(ctx, org, lambda c, o: {})),
            EndpointSpec(f"{path} delete", "DELETE", f"/api/v1/{path}/{{id}}", "owner_write", setup=existing),
        ]
    # Funding programmes have no owner: admins only, whatever the organisation.
    programme = lambda ctx, org: {"path": {"id": _admin_post(  # noqa: E731
        ctx, "/api/v1/funding-programmes", _programme_payload(ctx, org))["id"]}}
    specs += [
        EndpointSpec("funding-programmes create", "POST", "/api/v1/funding-programmes", "admin",
                     setup=lambda ctx, org: {"json": _programme_payload(ctx, org)}),
        EndpointSpec("funding-programmes replace", "PUT", "/api/v1/funding-programmes/{id}", "admin",
                     setup=lambda ctx, org: {**programme(ctx, org), "json": _programme_payload(ctx, org)}),
        EndpointSpec("funding-programmes change", "PATCH", "/api/v1/funding-programmes/{id}", "admin",
                     setup=lambda ctx, org: {**programme(ctx, org), "json": {}}),
        EndpointSpec("funding-programmes delete", "DELETE", "/api/v1/funding-programmes/{id}", "admin",
                     setup=programme),
    ]
    # Organisations: admins create and delete them; their own editors edit them.
    specs += [
        EndpointSpec("organisations create", "POST", "/api/v1/organisations", "admin",
                     setup=lambda ctx, org: {"json": organisation_payload()}),
        EndpointSpec("organisations replace", "PUT", "/api/v1/organisations/{id}", "owner_write",
                     setup=lambda ctx, org: {"path": {"id": org}, "json": organisation_payload()}),
        EndpointSpec("organisations change", "PATCH", "/api/v1/organisations/{id}", "owner_write",
                     setup=lambda ctx, org: {"path": {"id": org}, "json": {"description": "Wij"}}),
        # Deleting removes an organisation with its accounts: admins only, not even its own editors
        # (test_route_table_matrix.py::test_only_admins_delete_organisations checks the own editor).
        EndpointSpec("organisations delete", "DELETE", "/api/v1/organisations/{id}", "admin",
                     setup=lambda ctx, org: {"path": {"id": _admin_post(ctx, "/api/v1/organisations",
                                                                        organisation_payload())["id"]}}),
    ]
    return specs


def _project(ctx: MatrixContext, org: int) -> int:
    return _admin_post(ctx, "/api/v1/projects", project_payload(owner_organisation_id=org))["id"]


def _design(ctx: MatrixContext, org: int) -> dict:
    return {"path": {"id": _project(ctx, org)}, "json": {
        "intervention_sites": [{"name": "Hoofdstraat", "datastream_ids": [987654]}],
        "baseline": {"start": "2024-01-01", "end": "2024-03-24"},
        "intervention": {"start": "2024-03-25", "end": "2024-06-16"}, "kpis": [{"kpi": "no2_concentration"}]}}


#: Evidence: authorization comes first; the design rules then refuse a design without data (422),
#: and an evaluation without a design (409/422). Those answers count as "allowed".
EVIDENCE_SPECS = [
    EndpointSpec("evidence design", "PUT", "/api/v1/projects/{id}/design", "owner_write", setup=_design,
                 success=(200, 422)),
    EndpointSpec("evidence evaluation", "POST", "/api/v1/projects/{id}/evaluation", "owner_write",
                 setup=lambda ctx, org: {"path": {"id": _project(ctx, org)}}, success=(201, 409, 422)),
]

ICS = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//stadslab//test//NL\r\nBEGIN:VEVENT\r\nUID:{uid}@example.org\r\n"
       "DTSTAMP:20260101T000000Z\r\nDTSTART:20261103T090000Z\r\nDTEND:20261103T170000Z\r\n"
       "SUMMARY:Smart City Expo\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")

INTEROP_SPECS = [
    EndpointSpec("events import", "POST", "/api/v1/events/import", "editor",
                 setup=lambda ctx, org: {"content": ICS.format(uid=next(_seq)),
                                         "headers": {"content-type": "text/calendar"}}),
]


# --- SensorThings and LoRaWAN ---------------------------------------------------------------------

def _sta_thing(ctx: MatrixContext, org: int, access_class: str = "network") -> dict:
    """A Thing with a Datastream of ``org``, made by the administrator; ids of both."""
    body = full_thing(n_obs=1, properties={"register": {"access_class": access_class,
                                                        "owner": {"organisation_id": org}}})
    tid = _admin_post(ctx, f"{STA}/Things", body)["@iot.id"]
    ds = ctx.client.get(f"{STA}/Things({tid})/Datastreams", headers=ctx.headers["admin"]).json()["value"][0]
    return {"thing": tid, "datastream": ds["@iot.id"]}


def _sta(body=None):
    def setup(ctx, org):
        ids = _sta_thing(ctx, org)
        return {"path": ids, **({"json": body(ids)} if body else {})}
    return setup


STA_SPECS = [
    EndpointSpec("sta create Thing", "POST", f"{STA}/Things", "owner_write",
                 setup=lambda ctx, org: {"json": thing(properties={"register": {"owner": {"organisation_id": org}}})}),
    EndpointSpec("sta change Thing", "PATCH", f"{STA}/Things({{thing}})", "owner_write",
                 setup=_sta(lambda ids: {"description": "bijgewerkt"})),
    EndpointSpec("sta replace Thing", "PUT", f"{STA}/Things({{thing}})", "owner_write",
                 setup=_sta(lambda ids: {"name": "n", "description": "d"})),
    EndpointSpec("sta delete Thing", "DELETE", f"{STA}/Things({{thing}})", "owner_write", setup=_sta()),
    EndpointSpec("sta create Observation", "POST", f"{STA}/Observations", "owner_write",
                 setup=_sta(lambda ids: {"result": 1, "Datastream": {"@iot.id": ids["datastream"]}})),
    EndpointSpec("sta CreateObservations", "POST", f"{STA}/CreateObservations", "owner_write",
                 setup=_sta(lambda ids: [{"Datastream": {"@iot.id": ids["datastream"]}, "components": ["result"],
                                          "dataArray": [[1]]}])),
    # A batch is open to everyone: each of its requests is authorized on its own (test_authz.py).
    EndpointSpec("sta batch", "POST", f"{STA}/$batch", "public",
                 setup=lambda ctx, org: {"json": {"requests": [{"id": "r", "method": "GET", "url": "Things"}]}}),
]


def _integration(ctx: MatrixContext, org: int) -> dict:
    return _admin_post(ctx, "/api/v1/lorawan/integrations",
                       {"name": f"tts-{next(_seq)}", "kind": "tts", "owner_organisation_id": org})


def _dev_eui() -> str:
    return f"{next(_seq) + 0xA000:016X}"


def _device(ctx: MatrixContext, org: int) -> dict:
    ids = _sta_thing(ctx, org)
    integration = _integration(ctx, org)
    dev_eui = _dev_eui()
    device = _admin_post(ctx, f"/api/v1/lorawan/integrations/{integration['id']}/devices",
                         {"dev_eui": dev_eui, "thing_id": ids["thing"]})
    return {**ids, "device": device["id"], "dev_eui": dev_eui, "integration": integration}


LORAWAN_SPECS = [
    EndpointSpec("lorawan integration create", "POST", "/api/v1/lorawan/integrations", "owner_write",
                 setup=lambda ctx, org: {"json": {"name": f"tts-{next(_seq)}", "kind": "tts",
                                                  "owner_organisation_id": org}}),
    EndpointSpec("lorawan device add", "POST", "/api/v1/lorawan/integrations/{id}/devices", "owner_write",
                 setup=lambda ctx, org: {"path": {"id": _integration(ctx, org)["id"]},
                                         "json": {"dev_eui": _dev_eui(), "thing_id": _sta_thing(ctx, org)["thing"]}}),
    EndpointSpec("lorawan mapping add", "POST", "/api/v1/lorawan/devices/{id}/mappings", "owner_write",
                 setup=lambda ctx, org: (lambda d: {"path": {"id": d["device"]},
                                                    "json": {"field": "pm25", "datastream_id": d["datastream"]}})(
                     _device(ctx, org))),
    EndpointSpec("lorawan uplink", "POST", "/api/v1/lorawan/{id}/uplink", "webhook_secret", success=(200, 202),
                 setup=lambda ctx, org: (lambda d: {"path": {"id": d["integration"]["id"]},
                                                    "json": tts_uplink(dev_eui=d["dev_eui"]),
                                                    "headers": {"x-stadslab-secret": d["integration"]["secret"]}})(
                     _device(ctx, org))),
]


# --- infrastructure ---------------------------------------------------------------------------------

def _asset_body(**over) -> dict:
    return {"name": f"5G-mast {next(_seq)}", "type": "5g-site", "openness": "private", "status": "live",
            "geometry": {"type": "Point", "coordinates": [4.9, 52.37]}, **over}


def _asset(ctx: MatrixContext, org: int, operator_only: bool = False) -> dict:
    """An asset of ``org``; with ``operator_only`` owned by a third organisation and operated by ``org``."""
    if operator_only:
        third = _admin_post(ctx, "/api/v1/organisations", organisation_payload())["id"]
        body = _asset_body(owner_organisation_id=third, operator_organisation_id=org)
    else:
        body = _asset_body(owner_organisation_id=org)
    return {"path": {"id": _admin_post(ctx, "/api/v1/infrastructure", body)["id"]}}


def _investment_body(org: int) -> dict:
    return {"title": f"Glasvezel buitengebied {next(_seq)}", "technology": "fibre", "phase": "committed",
            "cost_eur": 1000000, "owner_organisation_id": org, "municipalities": [AMSTERDAM],
            "contributions": [{"party_type": "local", "amount_eur": 250000}]}


def _investment(ctx: MatrixContext, org: int) -> dict:
    return {"path": {"id": _admin_post(ctx, "/api/v1/investments", _investment_body(org))["id"]}}


INFRASTRUCTURE_SPECS = [
    EndpointSpec("infrastructure asset create", "POST", "/api/v1/infrastructure", "owner_write",
                 setup=lambda ctx, org: {"json": _asset_body(owner_organisation_id=org)}),
    EndpointSpec("infrastructure asset change", "PATCH", "/api/v1/infrastructure/{id}", "owner_write",
                 setup=lambda ctx, org: {**_asset(ctx, org), "json": {"status": "retired"}}),
    # editors of the operator organisation may change it as well
    EndpointSpec("infrastructure asset change by operator", "PATCH", "/api/v1/infrastructure/{id}", "owner_write",
                 setup=lambda ctx, org: {**_asset(ctx, org, operator_only=True), "json": {"status": "building"}}),
    EndpointSpec("infrastructure asset delete", "DELETE", "/api/v1/infrastructure/{id}", "owner_write",
                 setup=_asset),
    EndpointSpec("investment create", "POST", "/api/v1/investments", "owner_write",
                 setup=lambda ctx, org: {"json": _investment_body(org)}),
    EndpointSpec("investment replace", "PUT", "/api/v1/investments/{id}", "owner_write",
                 setup=lambda ctx, org: {**_investment(ctx, org), "json": _investment_body(org)}),
    EndpointSpec("investment delete", "DELETE", "/api/v1/investments/{id}", "owner_write", setup=_investment),
]


# --- federation -----------------------------------------------------------------------------------

def _peer_body() -> dict:
    return {"name": f"peer-{next(_seq)}", "base_url": f"https://peer{next(_seq)}.example.org"}


def _peer(ctx: MatrixContext, org: int) -> dict:
    return {"path": {"id": _admin_post(ctx, "/api/v1/federation/peers", _peer_body())["id"]}}


FEDERATION_SPECS = [
    EndpointSpec("federation peer create", "POST", "/api/v1/federation/peers", "admin",
                 setup=lambda ctx, org: {"json": _peer_body()}),
    EndpointSpec("federation peer change", "PATCH", "/api/v1/federation/peers/{id}", "admin",
                 setup=lambda ctx, org: {**_peer(ctx, org), "json": {"active": False}}),
    EndpointSpec("federation peer delete", "DELETE", "/api/v1/federation/peers/{id}", "admin", setup=_peer),
    EndpointSpec("federation harvest", "POST", "/api/v1/federation/harvest", "admin"),
    # Reads whose rule is written down (docs/interoperability.md): a peer's health can name
    # internal hosts (admin); deletes and the merged listing show only public registry facts.
    EndpointSpec("federation peer health", "GET", "/api/v1/federation/peers/{id}/health", "admin", setup=_peer),
    EndpointSpec("federation tombstones", "GET", "/api/v1/federation/tombstones?type=project", "public"),
    EndpointSpec("federation merged listing", "GET", "/api/v1/federation/items?type=project", "public"),
]


# --- governance -----------------------------------------------------------------------------------

REQUEST = {"type": "experiment", "topic": "digital", "title": "Algoritmeregister pilot"}


def _loket_request(ctx: MatrixContext, org_id: int) -> int:
    return _admin_post(ctx, "/api/v1/loket/requests", {**REQUEST, "organisation_id": org_id})["id"]


def _user_of(ctx: MatrixContext, org_id: int) -> dict:
    return {"path": {"id": make_user(ctx.session, "member", org_id, password=None).id}}


def _token_of(ctx: MatrixContext, org_id: int) -> int:
    from stadslab.governance.models import ApiToken

    user = make_user(ctx.session, "member", org_id, password=None)
    make_token(ctx.session, user)
    return ctx.session.query(ApiToken.id).filter(ApiToken.user_id == user.id).scalar()


def _login_body(ctx: MatrixContext, org_id: int) -> dict:
    from .factories import DEFAULT_PASSWORD

    return {"email": make_user(ctx.session, "member", org_id).email, "password": DEFAULT_PASSWORD}


GOVERNANCE_SPECS = [
    # Only editors of a municipality (and admins) submit; the matrix's organisations are municipalities.
    EndpointSpec("loket submit", "POST", "/api/v1/loket/requests", "owner_write",
                 setup=lambda ctx, org: {"json": {**REQUEST, "organisation_id": org}}),
    # The desk the request is routed to sees it, and may comment; it may not withdraw it.
    EndpointSpec("loket read", "GET", "/api/v1/loket/requests/{id}", "owner_read", other_status=404,
                 overrides=(("desk", "ok"),), setup=lambda ctx, org: {"path": {"id": _loket_request(ctx, org)}}),
    EndpointSpec("loket comment", "POST", "/api/v1/loket/requests/{id}/comments", "owner_write", other_status=404,
                 overrides=(("desk", "ok"),),
                 setup=lambda ctx, org: {"path": {"id": _loket_request(ctx, org)}, "json": {"body": "Graag"}}),
    EndpointSpec("loket withdraw", "POST", "/api/v1/loket/requests/{id}/transitions", "owner_write",
                 other_status=404, overrides=(("desk", 403),),
                 setup=lambda ctx, org: {"path": {"id": _loket_request(ctx, org)}, "json": {"status": "closed"}}),
    # Handling is the desk's: the submitting city sees the request but may not review it (403).
    EndpointSpec("loket review", "POST", "/api/v1/loket/requests/{id}/transitions", "desk",
                 setup=lambda ctx, org: {"path": {"id": _loket_request(ctx, org)}, "json": {"status": "in_review"}}),
    EndpointSpec("loket forward", "POST", "/api/v1/loket/requests/{id}/forward", "desk",
                 setup=lambda ctx, org: {"path": {"id": _loket_request(ctx, org)}, "json": {"team": "ienw"}}),
    EndpointSpec("loket queue", "GET", "/api/v1/loket/queue?team=bzk", "desk"),
    # Another desk's queue is 403 for a desk (admins see every queue).
    EndpointSpec("loket other queue", "GET", "/api/v1/loket/queue?team=ienw", "admin"),
    EndpointSpec("loket list", "GET", "/api/v1/loket/requests", "authenticated"),
    EndpointSpec("loket exemptions", "GET", "/api/v1/loket/exemptions", "public"),
    EndpointSpec("loket routing", "GET", "/api/v1/loket/routing", "public"),
    EndpointSpec("login", "POST", "/api/v1/auth/login", "public",
                 setup=lambda ctx, org: {"json": _login_body(ctx, org)}),
    EndpointSpec("logout", "POST", "/api/v1/auth/logout", "public"),
    EndpointSpec("me", "GET", "/api/v1/auth/me", "authenticated"),
    EndpointSpec("token list", "GET", "/api/v1/tokens", "authenticated"),
    # Through an API token only admins mint tokens (a token cannot mint tokens without `admin`).
    EndpointSpec("token create", "POST", "/api/v1/tokens", "admin",
                 setup=lambda ctx, org: {"json": {"name": "matrix", "scopes": ["sta:read"]}}),
    # Another person's token is invisible to everyone but admins.
    EndpointSpec("token revoke", "DELETE", "/api/v1/tokens/{id}", "admin", other_status=404,
                 setup=lambda ctx, org: {"path": {"id": _token_of(ctx, org)}}),
    EndpointSpec("users list", "GET", "/api/v1/users", "admin"),
    EndpointSpec("user create", "POST", "/api/v1/users", "admin",
                 setup=lambda ctx, org: {"json": {"email": f"nieuw{next(_seq)}@example.org", "organisation_id": org}}),
    EndpointSpec("user update", "PATCH", "/api/v1/users/{id}", "admin",
                 setup=lambda ctx, org: {**_user_of(ctx, org), "json": {"role": "editor"}}),
    # Someone else's password: admins only (people change their own through a web session).
    EndpointSpec("user password", "PUT", "/api/v1/users/{id}/password", "admin",
                 setup=lambda ctx, org: {**_user_of(ctx, org), "json": {"password": "een nieuw lang wachtwoord"}}),
    EndpointSpec("audit list", "GET", "/api/v1/audit", "admin"),
    EndpointSpec("audit csv", "GET", "/api/v1/audit.csv", "admin"),
    EndpointSpec("audit verify", "GET", "/api/v1/audit/verify", "admin"),
    EndpointSpec("privacy export", "GET", "/api/v1/privacy/users/{id}/export", "admin", setup=_user_of),
    EndpointSpec("privacy erase", "POST", "/api/v1/privacy/users/{id}/erase", "admin", setup=_user_of),
    EndpointSpec("retention", "POST", "/api/v1/privacy/retention", "admin"),
]


# --- web forms (browser session + CSRF token) -----------------------------------------------------

WEB_SPECS = [
    EndpointSpec("web login", "POST", "/inloggen", "public", web=True, success=(303,),
                 setup=lambda ctx, org: {"data": _login_body(ctx, org)}),
    EndpointSpec("web logout", "POST", "/uitloggen", "public", web=True, success=(303,)),
    EndpointSpec("web user create", "POST", "/beheer/gebruikers", "admin", web=True, success=(303,),
                 setup=lambda ctx, org: {"data": {"email": f"web{next(_seq)}@example.org", "display_name": "Nieuw",
                                                  "role": "member", "organisation_id": str(org)}}),
    EndpointSpec("web user change", "POST", "/beheer/gebruikers/{id}", "admin", web=True, success=(303,),
                 setup=lambda ctx, org: {**_user_of(ctx, org), "data": {"actie": "role", "role": "editor"}}),
    EndpointSpec("web token create", "POST", "/beheer/tokens", "admin", web=True, success=(200, 201),
                 setup=lambda ctx, org: {"data": {"name": "web", "scopes": ["sta:read"], "expires_in_days": "30",
                                                  "organisation_id": str(org)}}),
    EndpointSpec("web token revoke", "POST", "/beheer/tokens/{id}/intrekken", "admin", web=True, success=(303,),
                 setup=lambda ctx, org: {"path": {"id": _token_of(ctx, org)}}),
    # A platform admin has no organisation to submit for: the form says so (422).
    EndpointSpec("web loket submit", "POST", "/loket/aanvragen", "editor", web=True, success=(303,),
                 overrides=(("admin", 422),),
                 setup=lambda ctx, org: {"data": {"type": "experiment", "topic": "digital", "title": "Via het web"}}),
    EndpointSpec("web loket request", "GET", "/loket/verzoeken/{id}", "owner_read", web=True, success=(200,),
                 other_status=404, overrides=(("desk", "ok"),),
                 setup=lambda ctx, org: {"path": {"id": _loket_request(ctx, org)}}),
    EndpointSpec("web loket step", "POST", "/loket/verzoeken/{id}/stap", "desk", web=True, success=(303,),
                 setup=lambda ctx, org: {"path": {"id": _loket_request(ctx, org)}, "data": {"actie": "in_review"}}),
    EndpointSpec("web loket withdraw", "POST", "/loket/verzoeken/{id}/stap", "owner_write", web=True,
                 success=(303,), other_status=404, overrides=(("desk", 403),),
                 setup=lambda ctx, org: {"path": {"id": _loket_request(ctx, org)}, "data": {"actie": "withdraw"}}),
    EndpointSpec("web loket forward", "POST", "/loket/verzoeken/{id}/doorsturen", "desk", web=True, success=(303,),
                 setup=lambda ctx, org: {"path": {"id": _loket_request(ctx, org)}, "data": {"team": "ienw"}}),
    EndpointSpec("web loket comment", "POST", "/loket/verzoeken/{id}/reactie", "owner_write", web=True,
                 success=(303,), other_status=404, overrides=(("desk", "ok"),),
                 setup=lambda ctx, org: {"path": {"id": _loket_request(ctx, org)}, "data": {"body": "Graag"}}),
    EndpointSpec("web loket queue", "GET", "/loket/bureau", "desk", web=True, success=(200,)),
    # investments are entered for the caller's own organisation (a platform admin: for none)
    EndpointSpec("web investment add", "POST", "/infrastructuur/investeringen", "editor", web=True, success=(303,),
                 setup=lambda ctx, org: {"data": {"title": f"Wifi {next(_seq)}", "technology": "public-wifi",
                                                  "phase": "idea", "cost_eur": "50000", "amount_local": "10000"}}),
    EndpointSpec("web investment edit", "POST", "/infrastructuur/investeringen/{id}/bewerken", "owner_write", web=True,
                 success=(303,), setup=lambda ctx, org: {**_investment(ctx, org), "data": {
                     "title": "Glasvezel", "technology": "fibre", "phase": "committed", "cost_eur": "2000000",
                     "amount_local": "250000"}}),
    EndpointSpec("web project edit", "POST", "/projecten/{id}/bewerken", "owner_write", web=True, success=(303,),
                 setup=lambda ctx, org: {"path": {"id": _project(ctx, org)},
                                         "data": {"title": "Nieuwe titel", "summary": "Kort", "status": "pilot"}}),
]


# --- moderated contributions (labs.moderation) ------------------------------------------------------

APPLICATION = {"contact_name": "Sam Sensor", "contact_email": "sam@sensor.example", "what": "Luchtsensoren testen",
               "start_date": "2027-03-01", "end_date": "2027-06-30"}


def _lab(ctx: MatrixContext, org: int) -> int:
    return _admin_post(ctx, "/api/v1/living-labs", lab_payload(owner_organisation_id=org))["id"]


def _contribution(ctx: MatrixContext, org: int) -> int:
    """A pending application (sent by the platform admin) to a lab owned by ``org``: ``org`` decides."""
    return _admin_post(ctx, f"/api/v1/living-labs/{_lab(ctx, org)}/applications", APPLICATION)["id"]


#: Deciding is the owner's write rule; to anyone who is not a party the contribution does not exist (404).
MODERATION_SPECS = [
    EndpointSpec("contributions list", "GET", "/api/v1/contributions", "authenticated"),
    EndpointSpec("contribution read", "GET", "/api/v1/contributions/{id}", "owner_read", other_status=404,
                 setup=lambda ctx, org: {"path": {"id": _contribution(ctx, org)}}),
    EndpointSpec("contribution accept", "POST", "/api/v1/contributions/{id}/accept", "owner_write", other_status=404,
                 setup=lambda ctx, org: {"path": {"id": _contribution(ctx, org)}}),
    EndpointSpec("contribution decline", "POST", "/api/v1/contributions/{id}/decline", "owner_write",
                 other_status=404, setup=lambda ctx, org: {"path": {"id": _contribution(ctx, org)},
                                                           "json": {"note": "Niet nu"}}),
    # Any editor may apply to test in an open lab, or offer a lesson (another organisation's: pending, 202).
    EndpointSpec("lab apply to test", "POST", "/api/v1/living-labs/{id}/applications", "editor",
                 setup=lambda ctx, org: {"path": {"id": _lab(ctx, org)}, "json": APPLICATION}),
    EndpointSpec("project lesson", "POST", "/api/v1/projects/{id}/lessons", "editor", success=(201, 202),
                 setup=lambda ctx, org: {"path": {"id": _project(ctx, org)}, "json": {"text": "Begin klein."}}),
    EndpointSpec("web inbox decide", "POST", "/inbox/{id}/besluit", "owner_write", web=True, success=(303,),
                 other_status=404, setup=lambda ctx, org: {"path": {"id": _contribution(ctx, org)},
                                                           "data": {"action": "accept"}}),
    EndpointSpec("web apply to test", "POST", "/labs/{id}/testen", "editor", web=True, success=(303,),
                 setup=lambda ctx, org: {"path": {"id": _lab(ctx, org)}, "data": APPLICATION}),
    EndpointSpec("web lab edit", "POST", "/labs/{id}/bewerken", "owner_write", web=True, success=(303,),
                 setup=lambda ctx, org: {"path": {"id": _lab(ctx, org)},
                                         "data": {"name": f"Proeftuin {next(_seq)}", "city": AMSTERDAM,
                                                  "status": "active", "open_to_external": "true",
                                                  "infrastructure": ["5g"], "offer_costs": "Gratis"}}),
    EndpointSpec("web sensor register entry", "POST", "/sensoren/{thing}/register", "owner_write", web=True,
                 success=(303,), setup=lambda ctx, org: {"path": _sta_thing(ctx, org, "open"), "data": {
                     "purpose": "Drukte meten", "processes_personal_data": "true", "legal_ground": "publieke taak",
                     "retention": "24 uur"}}),
    EndpointSpec("web solution create", "POST", "/oplossingen/nieuw", "editor", web=True, success=(303,),
                 setup=lambda ctx, org: {"data": {"name": f"Oplossing {next(_seq)}", "maturity": "pilot"}}),
    EndpointSpec("web solution edit", "POST", "/oplossingen/{id}/bewerken", "owner_write", web=True,
                 success=(303,), setup=lambda ctx, org: {"path": {"id": _admin_post(
                     ctx, "/api/v1/solutions", solution_payload(owner_organisation_id=org))["id"]},
                     "data": {"name": f"Oplossing {next(_seq)}", "maturity": "proven"}}),
    # Adopting another organisation's solution is allowed to any editor: it waits in the owner's inbox.
    EndpointSpec("web adopt", "POST", "/oplossingen/{id}/overnemen", "editor", web=True, success=(303,),
                 setup=lambda ctx, org: {"path": {"id": _adoption_payload(ctx, org)["solution_id"]},
                                         "data": {"city": AMSTERDAM, "status": "adopted"}}),
    EndpointSpec("web adoption edit", "POST", "/overnames/{id}/bewerken", "owner_write", web=True, success=(303,),
                 setup=lambda ctx, org: {"path": {"id": _admin_post(ctx, "/api/v1/adoptions", {
                     **_adoption_payload(ctx, org), "owner_organisation_id": org})["id"]},
                     "data": {"status": "piloting", "outcome": "Loopt"}}),
    EndpointSpec("web lesson", "POST", "/projecten/{id}/lessen", "editor", web=True, success=(303,),
                 setup=lambda ctx, org: {"path": {"id": _project(ctx, org)}, "data": {"text": "Begin klein."}}),
    EndpointSpec("web coalition create", "POST", "/coalities/nieuw", "editor", web=True, success=(303,),
                 setup=lambda ctx, org: {"data": {"title": f"Coalitie {next(_seq)}", "lead_city": AMSTERDAM,
                                                  "status": "active"}}),
    EndpointSpec("web coalition edit", "POST", "/coalities/{id}/bewerken", "owner_write", web=True, success=(303,),
                 setup=lambda ctx, org: {"path": {"id": _admin_post(ctx, "/api/v1/coalitions", {
                     "title": f"Coalitie {next(_seq)}", "lead_city": AMSTERDAM, "owner_organisation_id": org})["id"]},
                     "data": {"title": f"Coalitie {next(_seq)}", "lead_city": AMSTERDAM, "status": "closed"}}),
    EndpointSpec("web lab create", "POST", "/labs/nieuw", "editor", web=True, success=(303,),
                 setup=lambda ctx, org: {"data": {"name": f"Proeftuin {next(_seq)}", "city": AMSTERDAM,
                                                  "status": "active", "open_to_external": "true"}}),
]


def all_specs() -> list[EndpointSpec]:
    """Every spec, REST, SensorThings, LoRaWAN, federation and web forms (imported by other suites)."""
    return [*GOVERNANCE_SPECS, *_registry_specs(), *EVIDENCE_SPECS, *INTEROP_SPECS, *STA_SPECS, *LORAWAN_SPECS,
            *INFRASTRUCTURE_SPECS, *FEDERATION_SPECS, *WEB_SPECS, *MODERATION_SPECS]
