"""Validation of API parameters against a method's parameter schema.

Input arrives as strings (query string, form body, CLI) or typed JSON values; the
result is a dict of normalised values.  Every problem is collected per parameter and
raised together as one ``ParamError`` so that a 400 names each offending parameter.
Indexed families are declared once as ``net[n]`` with ``x-index-max`` giving the
highest index; ``net0`` ... ``netN`` then validate against that entry.
"""

from __future__ import annotations

import re
from typing import Any

from pyxis.errors import ParamError
from pyxis.schema.scalars import check_scalar

Schema = dict[str, Any]
NOT_IN_SCHEMA = (
    "property is not defined in schema and the schema does not allow additional properties"
)
INDEXED_RE = re.compile(r"^([a-z][a-z_-]*?)(\d+)\Z")


def family_schema(props: dict[str, Schema], key: str) -> Schema | None:
    """Sub-schema for ``key``, resolving ``net0`` to the ``net[n]`` family."""
    sub = props.get(key)
    if sub is not None:
        return sub
    m = INDEXED_RE.match(key)
    if not m:
        return None
    fam = props.get(f"{m.group(1)}[n]")
    if fam is None:
        return None
    idx = int(m.group(2))
    if str(idx) != m.group(2) or idx > fam.get("x-index-max", 31):
        return None
    return fam


def validate_value(sub: Schema, value: Any) -> Any:
    """Validate one parameter value (array or scalar); raise ValueError."""
    if sub.get("type") == "array":
        items = value if isinstance(value, list) else [value]
        item_schema = sub.get("items", {"type": "string"})
        return [check_scalar(item_schema, v) for v in items]
    if isinstance(value, list):
        if len(value) == 1:
            value = value[0]
        else:
            raise ValueError("duplicate parameter (not allowed)")
    if sub.get("type") == "object":
        if not isinstance(value, dict):
            raise ValueError("type check ('object') failed")
        return value
    return check_scalar(sub, value)


def validate_params(parameters: Schema, raw: dict[str, Any]) -> dict[str, Any]:
    """Check ``raw`` against ``parameters`` (an object schema); return normalised values."""
    props: dict[str, Schema] = parameters.get("properties", {})
    allow_extra = bool(parameters.get("additionalProperties", 0))
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        sub = family_schema(props, key)
        if sub is None:
            if allow_extra:
                out[key] = value
            else:
                errors[key] = NOT_IN_SCHEMA
            continue
        if "alias" in sub and "type" not in sub:
            sub = props[sub["alias"]]
            key = sub.get("x-name", key)
        try:
            out[key] = validate_value(sub, value)
        except ValueError as err:
            errors[key] = str(err)
    for key, sub in props.items():
        if key.endswith("[n]") or sub.get("optional") or "alias" in sub:
            continue
        if key not in out and key not in errors:
            errors[key] = "property is missing and it is not optional"
    for key in list(out):
        sub = family_schema(props, key) or {}
        need = sub.get("requires")
        if need and need not in out:
            errors.setdefault(need, f"missing property - '{key}' requires this property")
    if errors:
        raise ParamError(errors)
    return out
