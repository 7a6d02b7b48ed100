"""OGC API – Features (Part 1: Core, GeoJSON, HTML, OpenAPI 3.0), mounted at ``/ogcapi``.

Collections: ``living-labs``, ``projects`` and ``sensors`` (the sensor register,
open access class only). Paging is ``limit``/``offset`` with ``next``/``prev``
links; ``limit`` above the maximum is lowered to it, as the standard asks, while
malformed ``bbox``/``datetime`` values and unknown parameters get a 400 naming
the parameter.
"""

from __future__ import annotations

import json
from functools import lru_cache
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.orm import Session

from stadslab.core.database import get_session, utcnow
from stadslab.core.errors import BadRequest, NotFound
from stadslab.sensorthings.read.serialize import links_for

from .features import COLLECTIONS, extent, parse_bbox, parse_datetime, prepare, select_ids

router = APIRouter(tags=["OGC API Features"])
GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
DEFAULT_LIMIT, MAX_LIMIT = 10, 1000
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
ITEM_PARAMS = {"bbox", "bbox-crs", "datetime", "limit", "offset", "f", "crs", "lang"}


def base_url(request: Request) -> str:
    """scheme://host[/prefix] of this server, honouring proxies like the STA links do."""
    root = links_for(request.headers, str(request.base_url), request.app.state.settings.external_base_url).root
    return root[: -len("/sta/v1.1")] if root.endswith("/sta/v1.1") else root.rstrip("/")


def _wants_html(request: Request) -> bool:
    f = request.query_params.get("f")
    if f is not None:
        if f not in ("json", "html", "geojson"):
            raise BadRequest("f: must be json or html", errors=[{"loc": ["query", "f"], "field": "f",
                                                                 "msg": "unknown format"}])
        return f == "html"
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "json" not in accept


@lru_cache(maxsize=4)
def _environment(lang: str):
    """Our templates first, then the web capability's (for its base layout)."""
    from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape

    from stadslab.web import i18n
    from stadslab.web.rendering import environment as web_environment

    web = web_environment(lang)
    env = Environment(loader=ChoiceLoader([PackageLoader("stadslab.interop", "templates"),
                                           PackageLoader("stadslab.web", "templates")]),
                      autoescape=select_autoescape(["html", "xml"]), extensions=["jinja2.ext.i18n"],
                      trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)
    env.filters.update(web.filters)
    env.globals.update(web.globals)
    return env


def _html(request: Request, title: str, body: dict) -> HTMLResponse:
    from stadslab.web import i18n
    from stadslab.web.rendering import language_switch, security_headers, vendor_available

    lang = i18n.language_of(request)
    html = _environment(lang).get_template("ogcapi.html").render(
        request=request, path=request.url.path, language_switch=language_switch(request, lang),
        vendor_available=vendor_available(), demo_notice=False, title=title, body=body,
        pretty=json.dumps(body, indent=2, ensure_ascii=False, default=str)[:200_000])
    response = HTMLResponse(html, headers=security_headers(request.app.state.settings))
    response.headers["Content-Language"] = lang
    return response


def _respond(request: Request, title: str, body: dict, media_type: str = "application/json") -> Response:
    if _wants_html(request):
        return _html(request, title, body)
    return JSONResponse(body, media_type=media_type)


def _links(url: str, title: str, html: bool = True, json_type: str = "application/json") -> list[dict]:
    sep = "&" if "?" in url else "?"
    out = [{"href": f"{url}{sep}f=json", "rel": "self", "type": json_type, "title": f"{title} (JSON)"}]
    if html:
        out.append({"href": f"{url}{sep}f=html", "rel": "alternate", "type": "text/html", "title": f"{title} (HTML)"})
    return out


@router.get("", summary="OGC API landing page")
@router.get("/", include_in_schema=False)
def landing(request: Request) -> Response:
    base = base_url(request)
    body = {"title": "Stadslab OGC API – Features",
            "description": "Living labs, projects and open sensors of the Dutch Smart City network.",
            "links": [*_links(f"{base}/ogcapi", "Landing page"),
                      {"href": f"{base}/api/openapi.json", "rel": "service-desc", "type": OPENAPI,
                       "title": "OpenAPI definition"},
                      {"href": f"{base}/api/docs", "rel": "service-doc", "type": "text/html",
                       "title": "API documentation"},
                      {"href": f"{base}/ogcapi/conformance", "rel": "conformance", "type": "application/json",
                       "title": "Conformance classes"},
                      {"href": f"{base}/ogcapi/collections", "rel": "data", "type": "application/json",
                       "title": "Collections"}]}
    return _respond(request, "Stadslab OGC API – Features", body)


@router.get("/conformance", summary="Conformance classes")
def conformance(request: Request) -> Response:
    return _respond(request, "Conformance", {"conformsTo": CONFORMANCE})


def _collection(session: Session, base: str, cid: str) -> dict:
    coll = COLLECTIONS[cid]
    url = f"{base}/ogcapi/collections/{cid}"
    return {"id": cid, "title": coll.title, "description": f"{coll.description} ({coll.temporal_note})",
            "itemType": "feature", "crs": [CRS84], "extent": extent(session, coll),
            "links": [*_links(url, coll.title),
                      {"href": f"{url}/items?f=json", "rel": "items", "type": GEOJSON, "title": "Items (GeoJSON)"},
                      {"href": f"{url}/items?f=html", "rel": "items", "type": "text/html", "title": "Items (HTML)"}]}


@router.get("/collections", summary="Feature collections")
def collections(request: Request, session: Session = Depends(get_session)) -> Response:
    base = base_url(request)
    body = {"links": _links(f"{base}/ogcapi/collections", "Collections"),
            "collections": [_collection(session, base, cid) for cid in COLLECTIONS]}
    return _respond(request, "Collections", body)


def _get_collection(cid: str):
    if cid not in COLLECTIONS:
        raise NotFound(f"No collection {cid!r}; collections: {', '.join(COLLECTIONS)}")
    return COLLECTIONS[cid]


@router.get("/collections/{collection_id}", summary="One feature collection")
def collection(collection_id: str, request: Request, session: Session = Depends(get_session)) -> Response:
    _get_collection(collection_id)
    body = _collection(session, base_url(request), collection_id)
    return _respond(request, body["title"], body)


def _int_param(request: Request, name: str, default: int, minimum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if len(raw) > 12 or not raw.strip().lstrip("-").isdigit():
        raise BadRequest(f"{name}: must be an integer", errors=[{"loc": ["query", name], "field": name,
                                                                  "msg": "not an integer"}])
    value = int(raw)
    if value < minimum:
        raise BadRequest(f"{name}: must be at least {minimum}",
                         errors=[{"loc": ["query", name], "field": name, "msg": f"less than {minimum}"}])
    return value


@router.get("/collections/{collection_id}/items", summary="Features of a collection")
def items(collection_id: str, request: Request, session: Session = Depends(get_session)) -> Response:
    coll = _get_collection(collection_id)
    unknown = sorted(set(request.query_params.keys()) - ITEM_PARAMS)
    if unknown:
        raise BadRequest(f"{unknown[0]}: unknown query parameter; allowed: {', '.join(sorted(ITEM_PARAMS))}",
                         errors=[{"loc": ["query", u], "field": u, "msg": "unknown parameter"} for u in unknown])
    for name in ("bbox-crs", "crs"):
        value = request.query_params.get(name)
        if value is not None and value != CRS84:
            raise BadRequest(f"{name}: only {CRS84} is supported",
                             errors=[{"loc": ["query", name], "field": name, "msg": "unsupported CRS"}])
    limit = min(_int_param(request, "limit", DEFAULT_LIMIT, 1), MAX_LIMIT)
    offset = _int_param(request, "offset", 0, 0)
    bbox = parse_bbox(request.query_params.get("bbox"))
    window = parse_datetime(request.query_params.get("datetime"))
    ids = select_ids(session, coll, bbox, window)
    page_ids = ids[offset:offset + limit]
    objs = ({o.id: o for o in session.scalars(coll.statement().where(coll.model.id.in_(page_ids)))}
            if page_ids else {})
    base = base_url(request)
    features = [coll.feature(session, objs[i], base) for i in page_ids if i in objs]
    url = f"{base}/ogcapi/collections/{collection_id}/items"
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("offset", "limit", "f")]

    def link(rel: str, off: int, fmt: str = "json", typ: str = GEOJSON) -> dict:
        q = urlencode([*params, ("limit", limit), ("offset", off), ("f", fmt)])
        return {"href": f"{url}?{q}", "rel": rel, "type": typ}

    links = [link("self", offset), link("alternate", offset, "html", "text/html"),
             {"href": f"{base}/ogcapi/collections/{collection_id}", "rel": "collection", "type": "application/json"}]
    if offset + limit < len(ids):
        links.append(link("next", offset + limit))
    if offset > 0:
        links.append(link("prev", max(0, offset - limit)))
    body = {"type": "FeatureCollection", "features": features, "numberMatched": len(ids),
            "numberReturned": len(features), "timeStamp": utcnow().replace(microsecond=0).isoformat(),
            "links": links}
    return _respond(request, f"{coll.title}: items", body, GEOJSON)


@router.get("/collections/{collection_id}/items/{feature_id}", summary="One feature")
def item(collection_id: str, feature_id: str, request: Request, session: Session = Depends(get_session)) -> Response:
    coll = _get_collection(collection_id)
    if not feature_id.isdigit() or len(feature_id) > 12:
        raise NotFound(f"No feature {feature_id[:40]!r} in {collection_id}")
    prepare(session, coll)
    obj = session.scalar(coll.statement().where(coll.model.id == int(feature_id)))
    if obj is None:
        raise NotFound(f"No feature {feature_id} in {collection_id}")
    base = base_url(request)
    feature = coll.feature(session, obj, base)
    url = f"{base}/ogcapi/collections/{collection_id}/items/{feature_id}"
    feature["links"] = [*_links(url, "This feature", json_type=GEOJSON),
                        {"href": f"{base}/ogcapi/collections/{collection_id}", "rel": "collection",
                         "type": "application/json"}]
    return _respond(request, f"{coll.title}: {feature_id}", feature, GEOJSON)
