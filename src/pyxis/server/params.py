"""Turning an HTTP request into a flat parameter dict, as upstream does.

GET/DELETE parameters come from the query string; POST/PUT from the body, which is
``application/x-www-form-urlencoded`` (default) or ``application/json``; query-string
parameters are merged over body parameters; repeated keys become lists.  Path
parameters may not be given again with a different value.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from pyxis.errors import ParamError, PyxisError

MAX_BODY = 512 * 1024


def _merge_pairs(pairs: list[tuple[str, str]], into: dict[str, Any]) -> None:
    for key, value in pairs:
        if key in into:
            prev = into[key]
            into[key] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            into[key] = value


def parse_query(query: bytes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        pairs = parse_qsl(query.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError as err:
        raise PyxisError("invalid query string encoding", status=400) from err
    _merge_pairs(pairs, out)
    return out


def parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    """Decode a request body by content type; unknown types are a 415-style 400."""
    if not body:
        return {}
    ctype = content_type.split(";")[0].strip().lower()
    if ctype == "application/json":
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as err:
            raise PyxisError(f"malformed JSON body: {err}", status=400) from err
        if not isinstance(data, dict):
            raise PyxisError("JSON body must be an object", status=400)
        # JSON null means "not given" for optional parameters.
        return {k: v for k, v in data.items() if v is not None}
    if ctype in ("", "application/x-www-form-urlencoded"):
        out: dict[str, Any] = {}
        try:
            _merge_pairs(parse_qsl(body.decode("utf-8"), keep_blank_values=True), out)
        except UnicodeDecodeError as err:
            raise PyxisError("invalid body encoding", status=400) from err
        return out
    raise PyxisError(f"unsupported content type '{ctype}'", status=415)


def merge(path: dict[str, str], query: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Body, then query over it, then path parameters (a conflicting repeat is a 400)."""
    params = {**body, **query}
    errors: dict[str, str] = {}
    for key, value in path.items():
        given = params.get(key)
        if given is not None and given != value:
            errors[key] = "duplicate parameter (path and body/query differ)"
        params[key] = value
    if errors:
        raise ParamError(errors)
    return params
