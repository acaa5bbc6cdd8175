"""The OpenAPI 3 document at ``/api2/openapi.json``, generated from the registry.

Upstream publishes no OpenAPI description; this one is derived from the same
declarations that drive routing and validation, so it cannot drift from the server.
Upstream-dialect schemas are translated: ``optional`` -> ``required`` lists, booleans
as 0/1 integers (what the wire carries), property strings as strings, Perl patterns
as ECMA-compatible ones.
"""

from __future__ import annotations

from contextlib import suppress
from functools import lru_cache
from typing import Any

import pyxis
from pyxis.schema.registry import REGISTRY, Method
from pyxis.schema.scalars import check_scalar

_KEEP = ("minimum", "maximum", "maxLength", "minLength", "enum", "default")
_LIMITS = ("minimum", "maximum", "maxLength", "minLength")


def _as_number(val: Any) -> int | float | None:
    if isinstance(val, bool):
        return None
    if isinstance(val, (int, float)):
        return val
    try:
        num = float(val)
    except (TypeError, ValueError):
        return None
    return int(num) if num.is_integer() else num


def _pattern(p: str) -> str:
    return "^(?:" + p.replace("(?^:", "(?:").replace("(?^i:", "(?:") + ")$"


def to_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """Translate one upstream-dialect schema into an OpenAPI 3.0 schema object."""
    typ = schema.get("type", "string")
    if typ == "null":
        return {"nullable": True}
    out: dict[str, Any] = {}
    if typ == "boolean":
        out = {"type": "integer", "enum": [0, 1]}
        if "default" in schema:
            # upstream writes some boolean defaults as words ('yes'); drop ones that don't parse
            with suppress(ValueError):
                out["default"] = check_scalar(schema, schema["default"], lenient_bool=True)
        return out
    if typ in ("integer", "number", "string"):
        out["type"] = typ
    elif typ == "array":
        out = {"type": "array", "items": to_openapi(schema.get("items", {"type": "string"}))}
    elif typ == "object":
        out = {"type": "object"}
        props = schema.get("properties") or {}
        if props:
            out["properties"] = {k: to_openapi(v) for k, v in props.items()}
            req = sorted(k for k, v in props.items() if not v.get("optional"))
            if req:
                out["required"] = req
    for key in _KEEP:
        if key in schema and not (key == "default" and typ in ("object", "array")):
            val = schema[key]
            if (
                key == "default"
                and typ in ("integer", "number")
                and not isinstance(val, (int, float))
            ):
                continue
            if key == "default" and typ == "string" and not isinstance(val, str):
                continue
            if key in _LIMITS:
                # upstream writes some limits as strings ("minimum": "0")
                val = _as_number(val)
                if val is None:
                    continue
            out[key] = val
    if "pattern" in schema:
        out["pattern"] = _pattern(schema["pattern"])
    fmt = schema.get("format")
    if isinstance(fmt, str):
        out["x-pve-format"] = fmt
    elif isinstance(fmt, dict):
        out["x-pve-property-string"] = sorted(fmt)
    return out


def _operation_id(m: Method) -> str:
    flat = m.path.strip("/").replace("/", "_").replace("{", "").replace("}", "")
    return f"{m.http.lower()}_{flat}"


def _operation(m: Method) -> dict[str, Any]:
    props: dict[str, Any] = m.parameters.get("properties", {})
    in_path = {seg[1:-1] for seg in m.path.split("/") if seg.startswith("{")}
    params: list[dict[str, Any]] = []
    body_props: dict[str, Any] = {}
    body_req: list[str] = []
    for name, sub in sorted(props.items()):
        if name.endswith("[n]"):
            continue
        schema = to_openapi(sub)
        if name in in_path:
            params.append({"name": name, "in": "path", "required": True, "schema": schema})
        elif m.http in ("GET", "DELETE"):
            params.append(
                {"name": name, "in": "query", "required": not sub.get("optional"), "schema": schema}
            )
        else:
            body_props[name] = schema
            if not sub.get("optional"):
                body_req.append(name)
    op: dict[str, Any] = {
        "operationId": _operation_id(m),
        "summary": m.description or m.name,
        "x-pve-name": m.name,
        "x-pve-permissions": m.permissions,
        "parameters": params,
        "responses": {
            "200": {
                "description": "success",
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "properties": {"data": to_openapi(m.returns)}}
                    }
                },
            },
            "default": {"description": "error (status code and message as reason phrase)"},
        },
    }
    if m.http in ("POST", "PUT"):
        body: dict[str, Any] = {"type": "object", "properties": body_props}
        if body_req:
            body["required"] = body_req
        ctype = "multipart/form-data" if m.upload else "application/x-www-form-urlencoded"
        op["requestBody"] = {
            "required": bool(body_req),
            "content": {
                ctype: {"schema": body},
                **({} if m.upload else {"application/json": {"schema": body}}),
            },
        }
    if m.proxyto:
        op["x-pve-proxyto"] = m.proxyto
    if m.extension:
        op["x-pyxis-extension"] = True
    return op


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for m in REGISTRY:
        paths.setdefault("/api2/json" + m.path, {})[m.http.lower()] = _operation(m)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Pyxis API (Proxmox VE compatible)",
            "version": pyxis.__version__,
            "x-pve-api-release": pyxis.API_RELEASE,
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "ticket": {"type": "apiKey", "in": "cookie", "name": "PVEAuthCookie"},
                "token": {"type": "apiKey", "in": "header", "name": "Authorization"},
            }
        },
        "security": [{"ticket": []}, {"token": []}],
    }
