"""``datacenter.cfg``: cluster-wide options as ``key: value`` lines.

The schema of each key is declared here once and used both by ``PUT /cluster/options``
and by the parser, so a file edited by hand is held to the same rules as the API.
"""

from __future__ import annotations

from typing import Any

from pyxis.schema import propstr
from pyxis.schema.scalars import check_scalar

S = dict[str, Any]

KEYBOARDS = [
    "de",
    "de-ch",
    "da",
    "en-gb",
    "en-us",
    "es",
    "fi",
    "fr",
    "fr-be",
    "fr-ca",
    "fr-ch",
    "hu",
    "is",
    "it",
    "ja",
    "lt",
    "mk",
    "nl",
    "no",
    "pl",
    "pt",
    "pt-br",
    "sv",
    "sl",
    "tr",
]
LANGUAGES = [
    "ar",
    "ca",
    "da",
    "de",
    "en",
    "es",
    "eu",
    "fa",
    "fr",
    "hr",
    "he",
    "it",
    "ja",
    "ka",
    "kr",
    "nb",
    "nl",
    "nn",
    "pl",
    "pt_BR",
    "ru",
    "sl",
    "sv",
    "tr",
    "ukr",
    "zh_CN",
    "zh_TW",
]

OPTIONS: dict[str, S] = {
    "keyboard": {"type": "string", "optional": 1, "enum": KEYBOARDS},
    "language": {"type": "string", "optional": 1, "enum": LANGUAGES},
    "console": {"type": "string", "optional": 1, "enum": ["applet", "vv", "html5", "xtermjs"]},
    "http_proxy": {"type": "string", "optional": 1, "pattern": "http://.*"},
    "email_from": {"type": "string", "optional": 1, "format": "email-opt"},
    "description": {"type": "string", "optional": 1, "maxLength": 65536},
    "max_workers": {"type": "integer", "optional": 1, "minimum": 1},
    "mac_prefix": {"type": "string", "optional": 1, "format": "mac-prefix", "default": "BC:24:11"},
    "fencing": {
        "type": "string",
        "optional": 1,
        "enum": ["watchdog", "hardware", "both"],
        "default": "watchdog",
    },
    "migration_unsecure": {"type": "boolean", "optional": 1},
    "next-id": {
        "type": "string",
        "optional": 1,
        "format": {
            "lower": {"type": "integer", "optional": 1, "default": 100},
            "upper": {"type": "integer", "optional": 1, "default": 1000000},
        },
    },
    "migration": {
        "type": "string",
        "optional": 1,
        "format": {
            "type": {
                "type": "string",
                "default_key": 1,
                "enum": ["secure", "insecure"],
                "default": "secure",
            },
            "network": {"type": "string", "optional": 1, "format": "CIDR"},
        },
    },
    # relying party for TFA WebAuthn (pyxis.access.tfa.webauthn.CONFIG_FORMAT)
    "webauthn": {
        "type": "string",
        "optional": 1,
        "format": {
            "rp": {"type": "string", "optional": 1, "maxLength": 256},
            "origin": {"type": "string", "optional": 1, "maxLength": 256},
            "id": {"type": "string", "optional": 1, "maxLength": 256},
            "allow-subdomains": {"type": "boolean", "optional": 1, "default": 1},
        },
    },
    "ha": {
        "type": "string",
        "optional": 1,
        "format": {
            "shutdown_policy": {
                "type": "string",
                "default": "conditional",
                "enum": ["freeze", "failover", "conditional", "migrate"],
            },
        },
    },
}


def parse(text: str) -> dict[str, Any]:
    """Parse datacenter.cfg; unknown keys and bad values raise ValueError with the line."""
    out: dict[str, Any] = {}
    for no, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or key not in OPTIONS:
            raise ValueError(f"datacenter.cfg line {no}: unknown or malformed option '{key}'")
        try:
            out[key] = check_scalar(OPTIONS[key], value)
        except ValueError as err:
            raise ValueError(f"datacenter.cfg line {no}: {key}: {err}") from err
    return out


def render(cfg: dict[str, Any]) -> str:
    return "".join(f"{k}: {cfg[k]}\n" for k in sorted(cfg) if cfg[k] is not None)


def next_id_range(cfg: dict[str, Any]) -> tuple[int, int]:
    """The (lower, upper) bounds for ``/cluster/nextid``; upper is exclusive."""
    fmt = OPTIONS["next-id"]["format"]
    rng = propstr.parse(fmt, cfg["next-id"]) if cfg.get("next-id") else {}
    return int(rng.get("lower", 100)), int(rng.get("upper", 1000000))
