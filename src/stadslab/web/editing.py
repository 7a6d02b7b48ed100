"""Editing registry content in the browser: the content overview and the project form.

The overview (``/beheer/inhoud``) is for administrators. The project form
(``/projecten/{id}/bewerken``) follows the registry's own rule, the same one
``PATCH /api/v1/projects/{id}`` applies: administrators may edit any project,
editors the projects of their own organisation (``authorize_write``). Input is
validated by ``ProjectPatch`` and ``update_project``, so the form accepts
exactly what the API accepts; errors appear next to their fields, in the
reader's language, with what was typed kept.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from stadslab.core.auth import authorize_write
from stadslab.core.errors import StadslabError
from stadslab.core.listing import ListParams, RegistryFilters

from . import vocabulary
from .auth import page_principal, require_admin, require_login
from .forms import END_BEFORE_START, ordered, pydantic_errors, service_errors
from .i18n import language_of, translations
from .pages import _session
from .profiles import _id
from .rendering import render
from .vocabulary import N_

router = APIRouter(include_in_schema=False)

SCOPE = "registry:write"
PAGE_SIZE = 50
PROJECT_FIELDS = ("title", "summary", "status", "living_lab_id", "start_date", "end_date")
STATUS_MOVE = N_("A project with this status cannot move to the chosen status.")
UNKNOWN_LAB = N_("Choose a living lab from the list.")
KINDS = {"projecten": N_("Projects"), "labs": N_("Living labs"), "oplossingen": N_("Solutions")}


@router.get("/beheer/inhoud", response_class=HTMLResponse)
def content(request: Request):
    from stadslab.labs import service as labs

    require_admin(request)
    lang = language_of(request)
    params = request.query_params
    kind = params.get("soort") if params.get("soort") in KINDS else "projecten"
    q = (params.get("q") or "").strip()[:200]
    raw_page = params.get("pagina", "1")
    page = max(1, int(raw_page)) if raw_page.isdigit() and len(raw_page) < 7 else 1
    filters = RegistryFilters(city=[], theme=[], status=[], q=q or None, modified_since=None)
    listing = ListParams(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, sort="-updated_at")
    with _session(request) as session:
        if kind == "projecten":
            rows, total = labs.list_projects(session, filters, listing)
            items = [{"title": p.title, "url": f"/projecten/{p.id}", "edit": f"/projecten/{p.id}/bewerken",
                      "status": p.status, "city": p.municipality.name, "updated_at": p.updated_at} for p in rows]
        elif kind == "labs":
            rows, total = labs.list_living_labs(session, filters, listing)
            items = [{"title": lab.name, "url": f"/labs/{lab.id}", "edit": None, "status": lab.status,
                      "city": lab.municipality.name, "updated_at": lab.updated_at} for lab in rows]
        else:
            rows, total = labs.list_solutions(session, filters, listing)
            items = [{"title": s.name, "url": f"/oplossingen/{s.id}", "edit": None, "status": s.maturity,
                      "city": s.origin_project.municipality.name if s.origin_project else None,
                      "updated_at": s.updated_at} for s in rows]
    gettext = translations(lang).gettext
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    base = f"/beheer/inhoud?soort={kind}&" + (f"q={q}&" if q else "")
    return render(request, "admin/content.html", {
        "kind": kind, "kinds": [(k, gettext(v)) for k, v in KINDS.items()], "q": q, "items": items,
        "total": total, "page": page, "pages": pages, "pager_base": base,
    }, lang=lang)


def _status_options(current: str | None, lang: str) -> list[tuple[str, str]]:
    from stadslab.labs.models import PROJECT_TRANSITIONS

    allowed = [current] if current else []
    allowed += sorted(PROJECT_TRANSITIONS.get(current or "", set()),
                      key=lambda s: list(vocabulary.STATUS_LABELS).index(s))
    return [(s, vocabulary.status_label(s, lang)) for s in allowed]


def _edit_page(request: Request, project, form: dict, errors: dict | None = None,
               status_code: int = 200) -> HTMLResponse:
    from sqlalchemy import select

    from stadslab.labs.models import LivingLab

    lang = language_of(request)
    with _session(request) as session:
        labs = [(str(i), n) for i, n in session.execute(select(LivingLab.id, LivingLab.name).order_by(LivingLab.name))]
    return render(request, "project_edit.html", {
        "project": project, "form": form, "errors": errors or {}, "lab_options": labs,
        "status_options": _status_options(project.status, lang), "no_store": True,
    }, status_code=status_code, lang=lang)


def _reversed(start: str, end: str) -> bool:
    try:
        return bool(start and end) and date.fromisoformat(end) < date.fromisoformat(start)
    except ValueError:
        return False


def _editable(request: Request, session, project_id: str):
    from stadslab.labs import service as labs

    require_login(request)  # authenticate before looking the project up (anonymous: the login page)
    project = labs.get_project(session, _id(project_id))
    authorize_write(page_principal(request), project.owner_organisation_id, SCOPE)
    return project


@router.get("/projecten/{project_id}/bewerken", response_class=HTMLResponse)
def edit_project(request: Request, project_id: str):
    with _session(request) as session:
        p = _editable(request, session, project_id)
        form = {"title": p.title, "summary": p.summary or "", "status": p.status,
                "living_lab_id": str(p.living_lab_id or ""),
                "start_date": p.start_date.isoformat() if p.start_date else "",
                "end_date": p.end_date.isoformat() if p.end_date else ""}
        return _edit_page(request, p, form)


@router.post("/projecten/{project_id}/bewerken", response_class=HTMLResponse)
def save_project(request: Request, project_id: str, title: str = Form(""), summary: str = Form(""),
                 status: str = Form(""), start_date: str = Form(""), end_date: str = Form(""),
                 living_lab_id: str = Form("")):
    """Saves the project; a living lab of another organisation is linked once its editors accept."""
    from stadslab.labs import service as labs
    from stadslab.labs.schemas import ProjectPatch

    lang = language_of(request)
    form = {"title": title, "summary": summary, "status": status, "start_date": start_date.strip(),
            "end_date": end_date.strip(), "living_lab_id": living_lab_id.strip()}
    lab = form["living_lab_id"]
    with _session(request) as session:
        project = _editable(request, session, project_id)
        try:
            patch = ProjectPatch(title=title, summary=summary, status=status or None,
                                 start_date=form["start_date"] or None, end_date=form["end_date"] or None,
                                 living_lab_id=(int(lab) if lab.isdigit() and len(lab) < 12 else lab) if lab else None)
        except ValidationError as exc:
            errors = pydantic_errors(exc, lang, PROJECT_FIELDS)
            if _reversed(form["start_date"], form["end_date"]):
                # pydantic checks the dates together only once every field is valid; say it now, not next time
                errors = ordered({**errors, "end_date": translations(lang).gettext(END_BEFORE_START)},
                                 PROJECT_FIELDS)
            return _edit_page(request, project, form, errors, 422)
        try:
            labs.update_project(session, project.id, patch, actor=page_principal(request))
        except StadslabError as exc:
            if exc.status not in (409, 422):
                raise
            session.rollback()
            known = {"status": translations(lang).gettext(STATUS_MOVE),
                     "living_lab_id": translations(lang).gettext(UNKNOWN_LAB)}
            project = labs.get_project(session, project.id)
            return _edit_page(request, project, form, service_errors(exc, lang, PROJECT_FIELDS, known), 422)
        target = project.id
    suffix = "&lang=en" if lang == "en" and request.query_params.get("lang") == "en" else ""
    return RedirectResponse(f"/projecten/{target}?melding=opgeslagen{suffix}", status_code=303)
