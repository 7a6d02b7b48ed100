"""The content the role fuzzer aims at: everything owned by organisation A, and the callers.

Organisation A owns a living lab, a project, a solution, a coalition, an event, a funding call,
a loket request, a LoRaWAN integration with a device, and three Things (open, network,
restricted; the open one also has a restricted Datastream). The callers are an administrator,
an anonymous caller, a member of A, and an editor of organisation B; an editor of A seeds the
content and owns a token the others must not be able to revoke.

:meth:`World.choices` turns an OpenAPI path template into concrete path parameters that name
these objects (so fuzzed requests hit real rows, not only 404s), each marked with the roles
from which the object is hidden; :meth:`World.snapshot` reads all of it back as the
administrator, to prove a run changed nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.factories import lab_payload, project_payload, solution_payload
from tests.governance.factories import auth_headers, make_organisation, make_token, make_user
from tests.interop.conftest import call_payload, event_payload
from tests.sensorthings.helpers import STA, datastream, location, thing

ROLES = ("admin", "anonymous", "member", "other-editor")
#: An id no row has: a hidden object must answer exactly like this one.
GHOST = 987654
#: Registry resources of A, by their path under /api/v1.
REGISTRY = {"living-labs": lab_payload, "projects": project_payload, "solutions": solution_payload,
            "coalitions": lambda: {"title": "Coalitie slimme straten", "lead_city": "GM0363"},
            "events": event_payload, "funding-calls": call_payload}
LOKET = {"type": "experiment", "topic": "digital", "title": "Algoritmeregister pilot"}
#: Who may not see a Thing or Datastream of each access class (the member belongs to A).
HIDDEN_FROM = {"open": frozenset(), "network": frozenset({"anonymous"}),
               "restricted": frozenset({"anonymous", "other-editor"})}


@dataclass(frozen=True)
class Choice:
    """Path parameters naming one of A's objects; ``ghost`` names a nonexistent one the same way."""

    params: dict[str, Any]
    ghost: dict[str, Any]
    hidden_from: frozenset[str] = frozenset()
    #: A meaningful JSON body for writes to operations whose OpenAPI has no body (SensorThings).
    body: dict | None = None


@dataclass
class World:
    org_a: int
    org_b: int
    headers: dict[str, dict[str, str]]
    secrets: list[str] = field(default_factory=list)
    registry: dict[str, int] = field(default_factory=dict)
    things: dict[str, int] = field(default_factory=dict)
    datastreams: dict[str, int] = field(default_factory=dict)  # open, network, restricted, secret
    observations: dict[str, int] = field(default_factory=dict)
    locations: dict[str, int] = field(default_factory=dict)
    users: list[int] = field(default_factory=list)
    accounts: dict[str, int] = field(default_factory=dict)  # role -> the caller's own user id
    editor_token_id: int = 0
    loket: int = 0
    integration: int = 0
    device: int = 0

    # --- aiming -----------------------------------------------------------------------------------

    def choices(self, template: str) -> list[Choice]:
        if template == f"{STA}/{{path}}":
            return self._sta_choices()
        if template.startswith("/api/v1/datastreams/{"):
            return self.csv_choices()
        one = self._single_id_targets()
        for prefix, (ids, hidden) in one.items():
            if template.startswith(prefix + "{"):
                name = template[len(prefix) + 1:].split("}", 1)[0]
                return [Choice({name: i}, {name: GHOST}, hidden) for i in ids]
        return []

    def _single_id_targets(self) -> dict[str, tuple[list[int], frozenset[str]]]:
        """Template prefix before the first placeholder -> (A's ids, roles they are hidden from)."""
        out = {f"/api/v1/{res}/": ([i], frozenset()) for res, i in self.registry.items()}
        out["/api/v1/organisations/"] = ([self.org_a], frozenset())
        out["/api/v1/funding-calls/"] = ([self.registry["funding-calls"]], frozenset())
        out["/api/v1/loket/requests/"] = ([self.loket], frozenset({"other-editor"}))
        out["/api/v1/users/"] = (self.users, frozenset())
        out["/api/v1/privacy/users/"] = (self.users, frozenset())
        out["/api/v1/tokens/"] = ([self.editor_token_id], frozenset({"member", "other-editor"}))
        out["/api/v1/lorawan/"] = ([self.integration], frozenset())
        out["/api/v1/lorawan/integrations/"] = ([self.integration], frozenset())
        out["/api/v1/lorawan/devices/"] = ([self.device], frozenset())
        return out

    @staticmethod
    def _class_of(key: str) -> str:
        return "restricted" if key == "secret" else key

    def _sta_choices(self) -> list[Choice]:
        def sta(path: str, hidden: frozenset[str], body: dict | None, real: int) -> Choice:
            return Choice({"path": path.format(real)}, {"path": path.format(GHOST)}, hidden, body)

        out = []
        for cls, i in self.things.items():
            hidden = HIDDEN_FROM[cls]
            out += [sta("Things({})", hidden, {"name": "fuzzed"}, i),
                    sta("Things({})/Datastreams", hidden, datastream(), i),
                    sta("Things({})/Locations", hidden, location(), i)]
        for key, i in self.datastreams.items():
            hidden = HIDDEN_FROM[self._class_of(key)]
            out += [sta("Datastreams({})", hidden, {"name": "fuzzed"}, i),
                    sta("Datastreams({})/Observations", hidden, {"result": 99}, i),
                    sta("Observations({})", hidden, {"result": 99}, self.observations[key])]
        for cls, i in self.locations.items():
            out.append(sta("Locations({})", HIDDEN_FROM[cls], {"name": "fuzzed"}, i))
        return out

    def csv_choices(self) -> list[Choice]:
        """The Observation CSV export of each Datastream, hidden like the Datastream itself."""
        return [Choice({"datastream_id": i}, {"datastream_id": GHOST}, HIDDEN_FROM[self._class_of(k)])
                for k, i in self.datastreams.items()]

    # --- proving nothing changed --------------------------------------------------------------------

    def snapshot(self, client) -> dict:
        """A's content as the administrator reads it (volatile bookkeeping fields left out)."""
        admin = self.headers["admin"]

        def get(path: str, **params) -> Any:
            r = client.get(path, params=params, headers=admin)
            assert r.status_code == 200, (path, r.status_code, r.text[:300])
            return _stable(r.json())

        out: dict[str, Any] = {f"/api/v1/{res}/{i}": get(f"/api/v1/{res}/{i}") for res, i in self.registry.items()}
        out["organisation"] = get(f"/api/v1/organisations/{self.org_a}")
        expand = "Datastreams($expand=Observations($orderby=id)),Locations"
        for cls, i in self.things.items():
            out[f"Thing {cls}"] = get(f"{STA}/Things({i})", **{"$expand": expand})
        out["loket"] = get(f"/api/v1/loket/requests/{self.loket}")
        out["device"] = get(f"/api/v1/lorawan/devices/{self.device}")
        out["users"] = [get(f"/api/v1/users/{u}") for u in self.users]
        out["tokens"] = get("/api/v1/tokens", organisation_id=self.org_a)
        return out


_VOLATILE = {"last_used_at", "last_login_at"}


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def build(client, db) -> World:
    """Seeds organisations A and B, the four callers and A's content; returns the world."""
    with db.session() as s:
        a, b = make_organisation(s, "Gemeente Eigenstad"), make_organisation(s, "Gemeente Anderstad")
        admin, member = make_user(s, "admin", password=None), make_user(s, "member", a, password=None)
        editor_a, editor_b = make_user(s, "editor", a, password=None), make_user(s, "editor", b, password=None)
        secrets = {"admin": make_token(s, admin), "member": make_token(s, member),
                   "other-editor": make_token(s, editor_b), "editor-a": make_token(s, editor_a)}
    headers = {role: auth_headers(secret) for role, secret in secrets.items()}
    headers["anonymous"] = {}
    w = World(a.id, b.id, headers, secrets=list(secrets.values()), users=[member.id, editor_a.id],
              accounts={"admin": admin.id, "member": member.id, "other-editor": editor_b.id})
    own = headers["editor-a"]

    def post(path: str, body: Any, as_: dict = own) -> dict:
        r = client.post(path, json=body, headers=as_)
        assert r.status_code == 201, (path, r.text)
        return r.json()

    programme = post("/api/v1/funding-programmes", {"code": "horizon-europe", "name": "Horizon Europe"},
                     as_=headers["admin"])
    w.registry["funding-programmes"] = programme["id"]  # no owner: admin-only, a target all the same
    for res, payload in REGISTRY.items():
        w.registry[res] = post(f"/api/v1/{res}", payload())["id"]
    w.loket = post("/api/v1/loket/requests", {**LOKET, "organisation_id": a.id})["id"]
    post(f"/api/v1/loket/requests/{w.loket}/comments", {"body": "Graag snel"})
    for cls in ("open", "network", "restricted"):
        streams = [datastream(name=f"{cls}-ds", Observations=[{"result": 1}])]
        if cls == "open":
            streams.append(datastream(name="secret-ds", properties={"access_class": "restricted"},
                                      Observations=[{"result": 2}]))
        register = {"access_class": cls, "owner": {"organisation_id": a.id}}
        t = post(f"{STA}/Things", thing(properties={"register": register}, Locations=[location()],
                                         Datastreams=streams), as_=headers["admin"])
        w.things[cls] = t["@iot.id"]
        read = {"headers": headers["admin"]}
        for ds in client.get(f"{STA}/Things({t['@iot.id']})/Datastreams", **read).json()["value"]:
            key = "secret" if ds["name"] == "secret-ds" else cls
            w.datastreams[key] = ds["@iot.id"]
            obs = client.get(f"{STA}/Datastreams({ds['@iot.id']})/Observations", **read).json()["value"]
            w.observations[key] = obs[0]["@iot.id"]
        w.locations[cls] = client.get(f"{STA}/Things({t['@iot.id']})/Locations", **read).json()["value"][0]["@iot.id"]
    integration = post("/api/v1/lorawan/integrations", {"name": "TTN Eigenstad", "kind": "tts"})
    w.integration = integration["id"]
    w.secrets.append(integration["secret"])
    w.device = post(f"/api/v1/lorawan/integrations/{w.integration}/devices",
                    {"dev_eui": "70B3D57ED0051234", "thing_id": w.things["network"]})["id"]
    tokens = client.get("/api/v1/tokens", headers=own).json()["items"]
    w.editor_token_id = tokens[0]["id"]
    return w
