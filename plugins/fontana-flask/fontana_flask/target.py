"""The request target (path and query) as the client sent it: what a payment binds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

#: Characters a path keeps unescaped (RFC 3986 pchar and ``/``), ``%`` for escapes already there.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"


def request_target(environ: Mapping[str, Any]) -> str:
    """``RAW_URI`` or ``REQUEST_URI`` when the server gives it, else rebuilt from the parts."""
    for key in ("RAW_URI", "REQUEST_URI"):
        raw = environ.get(key)
        if isinstance(raw, str) and raw.startswith("/"):
            return raw
    # WSGI hands the path over as bytes decoded as latin-1.
    path = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1")
    query = environ.get("QUERY_STRING", "")
    target = quote(path, safe=_PATH_SAFE) or "/"
    return f"{target}?{query}" if query else target
