"""Infrastructure use cases: the register of assets, observed gateways, investments, neighbourhoods,
and the figures per city.

Rights: an asset is changed by administrators and by editors of its owner *or* its operator
organisation (the registry rule ``core.auth.authorize_write``, applied to either); an
investment by administrators and editors of its owner organisation (a municipality or the
national team). Reads are public: assets, gateway positions and coverage are infrastructure
data; device identifiers never appear in them.

Observed gateways: every gateway heard in traffic (``lorawan_gateways``) gets an asset with
``observed = true`` and no owner (:func:`sync_observed`, run before the register is read);
an editor claims it by creating an asset that names the gateway (its EUI or id), which turns
that observed asset into the described one.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from typing import Any

from shapely.geometry import shape
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from stadslab.core.auth import Principal, authenticate_writer, authorize_write, may_write
from stadslab.core.database import utcnow
from stadslab.core.errors import BadRequest, NotFound, ValidationFailed, field_error
from stadslab.core.unit_of_work import unit_of_work
from stadslab.governance import audit
from stadslab.governance.models import LoketRequest
from stadslab.labs.models import LivingLab
from stadslab.network.models import Municipality, Organisation
from stadslab.sensorthings.lorawan.models import LorawanGateway

from . import coverage
from .models import (ASSET_TYPES, OPENNESS, PARTY_TYPES, PHASES, STATUSES, Asset, Contribution, Investment,
                     Neighbourhood)
from .schemas import AssetIn, AssetOut, AssetPatch, GatewayOut, InvestmentIn, InvestmentOut

SCOPE = "registry:write"
FILTERS = {"type": ASSET_TYPES, "openness": OPENNESS, "status": STATUSES}


# --- filters ---------------------------------------------------------------------------------

def check_choice(name: str, values: list[str], allowed: tuple[str, ...]) -> list[str]:
    """400 naming the parameter and the allowed values for anything unknown."""
    bad = [v for v in values if v not in allowed]
    if bad:
        msg = f"unknown value {bad[0][:40]!r}; allowed: {', '.join(allowed)}"
        raise BadRequest(f"{name}: {msg}", errors=[{"loc": ["query", name], "field": name, "msg": msg}])
    return values


def check_municipalities(session: Session, codes: list[str], loc: list[str | int]) -> list[str]:
    known = set(session.scalars(select(Municipality.code).where(Municipality.code.in_(codes)))) if codes else set()
    for i, code in enumerate(codes):
        if code not in known:
            msg = f"unknown municipality code {code[:10]!r} (CBS code such as GM0363)"
            if loc and loc[0] == "query":
                raise BadRequest(f"{'.'.join(map(str, loc))}: {msg}", errors=[field_error(loc, msg)])
            raise ValidationFailed(f"{'.'.join(map(str, [*loc, i]))}: {msg}", errors=[field_error([*loc, i], msg)])
    return codes


# --- observed gateways ----------------------------------------------------------------------

def sync_observed(session: Session) -> int:
    """An observed asset for every gateway heard that no asset stands for yet; commits when any.

    Readers run it, possibly at the same time: the insert skips a gateway another reader has
    registered meanwhile (unique ``gateway_ref``) instead of failing."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    claimed = select(Asset.gateway_ref).where(Asset.gateway_ref.is_not(None))
    new = list(session.scalars(select(LorawanGateway).where(LorawanGateway.id.not_in(claimed))
                               .order_by(LorawanGateway.id)))
    if not new:
        return 0
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    rows = []
    for g in new:
        geometry = _gateway_point(g)
        rows.append({"name": f"LoRaWAN gateway {g.gateway_id}"[:200], "type": "lorawan-gateway", "description": "",
                     "status": "live", "openness": None, "observed": True, "gateway_ref": g.id,
                     "geometry": geometry, "created_at": now, "updated_at": now,
                     "municipality_code": coverage.municipality_of_point(session, g.latitude, g.longitude)
                     if geometry else None})
    with unit_of_work(session, "Observed gateways not registered"):
        session.execute(insert(Asset.__table__).on_conflict_do_nothing(index_elements=["gateway_ref"]), rows)
    return len(new)


def _gateway_point(g: LorawanGateway) -> dict | None:
    if g.latitude is None or g.longitude is None:
        return None
    return {"type": "Point", "coordinates": [round(g.longitude, 6), round(g.latitude, 6)]}


def _refresh_observed_position(session: Session, assets: list[Asset], gateways: dict[int, LorawanGateway]) -> None:
    """An observed asset follows its gateway's reported position (described ones keep their own)."""
    for a in assets:
        g = gateways.get(a.gateway_ref) if a.gateway_ref else None
        if a.observed and g is not None:
            point = _gateway_point(g)
            if point is not None and point != a.geometry:
                a.geometry = point
                a.municipality_code = coverage.municipality_of_point(session, g.latitude, g.longitude)


# --- the register ----------------------------------------------------------------------------

def asset_statement(*, types: list[str] = (), municipality: list[str] = (), openness: list[str] = (),
                    status: list[str] = (), living_lab: int | None = None) -> Select:
    stmt = select(Asset).order_by(Asset.id)
    if living_lab is not None:
        stmt = stmt.where(Asset.labs.any(LivingLab.id == living_lab))
    if types:
        stmt = stmt.where(Asset.type.in_(types))
    if municipality:
        stmt = stmt.where(Asset.municipality_code.in_(municipality))
    if openness:
        stmt = stmt.where(Asset.openness.in_(openness))
    if status:
        stmt = stmt.where(Asset.status.in_(status))
    return stmt


def list_assets(session: Session, *, types: list[str] = (), municipality: list[str] = (),
                openness: list[str] = (), status: list[str] = (), living_lab: int | None = None) -> list[Asset]:
    check_choice("type", list(types), ASSET_TYPES)
    check_choice("openness", list(openness), OPENNESS)
    check_choice("status", list(status), STATUSES)
    check_municipalities(session, list(municipality), ["query", "municipality"])
    sync_observed(session)
    assets = list(session.scalars(asset_statement(types=types, municipality=municipality, openness=openness,
                                                  status=status, living_lab=living_lab)))
    gateways = _gateways(session, assets)
    _refresh_observed_position(session, assets, gateways)
    if session.dirty:
        with unit_of_work(session, "Observed gateway positions not updated"):
            pass
    return assets


def _gateways(session: Session, assets: list[Asset]) -> dict[int, LorawanGateway]:
    refs = [a.gateway_ref for a in assets if a.gateway_ref]
    return {g.id: g for g in session.scalars(select(LorawanGateway).where(LorawanGateway.id.in_(refs)))} \
        if refs else {}


def get_asset(session: Session, asset_id: int) -> Asset:
    asset = session.get(Asset, asset_id)
    if asset is None:
        raise NotFound(f"Infrastructure asset {asset_id} does not exist")
    return asset


def asset_out(session: Session, a: Asset, gateways: dict[int, LorawanGateway] | None = None) -> AssetOut:
    gateways = gateways if gateways is not None else _gateways(session, [a])
    g = gateways.get(a.gateway_ref) if a.gateway_ref else None
    out = AssetOut.model_validate(a)
    out.living_lab_ids = sorted(lab.id for lab in a.labs)
    if g is not None:
        out.gateway = GatewayOut(
            gateway_id=g.gateway_id, eui=g.eui,
            reported_position=[g.longitude, g.latitude] if g.latitude is not None else None,
            first_seen=g.first_seen, last_seen=g.last_seen, uplinks_heard=g.uplinks_heard,
            messages_heard=g.messages_heard, rejected_receptions=g.rejected)
    return out


def assets_out(session: Session, assets: list[Asset]) -> list[AssetOut]:
    gateways = _gateways(session, assets)
    return [asset_out(session, a, gateways) for a in assets]


def authorize_asset(principal: Principal, asset: Asset) -> None:
    """Admins, and editors of the owner or the operator organisation."""
    if may_write(principal, asset.operator_organisation_id, SCOPE) and asset.operator_organisation_id is not None:
        return
    authorize_write(principal, asset.owner_organisation_id, SCOPE)


def _snapshot(a: Asset) -> dict[str, Any]:
    return {"name": a.name, "type": a.type, "owner_organisation_id": a.owner_organisation_id,
            "operator_organisation_id": a.operator_organisation_id, "openness": a.openness, "status": a.status,
            "municipality_code": a.municipality_code, "gateway_ref": a.gateway_ref, "observed": a.observed,
            "living_lab_ids": sorted(lab.id for lab in a.labs)}


def _organisation(session: Session, org_id: int | None, field: str) -> None:
    if org_id is not None and session.get(Organisation, org_id) is None:
        raise ValidationFailed(f"{field}: organisation {org_id} does not exist",
                               errors=[field_error(["body", field], "no such organisation")])


def _apply(session: Session, a: Asset, data: dict[str, Any]) -> None:
    for f in ("owner_organisation_id", "operator_organisation_id"):
        if f in data:
            _organisation(session, data[f], f)
    if data.get("municipality_code") is not None:
        check_municipalities(session, [data["municipality_code"]], ["body", "municipality_code"])
    if "living_lab_ids" in data:
        ids = list(dict.fromkeys(data.pop("living_lab_ids") or []))
        labs = list(session.scalars(select(LivingLab).where(LivingLab.id.in_(ids)))) if ids else []
        missing = sorted(set(ids) - {lab.id for lab in labs})
        if missing:
            raise ValidationFailed(f"living_lab_ids: living lab {missing[0]} does not exist",
                                   errors=[field_error(["body", "living_lab_ids", ids.index(missing[0])],
                                                       "no such living lab")])
        a.labs = labs
    for key, value in data.items():
        if key != "gateway":
            setattr(a, key, value)
    if a.geometry is not None and a.municipality_code is None:
        c = shape(a.geometry).representative_point()
        a.municipality_code = coverage.municipality_of_point(session, c.y, c.x)


def _gateway_by_name(session: Session, name: str) -> LorawanGateway:
    text = name.strip()
    key = text.replace("-", "").replace(":", "").upper()
    g = session.scalar(select(LorawanGateway).where(LorawanGateway.eui == key).limit(1)) if len(key) == 16 else None
    g = g or session.scalar(select(LorawanGateway).where(LorawanGateway.gateway_id == text).limit(1))
    if g is None:
        raise ValidationFailed(f"gateway: no gateway {text[:40]!r} has been heard",
                               errors=[field_error(["body", "gateway"], "no such gateway heard in traffic")])
    return g


def create_asset(session: Session, data: AssetIn, principal: Principal) -> Asset:
    """A new asset, or (with ``gateway``) the description of an observed gateway: a claim."""
    values = data.model_dump()
    if values["owner_organisation_id"] is None:
        values["owner_organisation_id"] = principal.organisation_id
    authorize_write(principal, values["owner_organisation_id"], SCOPE)
    if values["operator_organisation_id"] is not None and values["operator_organisation_id"] != \
            values["owner_organisation_id"]:
        _organisation(session, values["operator_organisation_id"], "operator_organisation_id")
    asset = None
    if data.gateway:
        if data.type != "lorawan-gateway":
            raise ValidationFailed("gateway: only a lorawan-gateway asset can claim a gateway",
                                   errors=[field_error(["body", "gateway"], "type must be lorawan-gateway")])
        g = _gateway_by_name(session, data.gateway)
        sync_observed(session)
        asset = session.scalar(select(Asset).where(Asset.gateway_ref == g.id))
        if asset is not None and not asset.observed:
            raise ValidationFailed(f"gateway: gateway {g.gateway_id} is claimed by asset {asset.id} already",
                                   errors=[field_error(["body", "gateway"], "already claimed")])
        if values["geometry"] is None:
            values["geometry"] = _gateway_point(g)
    before = _snapshot(asset) if asset is not None else None
    new = asset is None
    asset = asset or Asset()
    asset.observed = False
    with session.no_autoflush:  # the checks query; the row is complete only afterwards
        _apply(session, asset, values)
    if new:
        session.add(asset)
    with unit_of_work(session, "Asset not stored"):
        session.flush()
        audit.record(session, principal, "claim" if before else "create", "infra_asset", asset.id, before,
                     _snapshot(asset))
    return asset


def update_asset(session: Session, asset_id: int, data: AssetPatch, principal: Principal) -> Asset:
    authenticate_writer(principal)
    asset = get_asset(session, asset_id)
    authorize_asset(principal, asset)
    values = data.model_dump(exclude_unset=True)
    for f in ("name", "type", "status"):
        if f in values and values[f] is None:
            raise ValidationFailed(f"{f}: may not be null", errors=[field_error(["body", f], "may not be null")])
    if values.get("owner_organisation_id") is not None:
        authorize_write(principal, values["owner_organisation_id"], SCOPE)
    before = _snapshot(asset)
    with session.no_autoflush:
        _apply(session, asset, values)
    if asset.owner_organisation_id is not None:
        asset.observed = False
    with unit_of_work(session, "Asset not changed"):
        session.flush()
        audit.record(session, principal, "update", "infra_asset", asset.id, before, _snapshot(asset))
    return asset


def delete_asset(session: Session, asset_id: int, principal: Principal) -> None:
    authenticate_writer(principal)
    asset = get_asset(session, asset_id)
    authorize_asset(principal, asset)
    before = _snapshot(asset)
    with unit_of_work(session, "Asset not deleted"):
        if asset.gateway_ref is not None:  # the gateway is still heard: back to observed
            asset.observed, asset.owner_organisation_id, asset.operator_organisation_id = True, None, None
            asset.openness, asset.description, asset.labs = None, "", []
        else:
            session.delete(asset)
        session.flush()
        audit.record(session, principal, "delete", "infra_asset", asset_id, before, None)


def asset_feature(out: AssetOut, base: str = "") -> dict[str, Any]:
    props = out.model_dump(mode="json", exclude={"geometry", "id"})
    props["url"] = f"{base}/api/v1/infrastructure/{out.id}"
    return {"type": "Feature", "id": out.id, "geometry": out.geometry, "properties": props}


# --- investments -----------------------------------------------------------------------------

def _check_contributions(data: InvestmentIn) -> None:
    for i, c in enumerate(data.contributions):
        if c.amount_eur < 0:
            raise ValidationFailed(f"contributions.{i}.amount_eur: must not be negative",
                                   errors=[field_error(["body", "contributions", i, "amount_eur"],
                                                       "must not be negative")])
    total = sum(c.amount_eur for c in data.contributions)
    if total > data.cost_eur + 0.005:
        msg = f"contributions add up to {total:,.2f} EUR, more than cost_eur {data.cost_eur:,.2f}"
        raise ValidationFailed(f"contributions: {msg}", errors=[field_error(["body", "contributions"], msg)])


def _visible_requests(session: Session, principal: Principal | None, ids: list[int]) -> list[LoketRequest]:
    """The loket requests among ``ids`` that ``principal`` may see (the loket's own rule)."""
    from stadslab.core.errors import Unauthorized
    from stadslab.governance import loket

    out = []
    for request_id in dict.fromkeys(ids):
        try:
            out.append(loket.get_request(session, principal, request_id))
        except (NotFound, Unauthorized):
            continue
    return out


def _apply_investment(session: Session, inv: Investment, data: InvestmentIn, principal: Principal) -> None:
    _check_contributions(data)
    _organisation(session, data.owner_organisation_id, "owner_organisation_id")
    codes = list(dict.fromkeys(data.municipalities))
    check_municipalities(session, codes, ["body", "municipalities"])
    assets = list(session.scalars(select(Asset).where(Asset.id.in_(data.asset_ids)))) if data.asset_ids else []
    missing = sorted(set(data.asset_ids) - {a.id for a in assets})
    if missing:
        raise ValidationFailed(f"asset_ids: asset {missing[0]} does not exist",
                               errors=[field_error(["body", "asset_ids", data.asset_ids.index(missing[0])],
                                                   "no such asset")])
    requests = _visible_requests(session, principal, data.loket_request_ids)
    missing = sorted(set(data.loket_request_ids) - {r.id for r in requests})
    if missing:  # one the caller may not see is as unknown
        raise ValidationFailed(f"loket_request_ids: loket request {missing[0]} does not exist",
                               errors=[field_error(["body", "loket_request_ids",
                                                    data.loket_request_ids.index(missing[0])], "no such request")])
    inv.title, inv.technology, inv.phase = data.title.strip(), data.technology, data.phase
    inv.cost_eur, inv.description, inv.owner_organisation_id = data.cost_eur, data.description, \
        data.owner_organisation_id
    inv.municipalities = list(session.scalars(select(Municipality).where(Municipality.code.in_(codes)))) \
        if codes else []
    inv.assets, inv.loket_requests = assets, requests
    inv.contributions = [Contribution(**c.model_dump()) for c in data.contributions]


def _inv_snapshot(inv: Investment) -> dict[str, Any]:
    return {"title": inv.title, "technology": inv.technology, "phase": inv.phase, "cost_eur": inv.cost_eur,
            "owner_organisation_id": inv.owner_organisation_id,
            "contributions": [[c.party_type, c.amount_eur, c.committed] for c in inv.contributions]}


def create_investment(session: Session, data: InvestmentIn, principal: Principal) -> Investment:
    if data.owner_organisation_id is None and principal.organisation_id is not None:
        data = data.model_copy(update={"owner_organisation_id": principal.organisation_id})
    authorize_write(principal, data.owner_organisation_id, SCOPE)
    inv = Investment()
    _apply_investment(session, inv, data, principal)
    session.add(inv)
    with unit_of_work(session, "Investment not stored"):
        session.flush()
        audit.record(session, principal, "create", "infra_investment", inv.id, None, _inv_snapshot(inv))
    return inv


def get_investment(session: Session, investment_id: int) -> Investment:
    inv = session.get(Investment, investment_id)
    if inv is None:
        raise NotFound(f"Investment {investment_id} does not exist")
    return inv


def update_investment(session: Session, investment_id: int, data: InvestmentIn, principal: Principal) -> Investment:
    authenticate_writer(principal)
    inv = get_investment(session, investment_id)
    authorize_write(principal, inv.owner_organisation_id, SCOPE)
    if data.owner_organisation_id is None:
        data = data.model_copy(update={"owner_organisation_id": inv.owner_organisation_id})
    authorize_write(principal, data.owner_organisation_id, SCOPE)
    before = _inv_snapshot(inv)
    with session.no_autoflush:
        _apply_investment(session, inv, data, principal)
    with unit_of_work(session, "Investment not changed"):
        session.flush()
        audit.record(session, principal, "update", "infra_investment", inv.id, before, _inv_snapshot(inv))
    return inv


def delete_investment(session: Session, investment_id: int, principal: Principal) -> None:
    authenticate_writer(principal)
    inv = get_investment(session, investment_id)
    authorize_write(principal, inv.owner_organisation_id, SCOPE)
    before = _inv_snapshot(inv)
    with unit_of_work(session, "Investment not deleted"):
        session.delete(inv)
        session.flush()
        audit.record(session, principal, "delete", "infra_investment", investment_id, before, None)


def committed(inv: Investment) -> float:
    return sum(c.amount_eur for c in inv.contributions if c.committed)


def investment_out(inv: Investment, principal: Principal | None = None) -> InvestmentOut:
    """``loket_request_ids``: only the requests ``principal`` may see (none for the public)."""
    done = committed(inv)
    requests = sorted(r.id for r in inv.loket_requests if principal is not None and not principal.is_anonymous
                      and (principal.role == "admin" or r.organisation_id == principal.organisation_id))
    return InvestmentOut(
        id=inv.id, title=inv.title, technology=inv.technology, phase=inv.phase, cost_eur=inv.cost_eur,
        description=inv.description, owner_organisation_id=inv.owner_organisation_id,
        municipalities=sorted(m.code for m in inv.municipalities), asset_ids=sorted(a.id for a in inv.assets),
        loket_request_ids=requests,
        contributions=[c for c in inv.contributions], committed_eur=round(done, 2),
        gap_eur=round(max(inv.cost_eur - done, 0.0), 2), created_at=inv.created_at, updated_at=inv.updated_at)


def list_investments(session: Session, *, technology: list[str] = (), municipality: list[str] = (),
                     phase: list[str] = ()) -> list[Investment]:
    check_choice("technology", list(technology), ASSET_TYPES)
    check_choice("phase", list(phase), PHASES)
    check_municipalities(session, list(municipality), ["query", "municipality"])
    stmt = select(Investment).order_by(Investment.id)
    if technology:
        stmt = stmt.where(Investment.technology.in_(technology))
    if phase:
        stmt = stmt.where(Investment.phase.in_(phase))
    found = list(session.scalars(stmt))
    if municipality:
        found = [i for i in found if {m.code for m in i.municipalities} & set(municipality)]
    return found


def totals(investments: list[Investment]) -> dict[str, Any]:
    """Cost, committed and gap per municipality and per technology; amounts per party type.

    An investment for several municipalities counts in full for each of them (the share is not
    known); the grand total counts it once."""
    def blank() -> dict[str, float]:
        return {"cost_eur": 0.0, "committed_eur": 0.0, "gap_eur": 0.0, "investments": 0}
    by_city: dict[str, dict] = defaultdict(blank)
    by_tech: dict[str, dict] = defaultdict(blank)
    by_party = {p: {"committed_eur": 0.0, "pledged_eur": 0.0} for p in PARTY_TYPES}
    grand = blank()
    for inv in investments:
        done = committed(inv)
        figures = {"cost_eur": inv.cost_eur, "committed_eur": done, "gap_eur": max(inv.cost_eur - done, 0.0)}
        targets = [by_tech[inv.technology], grand, *(by_city[m.code] for m in inv.municipalities)]
        for t in targets:
            for k, v in figures.items():
                t[k] += v
            t["investments"] += 1
        for c in inv.contributions:
            by_party[c.party_type]["committed_eur" if c.committed else "pledged_eur"] += c.amount_eur

    def rounded(d: dict) -> dict:
        return {k: round(v, 2) if isinstance(v, float) else v for k, v in d.items()}
    return {"total": rounded(grand), "per_municipality": {k: rounded(v) for k, v in sorted(by_city.items())},
            "per_technology": {k: rounded(v) for k, v in sorted(by_tech.items())},
            "per_party_type": {k: rounded(v) for k, v in by_party.items()}}


def investment_matches(session: Session, investment_id: int, limit: int = 5) -> list[dict[str, Any]]:
    """Open funding calls that match the investment's text (the registry's matcher)."""
    from stadslab.interop import matching
    from stadslab.interop.funding import days_until, open_calls
    from stadslab.interop.service import call_doc

    inv = get_investment(session, investment_id)
    now = matching.now_utc()
    calls = open_calls(session, now)
    docs = [call_doc(c) for c in calls]
    by_id = {c.id: c for c in calls}
    text = " ".join([inv.title, inv.title, inv.description, inv.technology.replace("-", " "),
                     "infrastructuur digitale infrastructure"])
    query = matching.analyse_doc(f"investment-{inv.id}", text, {"digital"})
    out = []
    for doc, m in matching.rank(query, docs, [*docs, query])[:limit]:
        c = by_id[doc.key]
        out.append({"funding_call": {"id": c.id, "title": c.title, "url": c.url},
                    "score": m.score, "explanation": matching.explain(m, days_until(c.deadline_at, now))})
    return out


# --- neighbourhoods --------------------------------------------------------------------------

NEIGHBOURHOOD_COLUMNS = ("code", "name", "municipality", "households", "average_income", "outline")


def import_neighbourhoods(session: Session, text: str) -> int:
    """All lines or none: the first bad line is reported with its number (header is line 1)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in NEIGHBOURHOOD_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ValidationFailed(f"line 1: missing column(s) {', '.join(missing)}; expected "
                               f"{', '.join(NEIGHBOURHOOD_COLUMNS)}")
    municipalities = set(session.scalars(select(Municipality.code)))
    rows: list[Neighbourhood] = []
    seen: set[str] = set()
    for line, rec in enumerate(reader, start=2):
        def bad(msg: str) -> ValidationFailed:
            return ValidationFailed(f"line {line}: {msg}; nothing imported",
                                    errors=[{"loc": ["line", line], "field": f"line {line}", "msg": msg}])
        code = (rec.get("code") or "").strip()
        if not code or len(code) > 12 or not code.startswith("BU"):
            raise bad(f"unknown neighbourhood code {code[:20]!r} (a CBS buurt code such as BU03630000)")
        if code in seen:
            raise bad(f"neighbourhood {code} appears twice")
        seen.add(code)
        city = (rec.get("municipality") or "").strip()
        if city not in municipalities:
            raise bad(f"unknown municipality code {city[:10]!r}")
        try:
            households = int(rec["households"]) if (rec.get("households") or "").strip() else None
            income = float(rec["average_income"].replace(",", ".")) if (rec.get("average_income") or "").strip() \
                else None
        except ValueError:
            raise bad("households must be a whole number and average_income a number") from None
        try:
            outline = json.loads(rec.get("outline") or "")
            geom = shape(outline)
            if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
                raise ValueError
        except Exception:  # noqa: BLE001
            raise bad("outline must be a GeoJSON Polygon or MultiPolygon") from None
        rows.append(Neighbourhood(code=code, name=(rec.get("name") or code).strip()[:200], municipality_code=city,
                                  households=households, average_income=income, outline=outline))
    with unit_of_work(session, "Neighbourhoods not imported"):
        for n in rows:
            session.merge(n)
    return len(rows)


def neighbourhood_coverage(session: Session, municipality: str | None = None) -> list[dict[str, Any]]:
    """Per neighbourhood: cells, covered cells, share, next to households and income."""
    import h3

    from stadslab.sensorthings.lorawan.receptions import CELL_RESOLUTION

    coverage.refresh(session)
    stmt = select(Neighbourhood).order_by(Neighbourhood.code)
    if municipality:
        stmt = stmt.where(Neighbourhood.municipality_code == municipality)
    covered = {c.cell for c in coverage.cells(session)}
    out = []
    for n in session.scalars(stmt):
        cells = set(h3.geo_to_cells(n.outline, CELL_RESOLUTION))
        if not cells:  # smaller than one cell: the cell of its centre
            p = shape(n.outline).representative_point()
            cells = {h3.latlng_to_cell(p.y, p.x, CELL_RESOLUTION)}
        hit = len(cells & covered)
        out.append({"code": n.code, "name": n.name, "municipality": n.municipality_code,
                    "households": n.households, "average_income": n.average_income, "cells": len(cells),
                    "covered_cells": hit, "share": round(hit / len(cells), 4)})
    return out


def uncovered_neighbourhoods(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Neighbourhoods without any coverage, lowest income first (unknown income last)."""
    return sorted((r for r in rows if r["covered_cells"] == 0),
                  key=lambda r: (r["average_income"] is None, r["average_income"] or 0, r["code"]))


# --- figures per city (national dashboard) ---------------------------------------------------

def city_figures(session: Session, municipality_code: str) -> dict[str, Any]:
    """Infrastructure figures of one municipality for the national view.

    ``gateways``: LoRaWAN gateway assets by openness (``open``, ``community``, ``private``,
    ``observed`` for those nobody claimed yet); ``coverage``: the share of the municipality's
    H3 cells with coverage; ``investment``: cost, committed and gap of the investments that
    name the municipality."""
    check_municipalities(session, [municipality_code], ["query", "municipality"])
    sync_observed(session)
    coverage.refresh(session)
    gateways = {"open": 0, "community": 0, "private": 0, "observed": 0}
    for a in session.scalars(select(Asset).where(Asset.type == "lorawan-gateway", Asset.status != "retired",
                                                 Asset.municipality_code == municipality_code)):
        gateways["observed" if a.observed else a.openness or "observed"] += 1
    invest = totals(list_investments(session, municipality=[municipality_code]))["total"]
    return {"municipality": municipality_code, "gateways": gateways, "coverage": coverage.share(session,
                                                                                               municipality_code),
            "investment": {"cost_eur": invest["cost_eur"], "committed_eur": invest["committed_eur"],
                           "gap_eur": invest["gap_eur"], "investments": invest["investments"]}}


# --- exports ---------------------------------------------------------------------------------

def check_period(period: str) -> str:
    import re

    if period != "all" and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
        msg = "must be 'all' or a month such as 2024-05"
        raise BadRequest(f"period: {msg}", errors=[{"loc": ["query", "period"], "field": "period", "msg": msg}])
    return period


def export_statement(session: Session, filters: dict) -> Select:
    list_assets(session, **filters)  # validates the filters, registers observed gateways
    return asset_statement(**filters)


def investment_export_statement(session: Session, filters: dict) -> Select:
    ids = [i.id for i in list_investments(session, **filters)]
    return select(Investment).where(Investment.id.in_(ids)).order_by(Investment.id)


# --- a lab's facilities ----------------------------------------------------------------------

#: A lab's free infrastructure codes (labs.models.INFRASTRUCTURE) that an asset type stands for.
LAB_CODES = {"lorawan": "lorawan-gateway", "5g": "5g-site", "fibre": "fibre", "wifi": "public-wifi",
             "nb-iot": "nb-iot"}


def lab_facilities(session: Session, lab: LivingLab) -> list[dict[str, Any]]:
    """What a living lab offers: the assets that serve it, then the free codes no such asset covers."""
    assets = list(session.scalars(select(Asset).join(Asset.labs).where(LivingLab.id == lab.id)
                                  .order_by(Asset.type, Asset.name)))
    types = {a.type for a in assets}
    out = [{"asset_id": a.id, "name": a.name, "type": a.type, "code": None} for a in assets]
    out += [{"asset_id": None, "name": None, "type": None, "code": code} for code in (lab.infrastructure or [])
            if LAB_CODES.get(code) not in types]
    return out
