"""REST endpoints of governance: login, accounts, tokens, audit (thin: parse, call a service, shape)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from stadslab.core.auth import Principal, get_principal, known_up_front, require_authenticated, require_role
from stadslab.core.database import get_session
from stadslab.core.listing import ListParams, list_params, make_page
from stadslab.core.security import enforce

from . import audit, service
from .authn import clear_session_cookies, session_id_from_request, set_session_cookies
from .models import ApiToken, User
from .schemas import (AccountRole, AuditEventOut, LoginIn, MeOut, PasswordIn, TokenCreated, TokenIn, TokenOut,
                      UserIn, UserOut, UserPatch, VerifyOut)

router = APIRouter()


def _me(session: Session, p: Principal, csrf: str | None = None) -> MeOut:
    user = session.get(User, p.user_id) if p.user_id is not None else None
    return MeOut(id=p.user_id, email=user.email if user else None, display_name=user.display_name if user else None,
                 role=p.role, organisation_id=p.organisation_id, scopes=sorted(p.scopes), via=p.via, csrf_token=csrf)


# --- authentication --------------------------------------------------------------------------

@router.post("/auth/login", tags=["auth"], response_model=MeOut,
             summary="Log in with email and password (sets the session and CSRF cookies)")
@known_up_front(public=True)
def login(body: LoginIn, request: Request, response: Response, session: Session = Depends(get_session)) -> MeOut:
    settings = request.app.state.settings
    enforce(request.app.state.login_ip_limiter, request.client.host if request.client else "unknown")
    enforce(request.app.state.login_account_limiter, service.normalise_email(body.email))
    user = service.login(session, body.email, body.password, max_failures=settings.login_max_failures,
                         lockout=timedelta(minutes=settings.login_lockout_minutes))
    session_id = service.open_session(session, user, ttl=timedelta(hours=settings.session_ttl_hours),
                                      method="password", replaces=session_id_from_request(request))
    csrf = set_session_cookies(response, settings, session_id)
    from .authn import principal_for_user

    return _me(session, principal_for_user(user, "session"), csrf)


@router.post("/auth/logout", tags=["auth"], status_code=204, summary="End the web session")
@known_up_front(public=True)
def logout(request: Request, response: Response, session: Session = Depends(get_session)) -> Response:
    try:
        principal = get_principal(request)
    except Exception:  # noqa: BLE001 - logging out with a dead session still clears the cookies
        principal = None
    if principal is not None:
        service.close_session(session, principal, session_id_from_request(request))
    out = Response(status_code=204)
    clear_session_cookies(out, request.app.state.settings)
    return out


@router.get("/auth/me", tags=["auth"], response_model=MeOut, summary="Who am I")
def me(request: Request, p: Principal = Depends(get_principal), session: Session = Depends(get_session)) -> MeOut:
    require_authenticated(p)
    csrf = None
    if p.via == "session":
        from stadslab.core.credentials import csrf_token_for

        csrf = csrf_token_for(request.app.state.settings.secret_key, session_id_from_request(request) or "")
    return _me(session, p, csrf)


# --- accounts (admin) ---------------------------------------------------------------------------

@router.get("/users", tags=["accounts"], summary="Accounts (admin)")
def list_users(request: Request, params: ListParams = Depends(list_params),
               organisation_id: int | None = Query(None), role: AccountRole | None = Query(None),
               q: str | None = Query(None, max_length=100),
               p: Principal = Depends(get_principal), session: Session = Depends(get_session)) -> dict:
    require_role(p, "admin")
    rows, total = service.list_users(session, params, organisation_id=organisation_id, role=role, q=q)
    return make_page(request, params, [UserOut.model_validate(u) for u in rows], total)


@router.post("/users", tags=["accounts"], status_code=201, response_model=UserOut, summary="Create an account (admin)")
@known_up_front(role="admin")
def create_user(body: UserIn, p: Principal = Depends(get_principal), session: Session = Depends(get_session)) -> User:
    require_role(p, "admin")
    return service.create_user(session, p, **body.model_dump())


@router.get("/users/{user_id}", tags=["accounts"], response_model=UserOut, summary="One account (admin)")
def get_user(user_id: int, p: Principal = Depends(get_principal), session: Session = Depends(get_session)) -> User:
    require_role(p, "admin")
    return service.get_user(session, user_id)


@router.patch("/users/{user_id}", tags=["accounts"], response_model=UserOut,
              summary="Change role, organisation, name or active flag (admin)")
@known_up_front(role="admin")
def update_user(user_id: int, body: UserPatch, p: Principal = Depends(get_principal),
                session: Session = Depends(get_session)) -> User:
    require_role(p, "admin")
    return service.update_user(session, p, user_id, body.model_dump(exclude_unset=True))


@router.put("/users/{user_id}/password", tags=["accounts"], status_code=204,
            summary="Set a password (admin, or the account itself)")
def set_password(user_id: int, body: PasswordIn, p: Principal = Depends(get_principal),
                 session: Session = Depends(get_session)) -> Response:
    require_authenticated(p)
    if p.user_id != user_id or p.via != "session":
        require_role(p, "admin")
    service.set_password(session, p, user_id, body.password)
    return Response(status_code=204)


# --- API tokens ---------------------------------------------------------------------------------

@router.post("/tokens", tags=["tokens"], status_code=201, response_model=TokenCreated,
             summary="Create an API token (the secret is returned once)")
def create_token(body: TokenIn, p: Principal = Depends(get_principal),
                 session: Session = Depends(get_session)) -> TokenCreated:
    token, secret = service.create_token(session, p, **body.model_dump())
    return TokenCreated(**TokenOut.model_validate(token).model_dump(), token=secret)


@router.get("/tokens", tags=["tokens"], summary="API tokens (own; admins: all)")
def list_tokens(request: Request, params: ListParams = Depends(list_params), user_id: int | None = Query(None),
                organisation_id: int | None = Query(None), p: Principal = Depends(get_principal),
                session: Session = Depends(get_session)) -> dict:
    require_authenticated(p)
    rows, total = service.list_tokens(session, p, params, user_id=user_id, organisation_id=organisation_id)
    return make_page(request, params, [TokenOut.model_validate(t) for t in rows], total)


@router.delete("/tokens/{token_id}", tags=["tokens"], response_model=TokenOut, summary="Revoke an API token")
def revoke_token(token_id: int, p: Principal = Depends(get_principal),
                 session: Session = Depends(get_session)) -> ApiToken:
    require_authenticated(p)
    return service.revoke_token(session, p, token_id)


# --- audit trail (admin) --------------------------------------------------------------------------

def audit_filter(entity_type: str | None = Query(None, max_length=60), entity_id: str | None = Query(None, max_length=100),
                 action: str | None = Query(None, max_length=60),
                 actor: str | None = Query(None, max_length=40, description="user:<id>, token:<id>, anonymous, system"),
                 since: datetime | None = Query(None), until: datetime | None = Query(None)) -> audit.AuditFilter:
    return audit.AuditFilter(entity_type=entity_type, entity_id=entity_id, action=action, actor=actor,
                             since=since, until=until)


@router.get("/audit", tags=["audit"], summary="Audit events (admin)")
def list_audit(request: Request, params: ListParams = Depends(list_params),
               f: audit.AuditFilter = Depends(audit_filter), p: Principal = Depends(get_principal),
               session: Session = Depends(get_session)) -> dict:
    require_role(p, "admin")
    rows, total = audit.query(session, f, params.limit, params.offset)
    return make_page(request, params, [AuditEventOut.model_validate(r) for r in rows], total)


CSV_COLUMNS = ("chain", "seq", "at", "actor_type", "actor_ref", "actor_token_id", "organisation_id", "action", "entity_type",
               "entity_id", "before", "after", "request_id", "prev_hash", "hash")


def _csv_cell(value) -> str:
    if value is None:
        return ""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str) if isinstance(value, (dict, list)) \
        else value.isoformat() if isinstance(value, datetime) else str(value)
    # spreadsheet formula injection: a cell must not start with = + - @
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@router.get("/audit.csv", tags=["audit"], summary="Audit events as CSV (admin)")
def export_audit(request: Request, f: audit.AuditFilter = Depends(audit_filter),
                 p: Principal = Depends(get_principal)) -> StreamingResponse:
    require_role(p, "admin")
    db = request.app.state.db

    def rows():
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(CSV_COLUMNS)
        with db.session() as session:
            for event in audit.iterate(session, f):
                writer.writerow([_csv_cell(event[c]) for c in CSV_COLUMNS])
                if buf.tell() > 64_000:
                    yield buf.getvalue()
                    buf.seek(0)
                    buf.truncate()
        yield buf.getvalue()

    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="audit.csv"'})


@router.get("/audit/verify", tags=["audit"], response_model=VerifyOut, summary="Verify the hash chain (admin)")
def verify_audit(p: Principal = Depends(get_principal), session: Session = Depends(get_session)) -> VerifyOut:
    require_role(p, "admin")
    ok, chain, bad = audit.verify_chains(session)
    actors = audit.verify_actors(session)
    from sqlalchemy import func, select

    from .models import AuditEvent

    return VerifyOut(ok=ok and actors.ok, first_bad_chain=chain, first_bad_seq=bad,
                     events=session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
                     actors_ok=actors.ok, first_bad_actor=actors.bad_pseudonym, unbound_actors=actors.unbound)


from .loket_routes import router as loket_router  # noqa: E402

router.include_router(loket_router)

from .privacy_routes import router as privacy_router  # noqa: E402

router.include_router(privacy_router)


# --- OpenID Connect -----------------------------------------------------------------------------

def _oidc_redirect_uri(request: Request) -> str:
    return request.app.state.settings.oidc_redirect_url or str(request.url_for("oidc_callback"))


@router.get("/auth/oidc/login", tags=["auth"], summary="Log in through the configured OpenID Connect issuer")
def oidc_login(request: Request):
    import httpx
    from fastapi.responses import RedirectResponse

    from . import oidc

    settings = request.app.state.settings
    with httpx.Client(timeout=10.0) as http:
        url, flow = oidc.OIDCClient(settings, http).start(_oidc_redirect_uri(request))
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(oidc.FLOW_COOKIE, oidc.pack_flow(settings, flow), max_age=oidc.FLOW_MAX_AGE,
                        path="/api/v1/auth/oidc", secure=settings.cookie_secure, httponly=True, samesite="lax")
    return response


@router.get("/auth/oidc/callback", tags=["auth"], name="oidc_callback", include_in_schema=False)
def oidc_callback(request: Request, code: str | None = Query(None, max_length=4000),
                  state: str | None = Query(None, max_length=500), session: Session = Depends(get_session)):
    import httpx
    from fastapi.responses import RedirectResponse

    from stadslab.core.auth import auth_failed

    from . import oidc

    settings = request.app.state.settings
    flow = oidc.unpack_flow(settings, request.cookies.get(oidc.FLOW_COOKIE), state)
    if not code:
        raise auth_failed()
    with httpx.Client(timeout=10.0) as http:
        claims = oidc.OIDCClient(settings, http).exchange(code, _oidc_redirect_uri(request), flow)
    user = oidc.account_for_claims(session, settings, claims)
    session_id = service.open_session(session, user, ttl=timedelta(hours=settings.session_ttl_hours),
                                      method="oidc", replaces=session_id_from_request(request))
    response = RedirectResponse("/", status_code=303)
    set_session_cookies(response, settings, session_id)
    response.delete_cookie(oidc.FLOW_COOKIE, path="/api/v1/auth/oidc", secure=settings.cookie_secure,
                           httponly=True, samesite="lax")
    return response
