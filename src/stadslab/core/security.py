"""Hardening that applies to every request: headers, CSRF, rate limits, request ids, log masking.

All middleware here is plain ASGI (no response buffering except the API docs page).
Rate limits are in-process token buckets: with N worker processes a client can
get N times the configured rate (documented in docs/security.md); put a shared
limiter in the reverse proxy if that matters.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import hmac
import json
import logging
import re
import threading
import time
import uuid
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

from .credentials import CSRF_HEADER, SESSION_COOKIE, csrf_token_for, hash_secret, unsign_session_id
from .errors import StadslabError

log = logging.getLogger("stadslab.security")

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Paths that start a session: they cannot carry a session-bound CSRF token yet, so
#: they rely on the Origin check and SameSite cookies alone.
CSRF_EXEMPT_PATHS = frozenset({"/api/v1/auth/login"})

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("stadslab_request_id", default=None)
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class TooManyRequests(StadslabError):
    status = 429
    title = "Too many requests"


def current_request_id() -> str | None:
    return _request_id.get()


# --- token buckets ----------------------------------------------------------------------------

class TokenBucketLimiter:
    """``per_minute`` requests per key, with bursts up to ``burst`` (default: a minute's worth)."""

    def __init__(self, per_minute: int, burst: int | None = None, clock=time.monotonic, max_keys: int = 50_000):
        self.rate = per_minute / 60.0
        self.capacity = float(burst or per_minute)
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> tuple[bool, int]:
        """Take one token. Returns (allowed, seconds to wait when not allowed)."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                self._prune(now)
                return True, 0
            self._buckets[key] = (tokens, now)
            wait = (1 - tokens) / self.rate if self.rate else 60
            return False, max(1, int(wait + 0.999))

    def _prune(self, now: float) -> None:
        if len(self._buckets) <= self.max_keys:
            return
        full = [k for k, (t, last) in self._buckets.items()
                if min(self.capacity, t + (now - last) * self.rate) >= self.capacity]
        for k in full:
            del self._buckets[k]


def enforce(limiter: TokenBucketLimiter, key: str) -> None:
    allowed, wait = limiter.hit(key)
    if not allowed:
        raise TooManyRequests("Too many requests; try again later", headers={"Retry-After": str(wait)})


# --- helpers on raw ASGI scopes --------------------------------------------------------------

def _headers(scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _cookies(headers: dict[str, str]) -> dict[str, str]:
    jar = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except Exception:  # noqa: BLE001 - a malformed cookie header counts as no cookies
        return {}
    return {k: m.value for k, m in jar.items()}


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


async def _send_problem(send, status: int, title: str, detail: str, extra: list | None = None) -> None:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode()), *(extra or [])]})
    await send({"type": "http.response.body", "body": body})


def client_key(scope, headers: dict[str, str]) -> str:
    """Rate-limit key: the API token (hashed) when there is one, else the client address."""
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return "token:" + hash_secret(auth[7:].strip())[:24]
    client = scope.get("client") or ("unknown", 0)
    return "ip:" + str(client[0])


# --- middleware -------------------------------------------------------------------------------

class RequestIdMiddleware:
    """Gives every request an id (or keeps a sane incoming ``X-Request-ID``) for logs and audit."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        incoming = _headers(scope).get("x-request-id", "")
        rid = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        token = _request_id.set(rid)

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _request_id.reset(token)


class WriteRateLimitMiddleware:
    def __init__(self, app, per_minute: int):
        self.app = app
        self.limiter = TokenBucketLimiter(per_minute) if per_minute > 0 else None

    async def __call__(self, scope, receive, send):
        if self.limiter is None or scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS:
            return await self.app(scope, receive, send)
        allowed, wait = self.limiter.hit(client_key(scope, _headers(scope)))
        if not allowed:
            return await _send_problem(send, 429, "Too many requests", "Too many write requests; try again later",
                                       [(b"retry-after", str(wait).encode())])
        await self.app(scope, receive, send)


class CSRFMiddleware:
    """Cross-site request forgery protection for cookie-authenticated writes.

    Requests with ``Authorization: Bearer`` are exempt (browsers never add that header
    on their own). Every other unsafe request must come from an allowed Origin when
    the browser names one, and, when it carries the session cookie, must send the
    session-bound CSRF token in ``X-CSRF-Token`` (or a ``csrf_token`` form field).
    """

    def __init__(self, app, secret_key: str, trusted_origins: list[str], external_base_url: str | None,
                 max_form_bytes: int = 1_000_000):
        self.app = app
        self.secret_key = secret_key
        self.trusted = {o.rstrip("/").lower() for o in trusted_origins}
        if external_base_url and _origin_of(external_base_url):
            self.trusted.add(_origin_of(external_base_url))
        self.max_form_bytes = max_form_bytes

    def _own_origin(self, scope, headers) -> str:
        host = headers.get("host", "")
        return f"{scope.get('scheme', 'http')}://{host}".lower()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS:
            return await self.app(scope, receive, send)
        headers = _headers(scope)
        if headers.get("authorization", "")[:7].lower() == "bearer ":
            return await self.app(scope, receive, send)
        origin = headers.get("origin")
        if origin is None and headers.get("referer"):
            origin = _origin_of(headers["referer"]) or "null"
        if origin is not None:
            origin = origin.rstrip("/").lower()
            if origin != self._own_origin(scope, headers) and origin not in self.trusted:
                return await _send_problem(send, 403, "Forbidden", "Cross-origin request refused")
        cookie = _cookies(headers).get(SESSION_COOKIE)
        if cookie is None or scope["path"] in CSRF_EXEMPT_PATHS:
            return await self.app(scope, receive, send)
        session_id = unsign_session_id(self.secret_key, cookie)
        supplied = headers.get(CSRF_HEADER)
        if supplied is None and headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            body, receive = await self._buffer(receive)
            if body is not None:
                supplied = (parse_qs(body.decode("utf-8", "replace")).get("csrf_token") or [None])[0]
        expected = csrf_token_for(self.secret_key, session_id) if session_id else None
        if not expected or not supplied or not hmac.compare_digest(expected, supplied):
            return await _send_problem(send, 403, "Forbidden", "CSRF token missing or invalid")
        await self.app(scope, receive, send)

    async def _buffer(self, receive):
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.max_form_bytes:
                break
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": more}
            return await receive()

        return (body if not more else None), replay


def content_security_policy(img_sources: list[str], script_hashes: list[str] = (), extra_script: str = "",
                            extra_style: str = "") -> str:
    script = " ".join(["'self'", *[f"'sha256-{h}'" for h in script_hashes], extra_script]).strip()
    img = " ".join(["'self'", "data:", *img_sources]).strip()
    return (f"default-src 'self'; script-src {script}; style-src 'self' {extra_style}".rstrip() +
            f"; img-src {img}; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
            "form-action 'self'; frame-ancestors 'none'")


class SecurityHeadersMiddleware:
    """Security headers on every response.

    The API docs page (Swagger UI, served from our own static files) starts with an
    inline script; it gets a CSP that allows exactly the hash of that inline script,
    never ``'unsafe-inline'``, and no other host.
    """

    def __init__(self, app, csp: str, docs_paths: tuple[str, ...] = (), img_sources: list[str] = ()):
        self.app = app
        self.csp = csp
        self.docs_paths = set(p for p in docs_paths if p)
        self.img_sources = list(img_sources)

    def _headers(self, scope, csp: str) -> list[tuple[bytes, bytes]]:
        out = [(b"content-security-policy", csp.encode()),
               (b"x-content-type-options", b"nosniff"),
               (b"x-frame-options", b"DENY"),
               (b"referrer-policy", b"strict-origin-when-cross-origin"),
               (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=(), "
                                       b"interest-cohort=()"),
               (b"cross-origin-opener-policy", b"same-origin")]
        if scope.get("scheme") == "https":
            out.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
        return out

    @staticmethod
    def _merge(message, extra):
        present = {k.lower() for k, _ in message.get("headers", [])}
        message["headers"] = [*message.get("headers", []), *[(k, v) for k, v in extra if k not in present]]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["path"] in self.docs_paths:
            return await self._docs(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                self._merge(message, self._headers(scope, self.csp))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _docs(self, scope, receive, send):
        start, chunks = None, []

        async def capture(message):
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        inline = re.findall(rb"<script>(.*?)</script>", body, flags=re.S)
        hashes = [base64.b64encode(hashlib.sha256(s).digest()).decode() for s in inline]
        csp = content_security_policy(self.img_sources, hashes)
        self._merge(start, self._headers(scope, csp))
        await send(start)
        await send({"type": "http.response.body", "body": body})


# --- log masking ----------------------------------------------------------------------------------

_MASKS = [
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer <redacted>"),
    (re.compile(r"\bstl_[A-Za-z0-9_-]{6,}"), "stl_<redacted>"),
    (re.compile(r"(stadslab_session|stadslab_csrf)=[^;\s]+"), r"\1=<redacted>"),
    (re.compile(r"""(?i)(["']?\b(?:password|passwd|secret|client_secret|token|access_token|id_token|"""
                r"""refresh_token|code_verifier)\b["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,;&}]+)"""),
     r"\1<redacted>"),
    (re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]++@[A-Za-z0-9-]++(?:\.[A-Za-z0-9-]++)*\.[A-Za-z]{2,}"),
     "<email>"),
]
# Linear time (issue #13): the masks run on every log line, on the event loop, and a log line can
# hold a client's 60 KB query string. ``[...]+@`` tried anew from every position of a long run of
# address characters: quadratic (4.4 s for 60 KB). The lookbehind lets an address start only where
# such a run starts, and the possessive ``++`` never gives characters back that could not help (a
# run is followed by "@" or it is no address; a label ends at "." or the domain ends). An address
# that starts later, inside a run that failed ("x@1.2@a.com"), still starts after a non-run
# character ("@") and is found. tests/governance/test_log_masking_linear.py holds the cases.


def mask(text: str) -> str:
    """Remove e-mail addresses, tokens, passwords and session cookies from a log line."""
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


class MaskingFilter(logging.Filter):
    """Logging filter that masks personal data and secrets in the formatted message."""

    def filter(self, record: logging.LogRecord) -> bool:
        _mask_record(record)
        return True


def _mask_record(record: logging.LogRecord) -> None:
    if getattr(record, "_stadslab_masked", False):
        return
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a broken format string is logged as is
        message = str(record.msg)
    record.msg, record.args = mask(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
    record._stadslab_masked = True


_installed = False


def install_log_masking() -> None:
    """Mask every log record of the process at creation time (so no handler can miss it)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        _mask_record(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


# --- wiring -------------------------------------------------------------------------------------

def install_security(app, settings) -> None:
    """Add the hardening middleware to ``app`` (call after other middleware: it wraps them)."""
    install_log_masking()
    if settings.anonymous_writes:
        log.warning("STADSLAB_ANONYMOUS_WRITES is on: anyone can write without credentials. "
                    "Use this only for conformance test suites, never in production.")
    if settings.secret_key == "change-me-in-production":
        log.warning("STADSLAB_SECRET_KEY has its default value: sessions can be forged. Set a random secret.")
    if not settings.cookie_secure:
        log.warning("STADSLAB_COOKIE_SECURE is off: session cookies may travel over plain http.")
    tiles = _origin_of(settings.map_tile_url.replace("{", "").replace("}", "")) if settings.map_tile_url else None
    img_sources = [tiles] if tiles else []
    app.state.login_ip_limiter = TokenBucketLimiter(settings.login_rate_per_ip_per_minute)
    app.state.login_account_limiter = TokenBucketLimiter(settings.login_rate_per_account_per_minute)
    app.add_middleware(WriteRateLimitMiddleware, per_minute=settings.write_rate_per_minute)
    app.add_middleware(CSRFMiddleware, secret_key=settings.secret_key, trusted_origins=settings.trusted_origins,
                       external_base_url=settings.external_base_url, max_form_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, csp=content_security_policy(img_sources),
                       docs_paths=(app.docs_url, app.redoc_url, *getattr(app.state, "docs_paths", ())),
                       img_sources=img_sources)
