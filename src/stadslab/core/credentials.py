"""The token and session primitives: what a credential looks like, how it is stored and signed.

They live in core because both sides use them: ``core.auth`` and ``core.security`` (the CSRF
check) read cookies and tokens, and the governance capability, which keeps the accounts,
tokens and sessions, mints them. Nothing here touches the database, so core needs no
capability to use them.
"""

from __future__ import annotations

import hashlib
import hmac

SESSION_COOKIE = "stadslab_session"
CSRF_COOKIE = "stadslab_csrf"
CSRF_HEADER = "x-csrf-token"
TOKEN_PREFIX = "stl_"


def _serializer(secret_key: str):
    from itsdangerous import URLSafeSerializer

    return URLSafeSerializer(secret_key, salt="stadslab-session")


def sign_session_id(secret_key: str, session_id: str) -> str:
    return _serializer(secret_key).dumps(session_id)


def unsign_session_id(secret_key: str, cookie_value: str) -> str | None:
    """The session id in a cookie, or None when the signature does not match."""
    from itsdangerous import BadSignature

    try:
        value = _serializer(secret_key).loads(cookie_value)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def csrf_token_for(secret_key: str, session_id: str) -> str:
    """The CSRF token bound to one session (double submit: cookie + header must both carry it)."""
    return hmac.new(secret_key.encode(), b"csrf:" + session_id.encode(), hashlib.sha256).hexdigest()


def hash_secret(secret: str) -> str:
    """SHA-256 of a high-entropy secret (API token, session id): what the database stores."""
    return hashlib.sha256(secret.encode()).hexdigest()
