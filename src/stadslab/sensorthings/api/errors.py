"""Error bodies of ``/sta/v1.1``: RFC 9457 problem+json that FROST-Server's clients also read.

FROST-Server answers an error with ``{"code": 404, "type": "error", "message": "..."}``. Our bodies
keep every problem+json member (``title``, ``status``, ``detail``, ``instance``, ``errors``) and add
``code`` (the HTTP status, a number) and ``message`` (the ``detail`` again). ``type`` is the one
member both formats define: it is ``"error"``, FROST-Server's value, which RFC 9457 reads as a
relative URI reference naming the problem type (a problem+json client that does not know the type
falls back on ``status``/``title``/``detail``, as it would for ``about:blank``).
"""

from __future__ import annotations

from typing import Any

PREFIX = "/sta/v1.1"


def frost_shape(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "type": "error", "code": body["status"], "message": body["detail"]}
