"""The method registry: one declaration per API method drives everything else.

A declaration holds the path, HTTP method, upstream handler name, parameter and
return schemas (upstream dialect), the permission check, and the ``protected``,
``proxyto`` and ``allowtoken`` flags.  The HTTP router, parameter validation, the
generated CLI, the OpenAPI document and the compatibility test all read it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pyxis.errors import NotImplementedErr

Handler = Callable[[Any, dict[str, Any]], Awaitable[Any]]
HTTP_METHODS = ("GET", "POST", "PUT", "DELETE")
PARAM_SEG_RE = re.compile(r"^\{([a-z][a-z0-9_-]*)\}\Z")
# Below these paths the rest of the URI is one parameter, unencoded '/' included:
# volume IDs hold '/' and clients such as proxmoxer put them in the path as they are
# (upstream registers the content subtree with an empty fragment delimiter).
WHOLE_REST = frozenset({"/nodes/{node}/storage/{storage}/content"})


@dataclass
class Method:
    """One API method.  ``parameters`` is an object schema including path parameters."""

    http: str
    path: str
    name: str
    handler: Handler
    parameters: dict[str, Any]
    returns: dict[str, Any]
    permissions: dict[str, Any]
    protected: bool = False
    proxyto: str | None = None
    allowtoken: bool = True
    extension: bool = False
    upload: bool = False
    download: bool = False
    # a GET that upgrades to a websocket; the handler gets ``call.websocket``
    websocket: bool = False
    description: str = ""

    @property
    def key(self) -> str:
        return f"{self.http} {self.path}"


@dataclass
class _Node:
    literal: dict[str, _Node] = field(default_factory=dict)
    param: tuple[str, _Node] | None = None
    methods: dict[str, Method] = field(default_factory=dict)


class Registry:
    """Holds every declared method and routes ``(http, path)`` to one of them."""

    def __init__(self) -> None:
        self._root = _Node()
        self.methods: dict[str, Method] = {}

    def add(self, m: Method) -> Method:
        if m.http not in HTTP_METHODS:
            raise ValueError(f"bad HTTP method {m.http}")
        if m.key in self.methods:
            raise ValueError(f"duplicate API method {m.key}")
        node = self._root
        for seg in _segments(m.path):
            pm = PARAM_SEG_RE.match(seg)
            if pm:
                if node.param is None:
                    node.param = (pm.group(1), _Node())
                elif node.param[0] != pm.group(1):
                    raise ValueError(f"conflicting path parameter in {m.path}")
                node = node.param[1]
            else:
                node = node.literal.setdefault(seg, _Node())
        node.methods[m.http] = m
        self.methods[m.key] = m
        return m

    def route(self, http: str, path: str) -> tuple[Method, dict[str, str]]:
        """Find the method for a concrete path; raise 501 like upstream when none."""
        node = self._root
        params: dict[str, str] = {}
        segs = _segments(path)
        template = ""
        i = 0
        while i < len(segs):
            seg = segs[i]
            i += 1
            nxt = node.literal.get(seg)
            if nxt is not None:
                template += "/" + seg
            elif node.param is not None:
                params[node.param[0]] = seg
                nxt = node.param[1]
                template += "/{" + node.param[0] + "}"
            if nxt is None:
                raise NotImplementedErr(f"Method '{http} /{path.strip('/')}' not implemented")
            node = nxt
            if template in WHOLE_REST and len(segs) - i > 1:
                segs[i:] = ["/".join(segs[i:])]
        m = node.methods.get(http)
        if m is None:
            raise NotImplementedErr(f"Method '{http} /{path.strip('/')}' not implemented")
        return m, params

    def children(self, path: str) -> list[str]:
        """Literal child segments below ``path`` (for directory-index endpoints)."""
        node = self._root
        for seg in _segments(path):
            node = node.literal[seg]
        return sorted(node.literal)

    def __iter__(self) -> Any:
        return iter(sorted(self.methods.values(), key=lambda m: (m.path, m.http)))


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


REGISTRY = Registry()


def method(
    http: str,
    path: str,
    *,
    name: str,
    permissions: dict[str, Any],
    parameters: dict[str, Any] | None = None,
    returns: dict[str, Any] | None = None,
    **flags: Any,
) -> Callable[[Handler], Handler]:
    """Declare an API method in the global registry (decorator)."""

    def deco(fn: Handler) -> Handler:
        props = dict(parameters or {})
        REGISTRY.add(
            Method(
                http=http,
                path=path,
                name=name,
                handler=fn,
                parameters={"additionalProperties": 0, "properties": props},
                returns=returns if returns is not None else {"type": "null"},
                permissions=permissions,
                description=(fn.__doc__ or "").strip().split("\n")[0],
                **flags,
            )
        )
        return fn

    return deco
