"""Shared CLI machinery: options parsed against a method's schema, command tables, output.

A command table maps a subcommand (``pvesm add``) to an API method, the names of its
positional arguments and an optional output formatter.  Options are ``--key value``
(or ``--key=value``); a boolean option given alone means 1.  The daemon validates
everything, so the CLI and the API reject the same input with the same messages.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from pyxis.cli.client import ApiError, LocalClient
from pyxis.errors import PyxisError
from pyxis.schema.registry import REGISTRY, Method
from pyxis.schema.validate import family_schema

BOOL_WORDS = {"0", "1", "yes", "no", "true", "false", "on", "off"}
OUTPUT_FORMATS = ("text", "json", "json-pretty")


class UsageError(Exception):
    pass


def load_registry() -> None:
    import pyxis.api.all  # noqa: F401 - registers every method


def find_method(http: str, path: str) -> Method:
    load_registry()
    m, _ = REGISTRY.route(http, path)
    return m


def parse_options(args: list[str], m: Method | None) -> tuple[list[str], dict[str, Any]]:
    """Split ``args`` into positionals and ``--key value`` options."""
    props = m.parameters.get("properties", {}) if m else {}
    positional: list[str] = []
    opts: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or arg == "--":
            positional.append(arg)
            i += 1
            continue
        key, eq, value = arg[2:].partition("=")
        sub = family_schema(props, key) or {}
        if not eq:
            nxt = args[i + 1] if i + 1 < len(args) else None
            if sub.get("type") == "boolean" and (nxt is None or nxt.lower() not in BOOL_WORDS):
                value = "1"
            elif nxt is None:
                raise UsageError(f"option --{key} needs a value")
            else:
                value = nxt
                i += 1
        if sub.get("type") == "boolean":
            value = {"yes": "1", "true": "1", "on": "1", "no": "0", "false": "0", "off": "0"}.get(
                value.lower(), value
            )
        if key in opts:
            prev = opts[key]
            opts[key] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            opts[key] = value
        i += 1
    return positional, opts


def print_result(data: Any, fmt: str, columns: list[str] | None = None) -> None:
    if fmt == "json":
        print(json.dumps(data, separators=(",", ":")))
    elif fmt == "json-pretty":
        print(json.dumps(data, indent=4, sort_keys=True))
    elif data is None:
        return
    elif isinstance(data, list) and data and all(isinstance(x, dict) for x in data):
        print_table(data, columns)
    elif isinstance(data, dict):
        width = max((len(k) for k in data), default=0)
        for key in sorted(data):
            value = data[key]
            text = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
            print(f"{key.ljust(width)} : {text}")
    elif isinstance(data, list):
        for item in data:
            print(item)
    else:
        print(data)


def print_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> None:
    cols = columns or sorted({k for r in rows for k in r})
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return str(v)


Output = Callable[[Any, str], None]


@dataclass
class Cmd:
    """One subcommand: API method, positional parameter names, fixed params, output."""

    http: str
    path: str
    positional: list[str] = field(default_factory=list)
    output: Output | None = None
    fixed: dict[str, Any] = field(default_factory=dict)
    prepare: Callable[[dict[str, Any], LocalClient], None] | None = None
    stdin_password: str | None = None
    columns: list[str] | None = None
    wait: bool = False  # the method answers with a UPID: follow the task to its end


def run_table(prog: str, table: dict[str, Cmd], argv: list[str]) -> int:
    """Dispatch ``argv`` (``SUBCMD [SUBSUB] ARGS...``) through ``table``; return exit code."""
    root = None
    fmt = "text"
    rest: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--root", "--output-format") and i + 1 < len(argv):
            if a == "--root":
                root = argv[i + 1]
            else:
                fmt = argv[i + 1]
            i += 2
            continue
        if a.startswith("--root="):
            root = a.split("=", 1)[1]
        elif a.startswith("--output-format="):
            fmt = a.split("=", 1)[1]
        else:
            rest.append(a)
        i += 1
    names = sorted(table)
    if not rest or rest[0] in ("help", "-h", "--help"):
        print(f"usage: {prog} <command> [ARGS] [OPTIONS]\n\ncommands:\n  " + "\n  ".join(names))
        return 0 if rest else 2
    key, used = rest[0], 1
    for n in (3, 2):
        if len(rest) >= n and " ".join(rest[:n]) in table:
            key, used = " ".join(rest[:n]), n
            break
    cmd = table.get(key)
    if cmd is None:
        print(f"{prog}: unknown command '{rest[0]}'; try '{prog} help'", file=sys.stderr)
        return 2
    if fmt not in OUTPUT_FORMATS:
        print(f"{prog}: unknown output format '{fmt}'", file=sys.stderr)
        return 2
    args = rest[used:]
    client = LocalClient(root)
    try:
        m = find_method(cmd.http, _template_probe(cmd.path))
        positional, opts = parse_options(args, m)
        if len(positional) > len(cmd.positional):
            raise UsageError(f"too many arguments: {' '.join(positional[len(cmd.positional) :])}")
        if len(positional) < len(cmd.positional):
            missing = cmd.positional[len(positional) :]
            raise UsageError(f"missing argument(s): {' '.join('<' + n + '>' for n in missing)}")
        params: dict[str, Any] = {
            **cmd.fixed,
            **opts,
            **dict(zip(cmd.positional, positional, strict=True)),
        }
        if cmd.stdin_password:
            params[cmd.stdin_password] = read_password()
        if "{node}" in cmd.path and "node" not in params:
            params["node"] = client.node
        if cmd.prepare:
            cmd.prepare(params, client)
        path = cmd.path
        for name in list(params):
            token = "{" + name + "}"
            if token in path:
                path = path.replace(token, quote(str(params.pop(name)), safe="@!:=,"))
        data = client.call(cmd.http, path, params)
        if cmd.wait and isinstance(data, str) and data.startswith("UPID:"):
            # as upstream, the CLI runs the worker in the foreground and fails with it
            status = client.wait_task(data, echo=fmt == "text")
            if status != "OK" and not status.startswith("WARNINGS"):
                raise ApiError(500, f"task failed: {status}")
        if cmd.output:
            cmd.output(data, fmt)
        else:
            print_result(data, fmt, cmd.columns)
        return 0
    except UsageError as err:
        print(f"{prog} {key}: {err}", file=sys.stderr)
        return 2
    except (ApiError, PyxisError) as err:
        print(f"{prog} {key}: {err}", file=sys.stderr)
        return 255


def _template_probe(path: str) -> str:
    """A concrete path that routes to the template (each ``{x}`` replaced by ``x``)."""
    return path.replace("{", "").replace("}", "")


def read_password(prompt: str = "Enter new password: ") -> str:
    """From stdin when it is not a terminal, else prompted twice without echo."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line.rstrip("\n")
    import getpass

    first = getpass.getpass(prompt)
    if getpass.getpass("Retype new password: ") != first:
        raise UsageError("passwords do not match")
    return first
