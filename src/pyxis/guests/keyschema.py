"""Typed access to guest config values, shared by every guest kind's key registry.

A ``KeySet`` bundles one guest kind's key declarations (upstream dialect, indexed
families as ``mp[n]`` with ``x-index-max``) and the property-string formats they name.
Config values stay strings in the file model; ``parse_value`` turns one into a dict
(property strings) or a typed scalar after validating it, and ``print_value`` turns a
typed value back into the text the file holds.  The VM registry predates this module
and keeps its own copy of the same logic; container keys use this one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pyxis.schema import formats, propstr
from pyxis.schema.propstr import Format
from pyxis.schema.scalars import check_scalar
from pyxis.schema.validate import family_schema

Schema = dict[str, Any]


def register_formats(checks: Mapping[str, Callable[[str], str]]) -> None:
    """Register named string formats that are not registered yet (import-time safe)."""
    known = set(formats.known())
    for name, fn in checks.items():
        if name not in known:
            formats.register(name)(fn)


def propstr_checks(named: Mapping[str, Format]) -> dict[str, Callable[[str], str]]:
    """A string-format check per named property-string format (parse, keep the text)."""

    def check_for(fmt: Format) -> Callable[[str], str]:
        def check(value: str) -> str:
            propstr.parse(fmt, value)
            return value

        return check

    return {name: check_for(fmt) for name, fmt in named.items()}


def scalar_text(value: Any) -> str:
    """Config-file text of a scalar: booleans as 0/1, integral floats without ``.0``."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class KeySet:
    """One guest kind's keys; ``multiline`` names keys whose value may span lines."""

    keys: Mapping[str, Schema]
    named_formats: Mapping[str, Format] = field(default_factory=dict)
    multiline: frozenset[str] = frozenset({"description"})

    def schema(self, key: str) -> Schema | None:
        """The schema for ``key`` (``mp3`` resolves to ``mp[n]``), or None if unknown."""
        return family_schema(dict(self.keys), key)

    def propstr_format(self, schema: Schema) -> Format | None:
        """The property-string format of a key schema (inline or named), else None."""
        fmt = schema.get("format")
        if isinstance(fmt, dict):
            return fmt
        if isinstance(fmt, str):
            return self.named_formats.get(fmt)
        return None

    def _known(self, key: str) -> Schema:
        schema = self.schema(key)
        if schema is None:
            raise ValueError(f"{key}: unknown configuration key")
        return schema

    def parse_value(self, key: str, value: str) -> Any:
        """Typed value of ``key``: a dict for property strings, else int/float/str.

        String values come back as given; every value is validated against the key's
        schema.  Line breaks are refused outside ``multiline`` keys, so a value can never
        add a line to a file it is written into.  Raises ValueError naming the key.
        """
        schema = self._known(key)
        if key not in self.multiline and ("\n" in value or "\r" in value):
            raise ValueError(f"{key}: value may not contain line breaks")
        try:
            checked = check_scalar(schema, value, lenient_bool=True)
            fmt = self.propstr_format(schema)
            if fmt is not None:
                return propstr.parse(fmt, value)
        except ValueError as err:
            raise ValueError(f"{key}: {err}") from err
        return value if schema.get("type", "string") == "string" else checked

    def print_value(self, key: str, data: Any) -> str:
        """The config text for ``key`` (dicts printed as property strings, default key
        first); the result is validated as ``parse_value`` does."""
        schema = self._known(key)
        fmt = self.propstr_format(schema)
        if fmt is not None and isinstance(data, dict):
            try:
                text = propstr.render(fmt, data)
            except ValueError as err:
                raise ValueError(f"{key}: {err}") from err
        else:
            text = scalar_text(data)
        self.parse_value(key, text)
        return text
