"""Every declared API method against the upstream contract (``pyxis/data/schema.json``).

One case per registry method, so a failure names the endpoint and lists every
disagreement at once.  Methods in the extension allow-list (``data/extensions.json``)
are exempt; instead each allow-listed entry must really be absent upstream.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

import pyxis.api.all  # noqa: F401 - registers every API method
from pyxis.schema.registry import REGISTRY, Method

S = dict[str, Any]


def _load(name: str) -> Any:
    return json.loads(resources.files("pyxis.data").joinpath(name).read_text())


UPSTREAM: dict[str, dict[str, S]] = _load("schema.json")
EXTENSIONS: list[S] = _load("extensions.json")
# an entry with "param" allows one extra parameter on an upstream method
ALLOWED = {(e["method"], e["path"]) for e in EXTENSIONS if "param" not in e}
EXTRA_PARAMS = {(e["method"], e["path"], e["param"]) for e in EXTENSIONS if "param" in e}
METHODS = list(REGISTRY)
CHECKED = [m for m in METHODS if (m.http, m.path) not in ALLOWED]


def _param_problems(name: str, ours: S, theirs: S) -> list[str]:
    out: list[str] = []
    t_ours, t_theirs = ours.get("type", "string"), theirs.get("type", "string")
    if t_ours != t_theirs:
        out.append(f"param {name}: type {t_ours!r}, upstream {t_theirs!r}")
    f_ours, f_theirs = ours.get("format"), theirs.get("format")
    if isinstance(f_theirs, dict) or isinstance(f_ours, dict):
        if not (isinstance(f_ours, dict) and isinstance(f_theirs, dict)):
            out.append(f"param {name}: format {f_ours!r}, upstream {f_theirs!r}")
        elif extra := sorted(set(f_ours) - set(f_theirs)):
            out.append(f"param {name}: property-string keys {extra} not upstream")
    elif f_ours != f_theirs:
        out.append(f"param {name}: format {f_ours!r}, upstream {f_theirs!r}")
    if "enum" in theirs and "enum" not in ours:
        out.append(f"param {name}: no enum, upstream {theirs['enum']}")
    elif "enum" in ours:
        extra_vals = sorted(set(ours["enum"]) - set(theirs.get("enum", ours["enum"])))
        if "enum" not in theirs:
            out.append(f"param {name}: enum {ours['enum']}, upstream has none")
        elif extra_vals:
            out.append(f"param {name}: enum values {extra_vals} not upstream")
    if bool(ours.get("optional")) != bool(theirs.get("optional")):
        which = "optional" if ours.get("optional") else "required"
        out.append(f"param {name}: {which} here, not upstream")
    return out


def problems(m: Method, up: S) -> list[str]:
    """Every way the declaration of ``m`` disagrees with upstream's ``up``."""
    out: list[str] = []
    if m.name != up["name"]:
        out.append(f"name {m.name!r}, upstream {up['name']!r}")
    flags = (
        ("protected", m.protected, bool(up.get("protected", 0))),
        ("proxyto", m.proxyto, up.get("proxyto")),
        ("allowtoken", m.allowtoken, bool(up.get("allowtoken", 1))),
    )
    for flag, ours, theirs in flags:
        if ours != theirs:
            out.append(f"{flag} {ours!r}, upstream {theirs!r}")
    props: S = m.parameters.get("properties", {})
    up_props: S = (up.get("parameters") or {}).get("properties", {})
    for name, schema in sorted(props.items()):
        if (m.http, m.path, name) in EXTRA_PARAMS:
            continue
        if name not in up_props:
            out.append(f"param {name}: not upstream")
        else:
            out += _param_problems(name, schema, up_props[name])
    missing = sorted(n for n, s in up_props.items() if not s.get("optional") and n not in props)
    if missing:
        out.append(f"required upstream params not declared: {missing}")
    r_ours, r_theirs = m.returns.get("type"), (up.get("returns") or {}).get("type")
    if r_ours != r_theirs:
        out.append(f"returns type {r_ours!r}, upstream {r_theirs!r}")
    return out


@pytest.mark.parametrize("m", CHECKED, ids=[m.key for m in CHECKED])
def test_method_matches_upstream(m: Method) -> None:
    up = UPSTREAM.get(m.path, {}).get(m.http)
    assert up is not None, f"{m.key} is not upstream: declare it in data/extensions.json"
    found = problems(m, up)
    assert not found, f"{m.key} disagrees with upstream:\n  " + "\n  ".join(found)


@pytest.mark.parametrize("ext", EXTENSIONS, ids=[f"{e['method']} {e['path']}" for e in EXTENSIONS])
def test_extension_is_absent_upstream(ext: S) -> None:
    assert set(ext) - {"param"} == {"method", "path", "why"} and ext["why"].strip()
    path = ext["path"]
    if "param" in ext:  # an extra parameter of an upstream method
        up = UPSTREAM[path][ext["method"]]
        assert ext["param"] not in (up.get("parameters") or {}).get("properties", {})
        return
    assert ext["method"] not in UPSTREAM.get(path, {})
    if path.startswith("/api2/"):
        # served outside the API tree: must not shadow an upstream path either
        inner = "/" + path.removeprefix("/api2/").partition("/")[2]
        assert ext["method"] not in UPSTREAM.get(inner, {})
        assert ext["method"] not in UPSTREAM.get(path.removeprefix("/api2"), {})


def test_extension_flag_is_allow_listed() -> None:
    flagged = sorted(m.key for m in METHODS if m.extension and (m.http, m.path) not in ALLOWED)
    assert flagged == []


def test_upstream_contract_size() -> None:
    assert sum(len(ms) for ms in UPSTREAM.values()) == 649


def test_checker_reports_disagreements() -> None:
    """The checker itself: a declaration with known faults yields one line per fault."""
    up = UPSTREAM["/nodes/{node}/storage/{storage}/content"]["POST"]
    bad = Method(
        http="POST",
        path="/nodes/{node}/storage/{storage}/content",
        name="alloc",
        handler=None,  # type: ignore[arg-type]
        parameters={
            "properties": {
                "node": {"type": "string", "format": "pve-node"},
                "storage": {"type": "string", "format": "pve-storage-id"},
                "vmid": {"type": "string", "format": "pve-vmid"},
                "filename": {"type": "string", "optional": 1},
                "format": {"type": "string", "enum": ["raw", "vdi"], "optional": 1},
                "bogus": {"type": "string", "optional": 1},
            }
        },
        returns={"type": "object"},
        permissions={},
        protected=False,
    )
    found = problems(bad, up)
    for needle in (
        "name 'alloc'",
        "protected False",
        "proxyto None",
        "param vmid: type",
        "param filename: optional",
        "param format: enum values ['vdi']",
        "param bogus: not upstream",
        "required upstream params not declared: ['size']",
        "returns type 'object'",
    ):
        assert any(needle in line for line in found), (needle, found)
