"""``pvesh``: call any API path from the shell, as upstream's pvesh.

``pvesh get|create|set|delete PATH [--param value ...] [--output-format FMT]`` maps to
GET/POST/PUT/DELETE; ``pvesh ls PATH`` lists a directory; ``pvesh usage PATH`` shows
the parameters a method accepts, straight from the registry.
"""

from __future__ import annotations

import json
import sys

from pyxis.cli.client import ApiError, LocalClient
from pyxis.cli.common import (
    OUTPUT_FORMATS,
    UsageError,
    find_method,
    load_registry,
    parse_options,
    print_result,
)
from pyxis.errors import PyxisError
from pyxis.schema.registry import REGISTRY

VERBS = {
    "get": "GET",
    "create": "POST",
    "set": "PUT",
    "delete": "DELETE",
    "ls": "GET",
    "usage": "GET",
}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("help", "-h", "--help") or args[0] not in VERBS or len(args) < 2:
        print(
            "usage: pvesh get|create|set|delete|ls|usage PATH [--param value ...] "
            "[--output-format text|json|json-pretty] [--root DIR]",
            file=sys.stderr if args and args[0] not in ("help", "-h", "--help") else sys.stdout,
        )
        return 0 if args and args[0] in ("help", "-h", "--help") else 2
    verb, path, rest = args[0], "/" + args[1].strip("/"), args[2:]
    http = VERBS[verb]
    try:
        if verb == "usage":
            return _usage(path, rest)
        if verb == "ls" and path == "/":
            # the root is a directory of the tree, not a method: list its top level
            load_registry()
            print("\n".join(REGISTRY.children("/")))
            return 0
        m = find_method(http, path)
        positional, opts = parse_options(rest, m)
        if positional:
            raise UsageError(f"unexpected argument '{positional[0]}'")
        fmt = str(opts.pop("output-format", "text"))
        root = opts.pop("root", None)
        if fmt not in OUTPUT_FORMATS:
            raise UsageError(f"unknown output format '{fmt}'")
        client = LocalClient(str(root) if root else None)
        data = client.call(http, path, opts)
        if verb == "ls" and isinstance(data, list):
            key = _child_param(m.path)
            for item in data:
                if isinstance(item, dict):
                    name = item.get(key) if key else None
                    print(name or item.get("subdir") or item.get("name") or json.dumps(item))
            return 0
        print_result(data, fmt)
        return 0
    except UsageError as err:
        print(f"pvesh: {err}", file=sys.stderr)
        return 2
    except (ApiError, PyxisError) as err:
        print(f"pvesh: {err}", file=sys.stderr)
        return 255


def _child_param(path: str) -> str | None:
    """Name of the path parameter right below ``path`` (``node`` below /nodes), if any."""
    prefix = path.rstrip("/") + "/{"
    for other in REGISTRY:
        if other.path.startswith(prefix):
            return str(other.path[len(prefix) :].split("}", 1)[0])
    return None


def _usage(path: str, rest: list[str]) -> int:
    found = False
    for http in ("GET", "POST", "PUT", "DELETE"):
        try:
            m = find_method(http, path)
        except PyxisError:
            continue
        found = True
        print(f"{http} {m.path}  ({m.name})")
        for key, sub in sorted(m.parameters.get("properties", {}).items()):
            flag = "" if sub.get("optional") else " (required)"
            fmt = sub.get("format")
            fmt_text = f" format={fmt}" if isinstance(fmt, str) else ""
            print(f"  --{key} <{sub.get('type', 'string')}>{fmt_text}{flag}")
    if not found:
        print(f"pvesh: no API method at {path}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
