"""CSV and Excel exports of every registry list, streamed, with the list API's filters.

Filters are checked (unknown theme or city → 422) *before* the first byte is sent;
rows are then read in ``yield_per`` batches in a session of the generator's own,
so a large table is never held in memory. Excel files are written by xlsxwriter in
constant-memory mode into a spooled temporary file, then streamed out.

Spreadsheet formula injection: a text cell starting with ``= + - @`` (or a tab or
carriage return) is prefixed with ``'`` in both formats, and xlsx text is always
written as a string cell, never as a formula.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from stadslab.core.database import Database
from stadslab.core.errors import ValidationFailed, field_error
from stadslab.core.listing import RegistryFilters, like_pattern
from stadslab.labs.models import (ADOPTION_STATUSES, LAB_STATUSES, PROJECT_STATUSES, Adoption, LivingLab, Project,
                                  Solution, lab_themes, project_themes, solution_themes)
from stadslab.network.models import ORGANISATION_KINDS, Coalition, Organisation, coalition_cities, coalition_themes
from stadslab.network.service import check_status_filter, check_theme_filter, city_codes_for_filter

from . import timeutil
from .calendar import EventFilters, matching_events
from .funding import CallFilters, calls_statement
from .models import Event, FundingCall

BATCH = 500
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
DANGEROUS_FIRST = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: Any) -> Any:
    """A cell value as exported: text that a spreadsheet would run as a formula is defused."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime):
        return timeutil.aware_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    return "'" + text if text.startswith(DANGEROUS_FIRST) else text


def _codes(items) -> str:
    return " ".join(t.code for t in items)


@dataclass
class ExportSpec:
    name: str
    columns: tuple[str, ...]
    row: Callable[[Any], list[Any]]
    #: Builds the statement from the filters, validating them (runs before streaming).
    statement: Callable[..., Select | None]
    #: For exports that cannot be one SQL statement (recurring events in a window).
    rows: Callable[[Session, Any], Iterator[Any]] | None = None


def _registry(stmt: Select, session: Session, f: RegistryFilters, *, city_col=None, theme_link=None,
              status_col=None, statuses=(), text_cols=(), updated_col=None) -> Select:
    if f.city and city_col is not None:
        stmt = stmt.where(city_col.in_(city_codes_for_filter(session, f.city)))
    if f.theme and theme_link is not None:
        table, fk, col = theme_link
        stmt = stmt.where(fk.in_(select(col).where(table.c.theme_code.in_(check_theme_filter(session, f.theme)))))
    if f.status and status_col is not None:
        stmt = stmt.where(status_col.in_(check_status_filter(f.status, statuses)))
    if f.q and text_cols:
        pat = like_pattern(f.q)
        stmt = stmt.where(or_(*(c.ilike(pat, escape="\\") for c in text_cols)))
    if f.modified_since and updated_col is not None:
        stmt = stmt.where(updated_col >= f.modified_since)
    return stmt


def _labs_stmt(session: Session, f: RegistryFilters, infrastructure: list[str] | None = None,
               open_to_external: bool | None = None, **_) -> Select:
    stmt = _registry(select(LivingLab), session, f, city_col=LivingLab.municipality_code,
                     theme_link=(lab_themes, LivingLab.id, lab_themes.c.living_lab_id), status_col=LivingLab.status,
                     statuses=LAB_STATUSES, text_cols=(LivingLab.name, LivingLab.description),
                     updated_col=LivingLab.updated_at)
    if open_to_external is not None:
        stmt = stmt.where(LivingLab.open_to_external == open_to_external)
    if infrastructure:
        wanted = set(infrastructure)
        ids = [i for i, infra in session.execute(stmt.with_only_columns(LivingLab.id, LivingLab.infrastructure))
               if wanted <= set(infra or [])]
        stmt = stmt.where(LivingLab.id.in_(ids))
    return stmt.order_by(LivingLab.name, LivingLab.id)


def _projects_stmt(session: Session, f: RegistryFilters, living_lab: int | None = None, **_) -> Select:
    stmt = _registry(select(Project), session, f, city_col=Project.municipality_code,
                     theme_link=(project_themes, Project.id, project_themes.c.project_id), status_col=Project.status,
                     statuses=PROJECT_STATUSES, text_cols=(Project.title, Project.summary),
                     updated_col=Project.updated_at)
    if living_lab is not None:
        stmt = stmt.where(Project.living_lab_id == living_lab)
    return stmt.order_by(Project.title, Project.id)


def _solutions_stmt(session: Session, f: RegistryFilters, **_) -> Select:
    stmt = _registry(select(Solution), session, f, theme_link=(solution_themes, Solution.id,
                                                               solution_themes.c.solution_id),
                     status_col=Solution.maturity, statuses=("pilot", "proven", "mature"),
                     text_cols=(Solution.name, Solution.description), updated_col=Solution.updated_at)
    if f.city:
        codes = city_codes_for_filter(session, f.city)
        stmt = stmt.where(Solution.id.in_(select(Adoption.solution_id).where(Adoption.municipality_code.in_(codes))))
    return stmt.order_by(Solution.name, Solution.id)


def _adoptions_stmt(session: Session, f: RegistryFilters, solution: int | None = None, **_) -> Select:
    stmt = _registry(select(Adoption), session, f, city_col=Adoption.municipality_code, status_col=Adoption.status,
                     statuses=ADOPTION_STATUSES, text_cols=(Adoption.outcome,), updated_col=Adoption.updated_at)
    if f.theme:
        stmt = stmt.where(Adoption.solution_id.in_(select(solution_themes.c.solution_id).where(
            solution_themes.c.theme_code.in_(check_theme_filter(session, f.theme)))))
    if solution is not None:
        stmt = stmt.where(Adoption.solution_id == solution)
    return stmt.order_by(Adoption.adopted_on, Adoption.id)


def _organisations_stmt(session: Session, f: RegistryFilters, kind: list[str] | None = None, **_) -> Select:
    stmt = _registry(select(Organisation), session, f, city_col=Organisation.municipality_code,
                     text_cols=(Organisation.name, Organisation.description), updated_col=Organisation.updated_at)
    if kind:
        bad = [k for k in kind if k not in ORGANISATION_KINDS]
        if bad:
            raise ValidationFailed(f"kind: unknown organisation kind {', '.join(bad)}",
                                   errors=[field_error(["query", "kind"], f"unknown kind {b!r}") for b in bad])
        stmt = stmt.where(Organisation.kind.in_(kind))
    return stmt.order_by(Organisation.name, Organisation.id)


def _coalitions_stmt(session: Session, f: RegistryFilters, **_) -> Select:
    stmt = _registry(select(Coalition), session, RegistryFilters([], f.theme, f.status, f.q, f.modified_since),
                     theme_link=(coalition_themes, Coalition.id, coalition_themes.c.coalition_id),
                     status_col=Coalition.status, statuses=("active", "closed"),
                     text_cols=(Coalition.title, Coalition.question, Coalition.description),
                     updated_col=Coalition.updated_at)
    if f.city:
        codes = city_codes_for_filter(session, f.city)
        stmt = stmt.where(or_(Coalition.lead_municipality_code.in_(codes), Coalition.id.in_(
            select(coalition_cities.c.coalition_id).where(coalition_cities.c.municipality_code.in_(codes)))))
    return stmt.order_by(Coalition.title, Coalition.id)


def _calls_stmt(session: Session, f: CallFilters, **_) -> Select:
    return calls_statement(session, f)


def _events_check(session: Session, f: EventFilters, **_) -> None:
    from .calendar import _statement

    _statement(session, f)  # validates theme/city/kind before streaming
    return None


def _events_rows(session: Session, f: EventFilters) -> Iterator[Event]:
    yield from matching_events(session, f)


def _geometry_point(geom: dict | None) -> tuple[float | None, float | None]:
    if not geom:
        return None, None
    from shapely.geometry import shape

    c = shape(geom).centroid
    return round(c.x, 6), round(c.y, 6)


SPECS: dict[str, ExportSpec] = {
    "living-labs": ExportSpec(
        "living-labs",
        ("id", "name", "city_code", "city", "status", "themes", "infrastructure", "open_to_external", "description",
         "website", "longitude", "latitude", "is_demo", "updated_at"),
        lambda o: [o.id, o.name, o.municipality_code, o.municipality.name, o.status, _codes(o.themes),
                   " ".join(o.infrastructure or []), o.open_to_external, o.description, o.website,
                   *_geometry_point(o.geometry), o.is_demo, o.updated_at],
        _labs_stmt),
    "projects": ExportSpec(
        "projects",
        ("id", "title", "city_code", "city", "status", "themes", "living_lab_id", "start_date", "end_date",
         "budget_eur", "summary", "partners", "is_demo", "updated_at"),
        lambda o: [o.id, o.title, o.municipality_code, o.municipality.name, o.status, _codes(o.themes),
                   o.living_lab_id, o.start_date, o.end_date, o.budget_eur, o.summary,
                   "; ".join(p.organisation.name for p in o.partners), o.is_demo, o.updated_at],
        _projects_stmt),
    "solutions": ExportSpec(
        "solutions",
        ("id", "name", "maturity", "themes", "origin_project_id", "adoptions", "description", "is_demo", "updated_at"),
        lambda o: [o.id, o.name, o.maturity, _codes(o.themes), o.origin_project_id, len(o.adoptions), o.description,
                   o.is_demo, o.updated_at],
        _solutions_stmt),
    "adoptions": ExportSpec(
        "adoptions",
        ("id", "solution_id", "solution", "city_code", "city", "project_id", "adopted_on", "status", "outcome",
         "is_demo", "updated_at"),
        lambda o: [o.id, o.solution_id, o.solution.name, o.municipality_code, o.municipality.name, o.project_id,
                   o.adopted_on, o.status, o.outcome, o.is_demo, o.updated_at],
        _adoptions_stmt),
    "organisations": ExportSpec(
        "organisations",
        ("id", "name", "kind", "city_code", "website", "description", "is_demo", "updated_at"),
        lambda o: [o.id, o.name, o.kind, o.municipality_code, o.website, o.description, o.is_demo, o.updated_at],
        _organisations_stmt),
    "coalitions": ExportSpec(
        "coalitions",
        ("id", "title", "lead_city_code", "cities", "themes", "status", "question", "is_demo", "updated_at"),
        lambda o: [o.id, o.title, o.lead_municipality_code, " ".join(c.code for c in o.cities), _codes(o.themes),
                   o.status, o.question, o.is_demo, o.updated_at],
        _coalitions_stmt),
    "events": ExportSpec(
        "events",
        ("id", "uid", "kind", "title", "start_utc", "end_utc", "timezone", "all_day", "rrule", "location", "city",
         "country", "themes", "represented_cities", "is_demo", "updated_at"),
        lambda o: [o.id, o.uid, o.kind, o.title, o.starts_at, o.ends_at, o.timezone, o.all_day, o.rrule,
                   o.location_name, o.city, o.country, _codes(o.themes),
                   " ".join(r.municipality_code for r in o.representatives if r.municipality_code),
                   o.is_demo, o.updated_at],
        _events_check, _events_rows),
    "funding-calls": ExportSpec(
        "funding-calls",
        ("id", "programme", "identifier", "title", "status", "themes", "opens_on", "deadline_utc",
         "deadline_timezone", "budget_eur", "url", "is_demo", "updated_at"),
        lambda o: [o.id, o.programme.code, o.identifier, o.title, o.status, _codes(o.themes), o.opens_on,
                   o.deadline_at, o.deadline_timezone, o.budget_eur, o.url, o.is_demo, o.updated_at],
        _calls_stmt),
}


def prepare(session: Session, name: str, filters: Any, extra: dict[str, Any]) -> Select | None:
    """Validate the filters and build the statement; raises 4xx before anything is streamed."""
    return SPECS[name].statement(session, filters, **extra)


def iterate(db: Database, name: str, stmt: Select | None, filters: Any) -> Iterator[list[Any]]:
    spec = SPECS[name]
    with db.session() as session:
        objects = (spec.rows(session, filters) if spec.rows is not None
                   else session.scalars(stmt.execution_options(yield_per=BATCH)))
        for obj in objects:
            yield [safe_text(v) for v in spec.row(obj)]


def stream_csv(db: Database, name: str, stmt: Select | None, filters: Any) -> Iterator[bytes]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    buf.write("\ufeff")  # BOM: Excel then reads the file as UTF-8
    writer.writerow(SPECS[name].columns)
    for row in iterate(db, name, stmt, filters):
        writer.writerow(["" if v is None else v for v in row])
        if buf.tell() > 64_000:
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode()


def stream_xlsx(db: Database, name: str, stmt: Select | None, filters: Any) -> Iterator[bytes]:
    import xlsxwriter

    with tempfile.SpooledTemporaryFile(max_size=8_000_000) as out:
        wb = xlsxwriter.Workbook(out, {"constant_memory": True, "strings_to_formulas": False,
                                       "strings_to_numbers": False, "strings_to_urls": False,
                                       "remove_timezone": True})
        ws = wb.add_worksheet(name[:31])
        bold = wb.add_format({"bold": True})
        for col, title in enumerate(SPECS[name].columns):
            ws.write_string(0, col, title, bold)
        for r, row in enumerate(iterate(db, name, stmt, filters), start=1):
            for col, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, bool):
                    ws.write_boolean(r, col, value)
                elif isinstance(value, (int, float)):
                    ws.write_number(r, col, value)
                else:
                    ws.write_string(r, col, value)
        ws.freeze_panes(1, 0)
        wb.close()
        out.seek(0)
        while chunk := out.read(64_000):
            yield chunk


OBSERVATION_COLUMNS = ("phenomenon_time_start", "phenomenon_time_end", "result_time", "result")


def stream_observations(db: Database, datastream_id: int) -> Iterator[bytes]:
    """All Observations of one Datastream, oldest first, in ``yield_per`` batches."""
    from stadslab.sensorthings.model.tables import Observation

    o = Observation.__table__
    stmt = (select(o.c.phenomenon_time_start, o.c.phenomenon_time_end, o.c.result_time, o.c.result)
            .where(o.c.datastream_id == datastream_id).order_by(o.c.phenomenon_time_start, o.c.id)
            .execution_options(yield_per=BATCH * 4))
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(OBSERVATION_COLUMNS)
    with db.session() as session:
        for row in session.execute(stmt):
            writer.writerow(["" if v is None else safe_text(v) for v in row])
            if buf.tell() > 64_000:
                yield buf.getvalue().encode()
                buf.seek(0)
                buf.truncate()
    yield buf.getvalue().encode()
