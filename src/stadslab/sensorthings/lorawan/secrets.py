"""Integration secrets: stored as scrypt hashes, checked in constant time.

Why scrypt and a cache: a database leak must not hand out working webhook
secrets, so only a salted scrypt hash is stored. Network servers call the
webhook for every uplink, though, and scrypt is deliberately expensive; once a
secret has been verified against a stored hash, its SHA-256 is remembered for
that hash (in memory only), so later calls cost one SHA-256 and one
constant-time compare. Rotating the secret changes the stored hash and so
invalidates the cache entry by construction.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict

N, R, P, DKLEN = 2**14, 8, 1, 32
_CACHE_MAX = 1024
_cache: OrderedDict[str, bytes] = OrderedDict()
_cache_lock = threading.Lock()
#: Hash used when the integration does not exist, so that the answer takes as long.
_DUMMY: str | None = None


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=N, r=R, p=P, dklen=DKLEN)
    b64 = base64.b64encode
    return f"scrypt${N}${R}${P}${b64(salt).decode()}${b64(digest).decode()}"


def _scrypt_matches(secret: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(secret.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def verify_secret(secret: str | None, stored: str | None) -> bool:
    """True when ``secret`` matches ``stored``; ``stored=None`` (no such integration) is never a match."""
    global _DUMMY
    if stored is None:
        if _DUMMY is None:
            _DUMMY = hash_secret(new_secret())
        _scrypt_matches(secret or "", _DUMMY)  # same work as a real check
        return False
    if not secret:
        return False
    fingerprint = hashlib.sha256(secret.encode()).digest()
    with _cache_lock:
        known = _cache.get(stored)
    if known is not None and hmac.compare_digest(known, fingerprint):
        return True
    if not _scrypt_matches(secret, stored):
        return False
    with _cache_lock:
        _cache[stored] = fingerprint
        _cache.move_to_end(stored)
        while len(_cache) > _CACHE_MAX:
            _cache.popitem(last=False)
    return True
