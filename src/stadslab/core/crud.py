"""Item routes (read one, create, replace, patch, delete) for registry resources, with authorization.

Every registry resource follows the same rules, so they live here once: writes
need the ``registry:write`` scope and the right organisation (``authorize_write``),
a new item belongs to the caller's organisation unless an admin says otherwise,
and an item can only be handed to an organisation the caller may write for.
List endpoints differ per resource and stay in each capability's routes.
"""

# No ``from __future__ import annotations``: FastAPI must see the real body types.

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from .auth import Principal, authenticate_writer, authorize_write, get_principal, known_up_front, require_role
from .database import get_session
from .errors import ValidationFailed

SCOPE = "registry:write"


@dataclass
class ItemRoutes:
    path: str
    tag: str
    name: str
    schema_in: type[BaseModel]
    schema_patch: type[BaseModel]
    schema_out: type[BaseModel]
    get: Callable[[Session, int], Any]
    create: Callable[..., Any]
    update: Callable[..., Any]
    delete: Callable[..., None]
    #: Which organisation owns an existing item (its editors may change it).
    owner_of: Callable[[Any], int | None] = lambda obj: obj.owner_organisation_id
    #: Whether new items get an owner organisation (organisations themselves do not).
    owned: bool = True
    #: Deleting needs this role on top of the write rule (organisations: only admins remove one,
    #: with its accounts and content, even though its editors may edit it).
    delete_role: str | None = None
    shape: Callable[[Any], Any] = field(default=lambda obj: obj)


def _new_owner(data: BaseModel, principal: Principal) -> BaseModel:
    if getattr(data, "owner_organisation_id", None) is None and principal.organisation_id is not None:
        return data.model_copy(update={"owner_organisation_id": principal.organisation_id})
    return data


@lru_cache(maxsize=None)
def _accepts_null(model: type[BaseModel], name: str) -> bool:
    field_info = model.model_fields.get(name)
    if field_info is None:
        return True
    try:
        TypeAdapter(field_info.annotation).validate_python(None)
    except ValidationError:
        return False
    return True


def refuse_nulls_for_required(patch: BaseModel, full: type[BaseModel]) -> None:
    """A PATCH may leave a field out (it keeps its value) but not set one to ``null`` when the
    full record (``full``, the create/replace schema) needs a value there: a 422 naming each
    such field, instead of a NOT NULL violation that surfaces as a 409 naming nothing."""
    bad = [name for name in sorted(patch.model_fields_set)
           if getattr(patch, name) is None and not _accepts_null(full, name)]
    if bad:
        msg = "may not be null: leave the field out to keep its value"
        raise ValidationFailed(f"{', '.join(bad)}: {msg}",
                               errors=[{"loc": ["body", n], "field": f"body.{n}", "msg": msg} for n in bad])


def register_item_routes(router: APIRouter, spec: ItemRoutes) -> None:
    base = f"/{spec.path}"
    item = f"/{spec.path}/{{item_id}}"
    In, Patch, Out = spec.schema_in, spec.schema_patch, spec.schema_out

    def get_item(item_id: int, session: Session = Depends(get_session)):
        return spec.shape(spec.get(session, item_id))

    def create_item(data: In, response: Response, session: Session = Depends(get_session),  # type: ignore[valid-type]
                    principal: Principal = Depends(get_principal)):
        if spec.owned:
            data = _new_owner(data, principal)
            authorize_write(principal, data.owner_organisation_id, SCOPE)
        else:
            authorize_write(principal, None, SCOPE)
        obj = spec.create(session, data, actor=principal)
        pending = getattr(obj, "pending_location", None)
        if pending:  # waits for another organisation's consent: 202, and where to follow it
            return JSONResponse(jsonable_encoder(spec.shape(obj)), status_code=202, headers={"Location": pending})
        response.headers["Location"] = f"/api/v1/{spec.path}/{obj.id}"
        return spec.shape(obj)

    def change(item_id: int, data: BaseModel, session: Session, principal: Principal):
        authenticate_writer(principal)  # an anonymous caller learns 401, not whether the id exists
        authorize_write(principal, spec.owner_of(spec.get(session, item_id)), SCOPE)
        if isinstance(data, Patch):  # who may, before what is wrong with the body
            refuse_nulls_for_required(data, In)
        new_owner = data.model_dump(exclude_unset=True).get("owner_organisation_id")
        if spec.owned and new_owner is not None:
            authorize_write(principal, new_owner, SCOPE)
        return spec.shape(spec.update(session, item_id, data, actor=principal))

    def put_item(item_id: int, data: In, session: Session = Depends(get_session),  # type: ignore[valid-type]
                 principal: Principal = Depends(get_principal)):
        return change(item_id, data, session, principal)

    def patch_item(item_id: int, data: Patch, session: Session = Depends(get_session),  # type: ignore[valid-type]
                   principal: Principal = Depends(get_principal)):
        return change(item_id, data, session, principal)

    def delete_item(item_id: int, session: Session = Depends(get_session),
                    principal: Principal = Depends(get_principal)) -> Response:
        authenticate_writer(principal)
        if spec.delete_role:
            require_role(principal, spec.delete_role)
        authorize_write(principal, spec.owner_of(spec.get(session, item_id)), SCOPE)
        spec.delete(session, item_id, actor=principal)
        return Response(status_code=204)

    # Known before the body is read (see core.auth.known_up_front): the scope, and that items
    # without an owner are created by admins only.
    known_up_front(scope=SCOPE, role=None if spec.owned else "admin")(create_item)
    for endpoint in (put_item, patch_item):
        known_up_front(scope=SCOPE)(endpoint)
    known_up_front(scope=SCOPE, role=spec.delete_role)(delete_item)
    tags = [spec.tag]
    router.add_api_route(item, get_item, methods=["GET"], tags=tags, response_model=Out,
                         name=f"get_{spec.name}", summary=f"Get one {spec.name.replace('_', ' ')}")
    router.add_api_route(base, create_item, methods=["POST"], tags=tags, response_model=Out, status_code=201,
                         name=f"create_{spec.name}", summary=f"Create a {spec.name.replace('_', ' ')}")
    router.add_api_route(item, put_item, methods=["PUT"], tags=tags, response_model=Out,
                         name=f"replace_{spec.name}", summary=f"Replace a {spec.name.replace('_', ' ')}")
    router.add_api_route(item, patch_item, methods=["PATCH"], tags=tags, response_model=Out,
                         name=f"update_{spec.name}", summary=f"Change a {spec.name.replace('_', ' ')}")
    router.add_api_route(item, delete_item, methods=["DELETE"], tags=tags, status_code=204,
                         name=f"delete_{spec.name}", summary=f"Delete a {spec.name.replace('_', ' ')}",
                         response_class=Response)
