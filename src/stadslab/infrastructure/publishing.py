"""What the infrastructure capability publishes through interop: two OGC API Features collections
(``infrastructure``, ``coverage-lorawan``), the CSV/xlsx exports of the register and the investment
agenda, and the register's entry in the DCAT catalogue. Registered once, at import (contribution)."""

from __future__ import annotations

from sqlalchemy import func, select

from stadslab.interop import dcat, exports
from stadslab.interop.features import CollectionDef, register_collection

from . import coverage, service
from .models import ALL, Asset, CoverageCell, Investment


def _asset_light(session, objs):
    return {o.id: (o.geometry, o.updated_at, o.updated_at) for o in objs}


def _asset_feature(session, obj, base):
    return service.asset_feature(service.asset_out(session, obj), base)


def _cell_light(session, objs):
    return {o.id: (coverage.cell_polygon(o.cell), o.first_time, o.last_time) for o in objs}


def _asset_row(a: Asset) -> list:
    point = exports._geometry_point(a.geometry)
    return [a.id, a.name, a.type, a.status, a.openness or "", a.observed, a.owner_organisation_id,
            a.operator_organisation_id, a.municipality_code, " ".join(str(lab.id) for lab in a.labs), *point,
            a.updated_at]


def _investment_row(i: Investment) -> list:
    out = service.investment_out(i)
    per_party = {p: 0.0 for p in ("state", "market", "regional", "local", "eu")}
    for c in i.contributions:
        per_party[c.party_type] += c.amount_eur
    return [i.id, i.title, i.technology, i.phase, " ".join(out.municipalities), i.cost_eur, out.committed_eur,
            out.gap_eur, *per_party.values(), " ".join(map(str, out.asset_ids)), i.updated_at]


def register() -> None:
    register_collection(CollectionDef(
        "infrastructure", Asset, "Digital infrastructure",
        "Het infrastructuurregister: LoRaWAN-gateways (ook waargenomen), 5G-locaties, glasvezel, wifi, NB-IoT.",
        lambda: select(Asset).order_by(Asset.id), _asset_light, _asset_feature,
        "datetime filters on the last modification (updated_at)", prepare=service.sync_observed))
    register_collection(CollectionDef(
        "coverage-lorawan", CoverageCell, "LoRaWAN coverage (H3 cells)",
        "LoRaWAN-dekking per H3-cel, geleerd uit echte uplinks: gateways gehoord, beste en mediane RSSI/SNR.",
        lambda: select(CoverageCell).where(CoverageCell.period == ALL).order_by(CoverageCell.id), _cell_light,
        lambda s, o, base: coverage.cell_feature(o),
        "datetime filters on the reception period (first/last reception)", prepare=coverage.refresh))
    exports.SPECS.setdefault("infrastructure", exports.ExportSpec(
        "infrastructure", ("id", "name", "type", "status", "openness", "observed", "owner_organisation_id",
                           "operator_organisation_id", "city_code", "living_lab_ids", "longitude", "latitude",
                           "updated_at"), _asset_row, lambda *a, **k: None))
    exports.SPECS.setdefault("investments", exports.ExportSpec(
        "investments", ("id", "title", "technology", "phase", "city_codes", "cost_eur", "committed_eur", "gap_eur",
                        "state_eur", "market_eur", "regional_eur", "local_eur", "eu_eur", "asset_ids", "updated_at"),
        _investment_row, lambda *a, **k: None))
    dcat.register_list("infrastructure", "Digitale infrastructuur",
                       "Het register van digitale infrastructuur (LoRaWAN, 5G, glasvezel, wifi, NB-IoT) met eigenaar, "
                       "openheid en status, en waargenomen LoRaWAN-gateways.", True,
                       modified=lambda session: session.scalar(select(func.max(Asset.updated_at))))
