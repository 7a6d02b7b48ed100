"""Business rules of the network registry: municipalities, themes, organisations, coalitions.

The reference resolvers (``resolve_city``, ``resolve_themes``...) are shared with
the labs capability so that every capability reports unknown references the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from stadslab.core.errors import NotFound, ValidationFailed, field_error
from stadslab.core.listing import ListParams, RegistryFilters, apply_sort, like_pattern, paginate
from stadslab.core.auth import SYSTEM, Principal
from stadslab.core.unit_of_work import unit_of_work

from .writes import deleted, saved
from .models import (
    CityNetworkMembership,
    CitySpecialisation,
    Coalition,
    Municipality,
    Organisation,
    Theme,
    coalition_cities,
    coalition_themes,
)
from .records import coalition_record, organisation_record
from .schemas import CoalitionIn, CoalitionPatch, OrganisationIn, OrganisationPatch

# --- reference resolution -------------------------------------------------------------------


def resolve_city(session: Session, code: str, field: str = "city") -> Municipality:
    city = session.get(Municipality, code)
    if city is None:
        raise ValidationFailed(f"{field}: unknown municipality code {code!r}",
                               errors=[field_error(["body", field], f"unknown municipality code {code!r}")])
    return city


def resolve_cities(session: Session, codes: Iterable[str], field: str = "cities") -> list[Municipality]:
    codes = list(codes)
    found = {m.code: m for m in session.scalars(select(Municipality).where(Municipality.code.in_(codes)))}
    missing = [c for c in codes if c not in found]
    if missing:
        raise ValidationFailed(f"{field}: unknown municipality code(s) {', '.join(missing)}",
                               errors=[field_error(["body", field], f"unknown municipality code {c!r}")
                                       for c in missing])
    return [found[c] for c in codes]


def resolve_themes(session: Session, codes: Iterable[str], field: str = "themes") -> list[Theme]:
    codes = list(codes)
    found = {t.code: t for t in session.scalars(select(Theme).where(Theme.code.in_(codes)))}
    missing = [c for c in codes if c not in found]
    if missing:
        raise ValidationFailed(f"{field}: unknown theme(s) {', '.join(missing)}",
                               errors=[field_error(["body", field], f"unknown theme {c!r}") for c in missing])
    return [found[c] for c in codes]


def resolve_organisations(session: Session, ids: Iterable[int], field: str = "organisations") -> list[Organisation]:
    ids = list(ids)
    found = {o.id: o for o in session.scalars(select(Organisation).where(Organisation.id.in_(ids)))}
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationFailed(f"{field}: unknown organisation id(s) {', '.join(map(str, missing))}",
                               errors=[field_error(["body", field], f"unknown organisation id {i}")
                                       for i in missing])
    return [found[i] for i in ids]


def city_codes_for_filter(session: Session, values: list[str]) -> list[str]:
    """Turns ``?city=`` values (codes or names, any case) into CBS codes; unknown → 422."""
    codes = []
    for value in values:
        v = value.strip()
        stmt = select(Municipality.code).where(
            or_(Municipality.code == v.upper(), func.lower(Municipality.name) == v.lower()))
        code = session.scalar(stmt)
        if code is None:
            raise ValidationFailed(f"city: unknown municipality {value!r}",
                                   errors=[field_error(["query", "city"], f"unknown municipality {value!r}")])
        codes.append(code)
    return codes


def check_theme_filter(session: Session, values: list[str]) -> list[str]:
    if values:
        known = set(session.scalars(select(Theme.code).where(Theme.code.in_(values))))
        unknown = [v for v in values if v not in known]
        if unknown:
            raise ValidationFailed(f"theme: unknown theme(s) {', '.join(unknown)}",
                                   errors=[field_error(["query", "theme"], f"unknown theme {u!r}")
                                           for u in unknown])
    return values


def check_status_filter(values: list[str], allowed: Iterable[str]) -> list[str]:
    allowed = tuple(allowed)
    bad = [v for v in values if v not in allowed]
    if bad:
        raise ValidationFailed(f"status: unknown status {', '.join(bad)}; allowed: {', '.join(allowed)}",
                               errors=[field_error(["query", "status"], f"unknown status {b!r}") for b in bad])
    return values


# --- municipalities and themes --------------------------------------------------------------


def list_municipalities(session: Session, params: ListParams, *, province: str | None = None,
                        network: str | None = None, q: str | None = None) -> tuple[list[Municipality], int]:
    stmt: Select = select(Municipality)
    if province:
        stmt = stmt.where(func.lower(Municipality.province) == province.strip().lower())
    if network:
        stmt = stmt.where(Municipality.code.in_(
            select(CityNetworkMembership.municipality_code).where(CityNetworkMembership.network == network)))
    if q:
        stmt = stmt.where(Municipality.name.ilike(like_pattern(q), escape="\\"))
    stmt = apply_sort(stmt, params.sort, {
        "name": Municipality.name, "population": Municipality.population, "code": Municipality.code,
        "province": Municipality.province, "land_area_km2": Municipality.land_area_km2,
    }, Municipality.code, "name")
    return paginate(session, stmt, params)


def get_municipality(session: Session, code: str) -> Municipality:
    m = session.get(Municipality, code.upper())
    if m is None:
        raise NotFound(f"No municipality with code {code!r}")
    return m


def municipality_outline(m: Municipality) -> dict | None:
    return json.loads(m.outline) if m.outline else None


def specialisations_of(session: Session, code: str) -> list[CitySpecialisation]:
    partner_match = CitySpecialisation.partner_codes.like(f"%{code}%")
    return list(session.scalars(select(CitySpecialisation).where(
        or_(CitySpecialisation.municipality_code == code, partner_match)).order_by(CitySpecialisation.id)))


def missing_preconditions(preconditions: Iterable[str] | None, city: Municipality) -> list[str]:
    """What a solution needs (``Solution.preconditions``) that the city does not have (its ``facts``)."""
    have = set(city.facts or ())
    return [p for p in (preconditions or ()) if p not in have]


def list_themes(session: Session) -> list[Theme]:
    return list(session.scalars(select(Theme).order_by(Theme.position)))


# --- organisations --------------------------------------------------------------------------


def list_organisations(session: Session, filters: RegistryFilters, params: ListParams,
                       kind: list[str] | None = None) -> tuple[list[Organisation], int]:
    stmt = select(Organisation)
    if filters.city:
        stmt = stmt.where(Organisation.municipality_code.in_(city_codes_for_filter(session, filters.city)))
    if kind:
        stmt = stmt.where(Organisation.kind.in_(kind))
    if filters.q:
        pat = like_pattern(filters.q)
        stmt = stmt.where(or_(Organisation.name.ilike(pat, escape="\\"),
                              Organisation.description.ilike(pat, escape="\\")))
    if filters.modified_since:
        stmt = stmt.where(Organisation.updated_at >= filters.modified_since)
    stmt = apply_sort(stmt, params.sort, {"name": Organisation.name, "kind": Organisation.kind,
                                          "created_at": Organisation.created_at,
                                          "updated_at": Organisation.updated_at}, Organisation.id, "name")
    return paginate(session, stmt, params)


def get_organisation(session: Session, org_id: int) -> Organisation:
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound(f"No organisation with id {org_id}")
    return org


def _apply_organisation(session: Session, org: Organisation, data: dict) -> None:
    if "city" in data:
        org.municipality_code = resolve_city(session, data.pop("city")).code if data.get("city") else None
        data.pop("city", None)
    for key, value in data.items():
        setattr(org, key, value)


def create_organisation(session: Session, data: OrganisationIn, *, actor: Principal = SYSTEM,
                        is_demo: bool = False) -> Organisation:
    with unit_of_work(session, f"Organisation {data.name!r} cannot be created"):
        org = Organisation(is_demo=is_demo)
        _apply_organisation(session, org, data.model_dump())
        saved(session, actor, "create", "organisation", org, organisation_record, searchable=False)
    return org


def update_organisation(session: Session, org_id: int, data: OrganisationPatch | OrganisationIn, *,
                        actor: Principal = SYSTEM) -> Organisation:
    with unit_of_work(session, "Organisation cannot be updated"):
        org = get_organisation(session, org_id)
        before = organisation_record(org)
        _apply_organisation(session, org, data.model_dump(exclude_unset=isinstance(data, OrganisationPatch)))
        saved(session, actor, "update", "organisation", org, organisation_record, before, searchable=False)
    return org


def delete_organisation(session: Session, org_id: int, *, actor: Principal = SYSTEM) -> None:
    with unit_of_work(session, "Organisation cannot be deleted"):
        deleted(session, actor, "organisation", get_organisation(session, org_id), organisation_record)


# --- coalitions -----------------------------------------------------------------------------


def list_coalitions(session: Session, filters: RegistryFilters, params: ListParams) -> tuple[list[Coalition], int]:
    stmt = select(Coalition)
    if filters.city:
        codes = city_codes_for_filter(session, filters.city)
        stmt = stmt.where(or_(Coalition.lead_municipality_code.in_(codes), Coalition.id.in_(
            select(coalition_cities.c.coalition_id).where(coalition_cities.c.municipality_code.in_(codes)))))
    if filters.theme:
        stmt = stmt.where(Coalition.id.in_(select(coalition_themes.c.coalition_id).where(
            coalition_themes.c.theme_code.in_(check_theme_filter(session, filters.theme)))))
    if filters.status:
        stmt = stmt.where(Coalition.status.in_(check_status_filter(filters.status, ("active", "closed"))))
    if filters.q:
        pat = like_pattern(filters.q)
        stmt = stmt.where(or_(Coalition.title.ilike(pat, escape="\\"), Coalition.question.ilike(pat, escape="\\"),
                              Coalition.description.ilike(pat, escape="\\")))
    if filters.modified_since:
        stmt = stmt.where(Coalition.updated_at >= filters.modified_since)
    stmt = apply_sort(stmt, params.sort, {"title": Coalition.title, "created_at": Coalition.created_at,
                                          "updated_at": Coalition.updated_at}, Coalition.id, "title")
    return paginate(session, stmt, params)


def get_coalition(session: Session, coalition_id: int) -> Coalition:
    c = session.get(Coalition, coalition_id)
    if c is None:
        raise NotFound(f"No coalition with id {coalition_id}")
    return c


def _apply_coalition(session: Session, c: Coalition, data: dict) -> None:
    if data.get("owner_organisation_id") is not None:
        resolve_organisations(session, [data["owner_organisation_id"]], "owner_organisation_id")
    if "lead_city" in data:
        c.lead_municipality_code = resolve_city(session, data.pop("lead_city"), "lead_city").code
    if "cities" in data:
        c.cities = resolve_cities(session, data.pop("cities"))
    if "organisations" in data:
        c.organisations = resolve_organisations(session, data.pop("organisations"))
    if "themes" in data:
        c.themes = resolve_themes(session, data.pop("themes"))
    for key, value in data.items():
        setattr(c, key, value)
    if c.lead_municipality_code and c.lead_municipality_code not in {m.code for m in c.cities}:
        c.cities = [*c.cities, resolve_city(session, c.lead_municipality_code, "lead_city")]


def create_coalition(session: Session, data: CoalitionIn, *, actor: Principal = SYSTEM,
                     is_demo: bool = False) -> Coalition:
    with unit_of_work(session, f"Coalition {data.title!r} cannot be created"):
        c = Coalition(is_demo=is_demo)
        _apply_coalition(session, c, data.model_dump())
        saved(session, actor, "create", "coalition", c, coalition_record)
    return c


def update_coalition(session: Session, coalition_id: int, data: CoalitionPatch | CoalitionIn, *,
                     actor: Principal = SYSTEM) -> Coalition:
    with unit_of_work(session, "Coalition cannot be updated"):
        c = get_coalition(session, coalition_id)
        before = coalition_record(c)
        _apply_coalition(session, c, data.model_dump(exclude_unset=isinstance(data, CoalitionPatch)))
        saved(session, actor, "update", "coalition", c, coalition_record, before)
    return c


def delete_coalition(session: Session, coalition_id: int, *, actor: Principal = SYSTEM) -> None:
    with unit_of_work(session, "Coalition cannot be deleted"):
        c = get_coalition(session, coalition_id)
        deleted(session, actor, "coalition", c, coalition_record, [("coalition", c.id)])
