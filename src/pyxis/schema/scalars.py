"""Checks for one scalar value against a sub-schema (type, enum, limits, pattern, format).

Shared by parameter validation and property strings.  ``lenient_bool`` accepts the
spellings allowed inside property strings (on/off/yes/no/true/false); API parameters
accept only 0 and 1, as upstream.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pyxis.schema import formats

TRUE_WORDS = {"1", "on", "yes", "true"}
FALSE_WORDS = {"0", "off", "no", "false"}
INT_RE = re.compile(r"^[+-]?\d+\Z")
NUM_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\Z")


@lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile an upstream (Perl) pattern: ``(?^:`` groups become ``(?:``; anchored."""
    py = pattern.replace("(?^:", "(?:").replace("(?^i:", "(?i:")
    return re.compile(rf"^(?:{py})$")


def check_scalar(sub: dict[str, Any], value: Any, *, lenient_bool: bool = False) -> Any:
    """Return ``value`` converted to the sub-schema's type; raise ValueError otherwise."""
    typ = sub.get("type", "string")
    if typ == "boolean":
        return _boolean(value, lenient_bool)
    if typ == "integer":
        value = _integer(value)
    elif typ == "number":
        value = _number(value)
    elif typ == "string":
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError("type check ('string') failed")
        value = str(value)
    if "enum" in sub and value not in sub["enum"]:
        choices = ", ".join(str(x) for x in sub["enum"])
        raise ValueError(f"value '{value}' does not have a value in the enumeration '{choices}'")
    if typ in ("integer", "number"):
        if "minimum" in sub and value < float(sub["minimum"]):
            raise ValueError(f"value must have a minimum value of {sub['minimum']}")
        if "maximum" in sub and value > float(sub["maximum"]):
            raise ValueError(f"value must have a maximum value of {sub['maximum']}")
    if typ == "string":
        if "\0" in value:
            raise ValueError("value may not contain NUL characters")
        if "maxLength" in sub and len(value) > sub["maxLength"]:
            raise ValueError(f"value may only be {sub['maxLength']} characters long")
        if "minLength" in sub and len(value) < sub["minLength"]:
            raise ValueError(f"value must be at least {sub['minLength']} characters long")
        if "pattern" in sub and not compile_pattern(sub["pattern"]).fullmatch(value):
            raise ValueError("value does not match the regex pattern")
        fmt = sub.get("format")
        if isinstance(fmt, str):
            fn = formats.lookup(fmt)
            if fn is None:
                raise ValueError(f"unknown format '{fmt}'")
            value = fn(value)
        elif isinstance(fmt, dict):
            from pyxis.schema import propstr

            propstr.parse(fmt, value)
    return value


def _boolean(value: Any, lenient: bool) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and value in (0, 1):
        return value
    text = str(value).strip().lower() if lenient else str(value)
    if text in (TRUE_WORDS if lenient else {"1"}):
        return 1
    if text in (FALSE_WORDS if lenient else {"0"}):
        return 0
    raise ValueError(f"type check ('boolean') failed - got '{value}'")


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"type check ('integer') failed - got '{value}'")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and INT_RE.match(value):
        return int(value)
    raise ValueError(f"type check ('integer') failed - got '{value}'")


def _number(value: Any) -> float | int:
    if isinstance(value, bool):
        raise ValueError(f"type check ('number') failed - got '{value}'")
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str) and NUM_RE.match(value):
        num = float(value)
        return int(num) if INT_RE.match(value) else num
    raise ValueError(f"type check ('number') failed - got '{value}'")
