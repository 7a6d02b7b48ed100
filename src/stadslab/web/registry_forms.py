"""Web forms for the rest of the registry: solutions, adoptions, lessons learned and coalitions.

One small machine serves them all (``FormSpec``): a GET shows the form, a POST
validates with the API's own schema and saves through the API's own service, and
a form with errors comes back with every message next to its field and the input
kept. Rights are the registry's one write rule (``authorize_write``): a new item
belongs to the editor's organisation, an existing one is edited by the editors of
its owner and administrators. What attaches to another organisation's content (an
adoption of its solution, a lesson for its project) is sent to that organisation's
inbox (``labs.moderation``) instead of being published.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select

from stadslab.core.auth import authorize_write
from stadslab.core.errors import StadslabError

from . import vocabulary
from .auth import page_principal, require_login
from .forms import pydantic_errors, service_errors
from .i18n import language_of, translations
from .pages import _session
from .profiles import _id
from .rendering import render
from .vocabulary import N_

router = APIRouter(include_in_schema=False)

SCOPE = "registry:write"
ALREADY_ADOPTED = N_("Your city already has an adoption of this solution.")
UNKNOWN_CHOICE = N_("Choose one of the options.")


@dataclass
class Field:
    name: str
    label: str
    kind: str = "text"  # text, textarea, select, checkboxes, date
    required: bool = False
    maxlength: int | None = None
    description: str | None = None
    #: (session, lang) -> [(value, label)] for select and checkboxes
    options: Callable[[Any, str], list[tuple[str, str]]] | None = None
    empty: str | None = None


@dataclass
class FormSpec:
    key: str
    heading_new: str
    heading_edit: str
    fields: tuple[Field, ...]
    #: the item (edit) or the parent (new) from an id; None: no parent
    load: Callable[[Any, int], Any] | None = None
    load_parent: Callable[[Any, int], Any] | None = None
    owner_of: Callable[[Any], int | None] = lambda obj: obj.owner_organisation_id
    initial: Callable[[Any], dict] = lambda obj: {}
    #: (session, form, principal, parent) -> saved object (or a pending contribution)
    create: Callable[..., Any] | None = None
    update: Callable[..., Any] | None = None
    title_of: Callable[[Any], str] = lambda obj: getattr(obj, "name", None) or getattr(obj, "title", "")
    #: where to go after saving (and to cancel): (object or parent) -> path
    done_url: Callable[[Any], str] = lambda obj: "/"
    defaults: dict = field(default_factory=dict)

    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def _themes(session, lang):
    from stadslab.network.models import Theme

    return [(t.code, vocabulary.theme_name(t, lang)) for t in session.scalars(select(Theme).order_by(Theme.code))]


def _cities(session, lang):
    from stadslab.network.models import Municipality

    return [(c, n) for c, n in session.execute(select(Municipality.code, Municipality.name)
                                                .order_by(Municipality.name))]


def _statuses(*codes):
    return lambda session, lang: [(c, vocabulary.status_label(c, lang)) for c in codes]


def _blank(form: dict, *names) -> dict:
    """Empty optional values as None, so the schema sees 'not given' rather than an empty string."""
    return {k: (None if k in names and not (v.strip() if isinstance(v, str) else v) else v) for k, v in form.items()}


# --- the forms ------------------------------------------------------------------------------------


def _solution_initial(s) -> dict:
    return {"name": s.name, "description": s.description or "", "maturity": s.maturity,
            "themes": [t.code for t in s.themes]}


def _create_solution(session, form, principal, parent):
    from stadslab.labs import service as labs
    from stadslab.labs.schemas import SolutionIn

    return labs.create_solution(session, SolutionIn(**form, owner_organisation_id=principal.organisation_id),
                                actor=principal)


def _update_solution(session, obj, form, principal):
    from stadslab.labs import service as labs
    from stadslab.labs.schemas import SolutionPatch

    return labs.update_solution(session, obj.id, SolutionPatch(**form), actor=principal)


def _get_solution(session, i):
    from stadslab.labs import service as labs

    return labs.get_solution(session, i)


def _get_adoption(session, i):
    from stadslab.labs import service as labs

    return labs.get_adoption(session, i)


def _get_project(session, i):
    from stadslab.labs import service as labs

    return labs.get_project(session, i)


def _get_coalition(session, i):
    from stadslab.network import service as network

    return network.get_coalition(session, i)


def _adoption_initial(a) -> dict:
    return {"city": a.municipality_code, "status": a.status, "outcome": a.outcome or "",
            "adopted_on": a.adopted_on.isoformat() if a.adopted_on else ""}


def _create_adoption(session, form, principal, solution):
    from stadslab.labs import service as labs
    from stadslab.labs.schemas import AdoptionIn

    data = _blank(form, "adopted_on")
    return labs.create_adoption(session, AdoptionIn(**data, solution_id=solution.id,
                                                    owner_organisation_id=principal.organisation_id), actor=principal)


def _update_adoption(session, obj, form, principal):
    from stadslab.labs import service as labs
    from stadslab.labs.schemas import AdoptionPatch

    data = _blank({k: v for k, v in form.items() if k != "city"}, "adopted_on")
    return labs.update_adoption(session, obj.id, AdoptionPatch(**data), actor=principal)


def _create_lesson(session, form, principal, project):
    from stadslab.labs import moderation
    from stadslab.labs.schemas import LessonIn

    return moderation.add_lesson(session, project.id, LessonIn(**form).text, actor=principal)


def _coalition_initial(c) -> dict:
    return {"title": c.title, "question": c.question or "", "description": c.description or "",
            "lead_city": c.lead_municipality_code, "status": c.status, "themes": [t.code for t in c.themes]}


def _create_coalition(session, form, principal, parent):
    from stadslab.network import service as network
    from stadslab.network.schemas import CoalitionIn

    return network.create_coalition(session, CoalitionIn(**form, owner_organisation_id=principal.organisation_id),
                                    actor=principal)


def _update_coalition(session, obj, form, principal):
    from stadslab.network import service as network
    from stadslab.network.schemas import CoalitionPatch

    return network.update_coalition(session, obj.id, CoalitionPatch(**form), actor=principal)


SPECS = {
    "solution": FormSpec(
        key="solution", heading_new=N_("New solution"), heading_edit=N_("Edit %(name)s"),
        fields=(Field("name", N_("Name"), required=True, maxlength=200,
                      description=N_("From 2 to 200 characters; unique in the network.")),
                Field("description", N_("Description"), "textarea", maxlength=20000),
                Field("maturity", N_("Maturity"), "select", required=True,
                      options=_statuses("pilot", "proven", "mature")),
                Field("themes", N_("Themes"), "checkboxes", options=_themes)),
        load=_get_solution, initial=_solution_initial, create=_create_solution, update=_update_solution,
        done_url=lambda s: f"/oplossingen/{s.id}", defaults={"maturity": "pilot", "themes": []}),
    "adoption": FormSpec(
        key="adoption", heading_new=N_("We adopted %(name)s"), heading_edit=N_("Edit the adoption of %(name)s"),
        fields=(Field("city", N_("Municipality"), "select", required=True, options=_cities,
                      empty=N_("Choose a municipality")),
                Field("status", N_("Status"), "select", required=True,
                      options=_statuses("planned", "piloting", "adopted", "abandoned")),
                Field("adopted_on", N_("Date of adoption"), "date", description=N_("For example 2024-03-15.")),
                Field("outcome", N_("Result"), "textarea", maxlength=10000,
                      description=N_("What the adoption brought, in figures where possible."))),
        load=_get_adoption, load_parent=_get_solution, initial=_adoption_initial, create=_create_adoption,
        update=_update_adoption, title_of=lambda obj: obj.solution.name if hasattr(obj, "solution") else obj.name,
        done_url=lambda obj: f"/oplossingen/{getattr(obj, 'solution_id', None) or obj.id}",
        defaults={"status": "adopted"}),
    "lesson": FormSpec(
        key="lesson", heading_new=N_("Add a lesson learned to %(name)s"), heading_edit="",
        fields=(Field("text", N_("Lesson learned"), "textarea", required=True, maxlength=5000,
                      description=N_("What others can learn from this project. At least 3 characters.")),),
        load_parent=_get_project, create=_create_lesson, title_of=lambda p: p.title,
        done_url=lambda p: f"/projecten/{p.id}"),
    "coalition": FormSpec(
        key="coalition", heading_new=N_("New coalition"), heading_edit=N_("Edit %(name)s"),
        fields=(Field("title", N_("Title"), required=True, maxlength=300, description=N_("From 3 to 300 characters.")),
                Field("question", N_("Question"), "textarea", maxlength=2000,
                      description=N_("The shared question the coalition works on.")),
                Field("description", N_("Description"), "textarea", maxlength=10000),
                Field("lead_city", N_("Lead city"), "select", required=True, options=_cities,
                      empty=N_("Choose a municipality")),
                Field("status", N_("Status"), "select", required=True, options=_statuses("active", "closed")),
                Field("themes", N_("Themes"), "checkboxes", options=_themes)),
        load=_get_coalition, initial=_coalition_initial, create=_create_coalition, update=_update_coalition,
        title_of=lambda c: c.title, done_url=lambda c: f"/coalities/{c.id}/bewerken",
        defaults={"status": "active", "themes": []}),
}


# --- the machine -----------------------------------------------------------------------------------


def _page(request: Request, spec: FormSpec, session, *, action: str, heading: str, back: str, form: dict,
          errors: dict | None = None, status_code: int = 200, notice: str | None = None):
    lang = language_of(request)
    gettext = translations(lang).gettext
    fields = [{"name": f.name, "label": gettext(f.label), "kind": f.kind, "required": f.required,
               "maxlength": f.maxlength, "description": gettext(f.description) if f.description else None,
               "options": f.options(session, lang) if f.options else [],
               "empty": gettext(f.empty) if f.empty else None} for f in spec.fields]
    return render(request, "registry_form.html", {
        "fields": fields, "form": form, "errors": errors or {}, "action": action, "heading": heading,
        "back": back, "no_store": True, "notice": notice, "labels": {f["name"]: f["label"] for f in fields},
    }, status_code=status_code, lang=lang)


async def _posted(request: Request, spec: FormSpec) -> dict:
    data = await request.form()
    form: dict = {}
    for f in spec.fields:
        form[f.name] = [str(v) for v in data.getlist(f.name)] if f.kind == "checkboxes" else str(data.get(f.name, ""))
    return form


def _errors(spec: FormSpec, exc: Exception, lang: str) -> dict:
    gettext = translations(lang).gettext
    if isinstance(exc, ValidationError):
        return pydantic_errors(exc, lang, spec.names())
    assert isinstance(exc, StadslabError)
    known = {f.name: gettext(UNKNOWN_CHOICE) for f in spec.fields if f.kind in ("select", "checkboxes")}
    if exc.status == 409 and spec.key == "adoption":
        return {"city": gettext(ALREADY_ADOPTED)}
    return service_errors(exc, lang, spec.names(), known)


def _suffix(request: Request, lang: str) -> str:
    return "&lang=en" if lang == "en" and request.query_params.get("lang") == "en" else ""


def _heading(spec: FormSpec, text: str, obj, lang: str) -> str:
    return translations(lang).gettext(text) % {"name": spec.title_of(obj)} if obj is not None and "%(" in text \
        else translations(lang).gettext(text)


def _new_routes(spec: FormSpec, path: str) -> None:
    def load_parent(session, parent_id: str | None):
        return spec.load_parent(session, _id(parent_id)) if spec.load_parent and parent_id is not None else None

    def show(request: Request, parent_id: str | None = None):
        principal = require_login(request)
        authorize_write(principal, principal.organisation_id, SCOPE)  # editors create for their organisation
        lang = language_of(request)
        with _session(request) as session:
            parent = load_parent(session, parent_id)
            form = {f.name: ([] if f.kind == "checkboxes" else "") for f in spec.fields} | spec.defaults
            if spec.key == "adoption":
                form["city"] = _own_city(session, principal) or ""
            return _page(request, spec, session, action=request.url.path, heading=_heading(spec, spec.heading_new,
                                                                                           parent, lang),
                         back=spec.done_url(parent) if parent is not None else "/", form=form)

    async def save(request: Request, parent_id: str | None = None):
        principal = require_login(request)
        authorize_write(principal, principal.organisation_id, SCOPE)
        lang = language_of(request)
        form = await _posted(request, spec)
        with _session(request) as session:
            parent = load_parent(session, parent_id)
            try:
                saved = spec.create(session, dict(form), principal, parent)
            except (ValidationError, StadslabError) as exc:
                if isinstance(exc, StadslabError) and exc.status not in (409, 422):
                    raise
                session.rollback()
                parent = load_parent(session, parent_id)
                return _page(request, spec, session, action=request.url.path,
                             heading=_heading(spec, spec.heading_new, parent, lang),
                             back=spec.done_url(parent) if parent is not None else "/", form=form,
                             errors=_errors(spec, exc, lang), status_code=422)
            pending = getattr(saved, "kind", None) is not None and getattr(saved, "status", "") == "pending"
            target = spec.done_url(parent if parent is not None and (pending or spec.key == "lesson") else saved)
        melding = "ingediend" if pending else "opgeslagen"
        return RedirectResponse(f"{target}?melding={melding}{_suffix(request, lang)}", status_code=303)

    if "{parent_id}" in path:
        router.add_api_route(path, show, methods=["GET"], response_class=HTMLResponse, name=f"new_{spec.key}")
        router.add_api_route(path, save, methods=["POST"], response_class=HTMLResponse, name=f"create_{spec.key}")
    else:
        def show_new(request: Request):
            return show(request)

        async def save_new(request: Request):
            return await save(request)

        router.add_api_route(path, show_new, methods=["GET"], response_class=HTMLResponse, name=f"new_{spec.key}")
        router.add_api_route(path, save_new, methods=["POST"], response_class=HTMLResponse,
                             name=f"create_{spec.key}")


def _own_city(session, principal) -> str | None:
    from stadslab.network.models import Organisation

    org = session.get(Organisation, principal.organisation_id) if principal.organisation_id else None
    return getattr(org, "municipality_code", None)


def _edit_routes(spec: FormSpec, path: str) -> None:
    def editable(request: Request, session, item_id: str):
        require_login(request)  # authenticate before looking the item up
        obj = spec.load(session, _id(item_id))
        authorize_write(page_principal(request), spec.owner_of(obj), SCOPE)
        return obj

    def show(request: Request, item_id: str):
        lang = language_of(request)
        with _session(request) as session:
            obj = editable(request, session, item_id)
            notice = translations(lang).gettext("Your changes have been saved.") \
                if request.query_params.get("melding") == "opgeslagen" else None
            return _page(request, spec, session, action=request.url.path,
                         heading=_heading(spec, spec.heading_edit, obj, lang), back=spec.done_url(obj),
                         form=spec.defaults | spec.initial(obj), notice=notice)

    async def save(request: Request, item_id: str):
        lang = language_of(request)
        form = await _posted(request, spec)
        with _session(request) as session:
            obj = editable(request, session, item_id)
            try:
                saved = spec.update(session, obj, dict(form), page_principal(request))
            except (ValidationError, StadslabError) as exc:
                if isinstance(exc, StadslabError) and exc.status not in (409, 422):
                    raise
                session.rollback()
                obj = spec.load(session, obj.id)
                return _page(request, spec, session, action=request.url.path,
                             heading=_heading(spec, spec.heading_edit, obj, lang), back=spec.done_url(obj),
                             form=form, errors=_errors(spec, exc, lang), status_code=422)
            target = spec.done_url(saved)
        return RedirectResponse(f"{target}?melding=opgeslagen{_suffix(request, lang)}", status_code=303)

    router.add_api_route(path, show, methods=["GET"], response_class=HTMLResponse, name=f"edit_{spec.key}")
    router.add_api_route(path, save, methods=["POST"], response_class=HTMLResponse, name=f"save_{spec.key}")


_new_routes(SPECS["solution"], "/oplossingen/nieuw")
_edit_routes(SPECS["solution"], "/oplossingen/{item_id}/bewerken")
_new_routes(SPECS["adoption"], "/oplossingen/{parent_id}/overnemen")
_edit_routes(SPECS["adoption"], "/overnames/{item_id}/bewerken")
_new_routes(SPECS["lesson"], "/projecten/{parent_id}/lessen")
_new_routes(SPECS["coalition"], "/coalities/nieuw")
_edit_routes(SPECS["coalition"], "/coalities/{item_id}/bewerken")
