"""Bulk import and export of the registry as JSON lines (all types) or CSV (one type).

Import is all-or-nothing: every record is validated first, problems are reported
with their line numbers, and only a fully valid file is written, in a single
transaction. Records may carry their own ``id``; references inside the file
(``living_lab_id``, ``origin_project_id``, partner ``organisation_id``...) are
resolved against those file ids first and against the database second, so an
export of one node imports cleanly into another.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from stadslab.core.auth import SYSTEM, Principal
from stadslab.governance import audit
from stadslab.network.models import Coalition, Municipality, Organisation, Theme
from stadslab.network.schemas import CoalitionIn, OrganisationIn
from stadslab.network.records import coalition_record, organisation_record
from stadslab.network.service import _apply_coalition, _apply_organisation

from .records import adoption_record, living_lab_record, project_record, solution_record
from .models import Adoption, Kpi, Lesson, LivingLab, Project, ProjectPartner, Solution, project_themes
from .schemas import AdoptionIn, LivingLabIn, ProjectIn, SolutionIn
from .service import _apply_adoption, _apply_lab, _apply_solution

TYPES: dict[str, type] = {"organisation": OrganisationIn, "living_lab": LivingLabIn, "project": ProjectIn,
                          "solution": SolutionIn, "adoption": AdoptionIn, "coalition": CoalitionIn}
ORDER = list(TYPES)  # dependency order
LIST_COLUMNS = {"themes", "lessons", "infrastructure", "regulatory_exemptions", "cities", "organisations"}


@dataclass
class ImportReport:
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class ImportFailed(Exception):
    def __init__(self, report: ImportReport):
        super().__init__(f"{len(report.errors)} invalid record(s)")
        self.report = report


def _read_records(path: Path, default_type: str | None) -> Iterator[tuple[int, dict[str, Any]]]:
    if path.suffix.lower() == ".csv":
        with open(path, newline="", encoding="utf-8") as fh:
            for n, row in enumerate(csv.DictReader(fh), start=2):
                rec: dict[str, Any] = {}
                for key, value in row.items():
                    if key is None or value is None or value == "":
                        continue
                    if key in LIST_COLUMNS:
                        rec[key] = [v.strip() for v in value.split(";") if v.strip()]
                    elif key in ("kpis", "partners", "funding_sources", "links", "geometry"):
                        rec[key] = json.loads(value)
                    else:
                        rec[key] = value
                rec.setdefault("type", default_type or "project")
                yield n, rec
        return
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                yield n, {"__error__": f"malformed JSON at column {exc.colno}: {exc.msg}"}
                continue
            if not isinstance(rec, dict):
                yield n, {"__error__": "each line must be a JSON object"}
                continue
            yield n, rec


def _validate(path: Path, default_type: str | None, report: ImportReport
              ) -> dict[str, list[tuple[int, int | None, Any]]]:
    parsed: dict[str, list[tuple[int, int | None, Any]]] = {t: [] for t in ORDER}
    for line, rec in _read_records(path, default_type):
        if "__error__" in rec:
            report.errors.append(f"line {line}: {rec['__error__']}")
            continue
        rtype = rec.pop("type", default_type)
        if rtype not in TYPES:
            report.errors.append(f"line {line}: unknown type {rtype!r} (expected one of {', '.join(ORDER)})")
            continue
        file_id = rec.pop("id", None)
        for drop in ("is_demo", "created_at", "updated_at"):
            rec.pop(drop, None)
        try:
            parsed[rtype].append((line, file_id, TYPES[rtype].model_validate(rec)))
        except ValidationError as exc:
            for err in exc.errors()[:3]:
                loc = ".".join(str(x) for x in err["loc"]) or "(record)"
                report.errors.append(f"line {line}: {loc}: {err['msg']}")
    return parsed


class _IdMap:
    """Maps ids used inside the import file to the ids the database assigns."""

    def __init__(self):
        self.maps: dict[str, dict[Any, int]] = {t: {} for t in ORDER}

    def resolve(self, rtype: str, value: int | None) -> int | None:
        if value is None:
            return None
        return self.maps[rtype].get(value, value)


def import_file(session: Session, path: Path, *, default_type: str | None = None, is_demo: bool = False,
                progress: Callable[[int], None] | None = None, actor: Principal = SYSTEM) -> ImportReport:
    report = ImportReport()
    parsed = _validate(path, default_type, report)
    if report.errors:
        raise ImportFailed(report)
    ids = _IdMap()
    try:
        for rtype in ORDER:
            records = parsed[rtype]
            if rtype == "project":
                _bulk_projects(session, records, ids, is_demo, progress)
            else:
                for line, file_id, data in records:
                    _import_one(session, rtype, line, file_id, data, ids, is_demo)
                    if progress:
                        progress(1)
            report.counts[rtype] = len(records)
        from stadslab.search import indexer

        indexer.rebuild_index(session)
        # one audit event for the whole import: per-row events would dwarf the data itself
        audit.record(session, actor, "import", "registry", None, None,
                     {"file": path.name, "counts": report.counts})
        session.commit()
    except Exception:
        session.rollback()
        raise
    return report


def _import_one(session: Session, rtype: str, line: int, file_id, data, ids: _IdMap, is_demo: bool) -> None:
    payload = data.model_dump()
    if "owner_organisation_id" in payload:
        payload["owner_organisation_id"] = ids.resolve("organisation", payload["owner_organisation_id"])
    if rtype == "organisation":
        obj = Organisation(is_demo=is_demo)
        _apply_organisation(session, obj, payload)
    elif rtype == "living_lab":
        obj = LivingLab(is_demo=is_demo)
        _apply_lab(session, obj, payload)
    elif rtype == "solution":
        payload["origin_project_id"] = ids.resolve("project", payload["origin_project_id"])
        payload["provider_organisation_id"] = ids.resolve("organisation", payload["provider_organisation_id"])
        obj = Solution(is_demo=is_demo)
        _apply_solution(session, obj, payload)
    elif rtype == "adoption":
        payload["solution_id"] = ids.resolve("solution", payload["solution_id"])
        payload["project_id"] = ids.resolve("project", payload["project_id"])
        obj = Adoption(is_demo=is_demo)
        _apply_adoption(session, obj, payload)
    else:
        payload["organisations"] = [ids.resolve("organisation", o) for o in payload["organisations"]]
        obj = Coalition(is_demo=is_demo)
        _apply_coalition(session, obj, payload)
    session.add(obj)
    session.flush()
    if file_id is not None:
        ids.maps[rtype][file_id] = obj.id


def _bulk_projects(session: Session, records, ids: _IdMap, is_demo: bool, progress) -> None:
    """Projects come in large numbers: validate references in memory and insert in batches."""
    cities = set(session.scalars(select(Municipality.code)))
    themes = set(session.scalars(select(Theme.code)))
    labs = set(session.scalars(select(LivingLab.id))) | set(ids.maps["living_lab"].values())
    orgs = set(session.scalars(select(Organisation.id))) | set(ids.maps["organisation"].values())
    problems = []
    for line, _fid, d in records:
        if d.city not in cities:
            problems.append(f"line {line}: city: unknown municipality code {d.city!r}")
        for t in d.themes:
            if t not in themes:
                problems.append(f"line {line}: themes: unknown theme {t!r}")
        if d.living_lab_id is not None and ids.resolve("living_lab", d.living_lab_id) not in labs:
            problems.append(f"line {line}: living_lab_id: unknown living lab {d.living_lab_id}")
        for p in d.partners:
            if ids.resolve("organisation", p.organisation_id) not in orgs:
                problems.append(f"line {line}: partners: unknown organisation {p.organisation_id}")
        if d.owner_organisation_id is not None and ids.resolve("organisation", d.owner_organisation_id) not in orgs:
            problems.append(f"line {line}: owner_organisation_id: unknown organisation {d.owner_organisation_id}")
    if problems:
        raise ImportFailed(ImportReport(errors=problems))

    batch = 5000
    for start in range(0, len(records), batch):
        chunk = records[start:start + batch]
        rows = [{"title": d.title, "summary": d.summary, "municipality_code": d.city,
                 "living_lab_id": ids.resolve("living_lab", d.living_lab_id), "status": d.status,
                 "start_date": d.start_date, "end_date": d.end_date, "budget_eur": d.budget_eur,
                 "funding_sources": [f.model_dump() for f in d.funding_sources],
                 "links": [lk.model_dump() for lk in d.links], "is_demo": is_demo,
                 "owner_organisation_id": ids.resolve("organisation", d.owner_organisation_id)}
                for _line, _fid, d in chunk]
        new_ids = list(session.scalars(insert(Project).returning(Project.id, sort_by_parameter_order=True), rows))
        theme_rows, kpi_rows, lesson_rows, partner_rows = [], [], [], []
        for pid, (_line, fid, d) in zip(new_ids, chunk):
            if fid is not None:
                ids.maps["project"][fid] = pid
            theme_rows += [{"project_id": pid, "theme_code": t} for t in d.themes]
            kpi_rows += [{"project_id": pid, "position": i, **k.model_dump()} for i, k in enumerate(d.kpis)]
            lesson_rows += [{"project_id": pid, "position": i, "text": t} for i, t in enumerate(d.lessons)]
            partner_rows += [{"project_id": pid, "organisation_id": ids.resolve("organisation", p.organisation_id),
                              "role": p.role} for p in d.partners]
        for table, rows_ in ((project_themes, theme_rows), (Kpi.__table__, kpi_rows),
                             (Lesson.__table__, lesson_rows), (ProjectPartner.__table__, partner_rows)):
            if rows_:
                session.execute(insert(table), rows_)
        if progress:
            progress(len(chunk))


# --- export ---------------------------------------------------------------------------------


RECORDS = {"organisation": organisation_record, "living_lab": living_lab_record, "project": project_record,
           "solution": solution_record, "adoption": adoption_record, "coalition": coalition_record}


def _export_record(rtype: str, obj) -> dict[str, Any]:
    return {"type": rtype, "id": obj.id, **RECORDS[rtype](obj)}


MODELS = {"organisation": Organisation, "living_lab": LivingLab, "project": Project, "solution": Solution,
          "adoption": Adoption, "coalition": Coalition}


def iter_export(session: Session, types: Iterable[str] = ORDER) -> Iterator[dict[str, Any]]:
    for rtype in types:
        model = MODELS[rtype]
        stmt = select(model).order_by(model.id).execution_options(yield_per=1000)
        for obj in session.scalars(stmt):
            yield _export_record(rtype, obj)


def write_export(session: Session, out: io.TextIOBase, fmt: str = "jsonl", rtype: str | None = None) -> int:
    n = 0
    if fmt == "jsonl":
        for rec in iter_export(session, [rtype] if rtype else ORDER):
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
        return n
    if not rtype:
        raise ValueError("CSV export needs one type (--type)")
    writer = None
    for rec in iter_export(session, [rtype]):
        flat = {k: (";".join(map(str, v)) if k in LIST_COLUMNS and isinstance(v, list)
                    else json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v)
                for k, v in rec.items()}
        if writer is None:
            writer = csv.DictWriter(out, fieldnames=list(flat))
            writer.writeheader()
        writer.writerow(flat)
        n += 1
    return n
