"""Routing through the registry: templates, parameters, 501 for unknown paths."""

from __future__ import annotations

from typing import Any

import pytest

from pyxis.errors import NotImplementedErr
from pyxis.schema.registry import Method, Registry


async def _handler(call: Any, p: dict[str, Any]) -> None:
    return None


def _reg() -> Registry:
    reg = Registry()
    for http, path in [
        ("GET", "/nodes"),
        ("GET", "/nodes/{node}/status"),
        ("POST", "/nodes/{node}/tasks"),
        ("GET", "/nodes/{node}/tasks/{upid}"),
        ("GET", "/version"),
    ]:
        reg.add(Method(http, path, "x", _handler, {}, {}, {"user": "all"}))
    return reg


@pytest.mark.parametrize(
    ("http", "path", "template", "params"),
    [
        ("GET", "/nodes", "/nodes", {}),
        ("GET", "/nodes/", "/nodes", {}),
        ("GET", "/nodes/pve1/status", "/nodes/{node}/status", {"node": "pve1"}),
        (
            "GET",
            "/nodes/n/tasks/UPID:n:1",
            "/nodes/{node}/tasks/{upid}",
            {"node": "n", "upid": "UPID:n:1"},
        ),
    ],
)
def test_route(http: str, path: str, template: str, params: dict[str, str]) -> None:
    m, got = _reg().route(http, path)
    assert m.path == template
    assert got == params


@pytest.mark.parametrize(
    ("http", "path"), [("GET", "/nope"), ("DELETE", "/nodes"), ("GET", "/nodes/n/status/extra")]
)
def test_unknown_is_501(http: str, path: str) -> None:
    with pytest.raises(NotImplementedErr) as info:
        _reg().route(http, path)
    assert info.value.status == 501
    assert info.value.message.startswith(f"Method '{http} /")


def test_duplicate_declaration_rejected() -> None:
    reg = _reg()
    with pytest.raises(ValueError, match="duplicate"):
        reg.add(Method("GET", "/version", "x", _handler, {}, {}, {"user": "all"}))


def test_every_declared_method_has_a_permission_check() -> None:
    import pyxis.api.all  # noqa: F401
    from pyxis.access.perms import validate_permission
    from pyxis.schema.registry import REGISTRY

    for m in REGISTRY:
        assert m.permissions, f"{m.key} declares no permission check"
        validate_permission(m.permissions)
