"""``qm``: virtual machines with upstream's subcommands, argument order and output.

Most subcommands are rows of ``TABLE`` (one API method each, see ``cli.common``);
power actions, create, destroy, snapshots, clone and disk moves follow their task to
its end and fail with it, as upstream's ``qm`` (which runs the worker in the
foreground) does.  A few need more than one call or local work and live in ``LOCAL``:
``status`` (``--verbose``), ``showcmd`` (``--pretty``, from the Pyxis extension
endpoint ``GET .../showcmd``), ``guest exec`` (start, then poll ``exec-status``) and
``terminal`` (the serial socket, see ``qm_terminal``).  Text output copies upstream's
formats; ``--output-format json|json-pretty`` prints the API data.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
import urllib.parse
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pyxis.cli.client import ApiError, LocalClient
from pyxis.cli.common import OUTPUT_FORMATS, Cmd, UsageError, print_result, run_table
from pyxis.cli.qm_terminal import terminal
from pyxis.errors import NotImplementedErr

VM = "/nodes/{node}/qemu/{vmid}"
MIB = 1024 * 1024
GIB = 1024 * MIB
EXEC_TIMEOUT = 30


# --- output formats (upstream's text, else the API data) --------------------------


def _quiet(data: Any, fmt: str) -> None:
    if fmt != "text":
        print_result(data, fmt)


def encode_text(text: str) -> str:
    """PVE::Tools::encode_text: control, non-ASCII and ':' characters %-escaped."""
    safe = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in ":%")
    return urllib.parse.quote(text, safe=safe)


def _value(key: str, value: Any) -> str:
    if key == "description":
        return encode_text(str(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _list(data: Any, fmt: str) -> None:
    if fmt != "text":
        print_result(data, fmt)
        return
    if not data:
        return
    head = ("VMID", "NAME", "STATUS", "MEM(MB)", "BOOTDISK(GB)", "PID")
    print("%10s %-20s %-10s %-10s %12s %-10s" % head)  # noqa: UP031 - upstream's printf
    for vm in sorted(data, key=lambda v: int(v["vmid"])):
        print(
            "%10s %-20s %-10s %-10s %12.2f %-10s"  # noqa: UP031 - upstream's printf
            % (
                vm["vmid"],
                vm.get("name", ""),
                vm.get("qmpstatus") or vm.get("status"),
                int(vm.get("maxmem") or 0) // MIB,
                int(vm.get("maxdisk") or 0) / GIB,
                vm.get("pid") or 0,
            )
        )


def _config(data: Any, fmt: str) -> None:
    if fmt != "text":
        print_result(data, fmt)
        return
    for key in sorted(data):
        if key != "digest":
            print(f"{key}: {_value(key, data[key])}")


def format_pending(data: Any, fmt: str) -> None:
    """PVE::GuestHelpers::format_pending: ``cur``/``new``/``del`` lines."""
    if fmt != "text":
        print_result(data, fmt)
        return
    for item in sorted(data, key=lambda i: i["key"]):
        key = item["key"]
        if key == "digest":
            continue
        cur, new = item.get("value"), item.get("pending")
        cur = None if cur is None else _value(key, cur)
        new = None if new is None else _value(key, new)
        if cur is not None:
            if item.get("delete"):
                print(f"del {key}: {cur}")
            else:
                print(f"cur {key}: {cur}")
                if new is not None:
                    print(f"new {key}: {new}")
        elif new is not None:
            print(f"new {key}: {new}")


def snapshot_tree(data: Any, fmt: str) -> None:
    """PVE::GuestHelpers::print_snapshot_tree: children indented, oldest first."""
    if fmt != "text":
        print_result(data, fmt)
        return
    snaps = {s["name"]: dict(s) for s in data}
    roots: list[str] = []
    for snap in data:
        parent = snap.get("parent")
        if parent and parent in snaps:
            snaps[parent].setdefault("children", []).append(snap["name"])
        else:
            roots.append(snap["name"])

    def age(name: str) -> tuple[int, int]:
        t = snaps[name].get("snaptime")
        return (1, 0) if t is None else (0, int(t))  # "current" (no snaptime) last

    def show(prefix: str, name: str) -> None:
        snap = snaps[name]
        desc = (snap.get("description") or "no-description").split("\n")[0]
        when = snap.get("snaptime")
        stamp = "" if when is None else datetime.fromtimestamp(int(when)).strftime("%F %H:%M:%S")
        width = max(0, 30 - len(prefix))
        print(f"{prefix} {name:<{width}} {stamp:<23} {desc}")
        for child in sorted(snap.get("children", []), key=age):
            show(" " + prefix, child)

    for root in sorted(roots, key=age):
        show("`->", root)


def agent_result(data: Any, fmt: str) -> None:
    """Upstream's ``$print_agent_result``: a plain value, or canonical pretty JSON."""
    if fmt != "text":
        print_result(data, fmt)
        return
    result = data.get("result", data) if isinstance(data, dict) else data
    if result is None or result == {}:
        return
    if not isinstance(result, (dict, list)):
        text = str(result).rstrip("\n")
        if text.strip():
            print(text)
        return
    print(json.dumps(result, indent=3, sort_keys=True, separators=(",", " : ")))


def _print_string(data: Any, fmt: str) -> None:
    if fmt != "text":
        print_result(data, fmt)
    elif data is not None:
        print(str(data).rstrip("\n"))


# --- the command table --------------------------------------------------------------


def _task(http: str, path: str, positional: list[str]) -> Cmd:
    return Cmd(http, path, positional, output=_quiet, wait=True)


TABLE: dict[str, Cmd] = {
    "list": Cmd("GET", "/nodes/{node}/qemu", [], output=_list),
    "create": _task("POST", "/nodes/{node}/qemu", ["vmid"]),
    "set": Cmd("PUT", f"{VM}/config", ["vmid"], output=_quiet),
    "config": Cmd("GET", f"{VM}/config", ["vmid"], output=_config),
    "pending": Cmd("GET", f"{VM}/pending", ["vmid"], output=format_pending),
    "destroy": _task("DELETE", VM, ["vmid"]),
    "snapshot": _task("POST", f"{VM}/snapshot", ["vmid", "snapname"]),
    "listsnapshot": Cmd("GET", f"{VM}/snapshot", ["vmid"], output=snapshot_tree),
    "rollback": _task("POST", f"{VM}/snapshot/{{snapname}}/rollback", ["vmid", "snapname"]),
    "delsnapshot": _task("DELETE", f"{VM}/snapshot/{{snapname}}", ["vmid", "snapname"]),
    "clone": _task("POST", f"{VM}/clone", ["vmid", "newid"]),
    "template": _task("POST", f"{VM}/template", ["vmid"]),
    "disk resize": _task("PUT", f"{VM}/resize", ["vmid", "disk", "size"]),
    "disk move": _task("POST", f"{VM}/move_disk", ["vmid", "disk", "storage"]),
    "disk unlink": Cmd("PUT", f"{VM}/unlink", ["vmid"], output=_quiet),
    "guest cmd": Cmd("POST", f"{VM}/agent", ["vmid", "command"], output=agent_result),
    "guest exec-status": Cmd(
        "GET", f"{VM}/agent/exec-status", ["vmid", "pid"], output=agent_result
    ),
    "guest passwd": Cmd(
        "POST",
        f"{VM}/agent/set-user-password",
        ["vmid", "username"],
        output=agent_result,
        stdin_password="password",  # noqa: S106 - the parameter's name
    ),
    "cloudinit dump": Cmd("GET", f"{VM}/cloudinit/dump", ["vmid", "type"], output=_print_string),
    "cloudinit pending": Cmd("GET", f"{VM}/cloudinit", ["vmid"], output=format_pending),
    "cloudinit update": Cmd("PUT", f"{VM}/cloudinit", ["vmid"], output=_quiet),
}
for _action in ("start", "stop", "shutdown", "reboot", "reset", "suspend", "resume"):
    TABLE[_action] = _task("POST", f"{VM}/status/{_action}", ["vmid"])
# upstream's aliases (older releases' names)
TABLE.update(
    {
        "resize": TABLE["disk resize"],
        "move-disk": TABLE["disk move"],
        "move_disk": TABLE["disk move"],
        "unlink": TABLE["disk unlink"],
        "agent": TABLE["guest cmd"],
    }
)


# --- subcommands that are more than one API call ---------------------------------------


def local_options(
    args: list[str], flags: set[str], valued: set[str], *, stop_at_dashes: bool = False
) -> tuple[list[str], dict[str, str], list[str]]:
    """(positionals, options, rest after ``--``) for the commands in ``LOCAL``."""
    pos: list[str] = []
    opts: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--" and stop_at_dashes:
            return pos, opts, args[i + 1 :]
        if arg.startswith("--") and len(arg) > 2:
            key, eq, value = arg[2:].partition("=")
            if key in flags:
                if not eq and i + 1 < len(args) and args[i + 1] in ("0", "1"):
                    value = args[i + 1]
                    i += 1
                opts[key] = value if eq or value else "1"
            elif key in valued:
                if not eq:
                    if i + 1 >= len(args):
                        raise UsageError(f"option --{key} needs a value")
                    value = args[i + 1]
                    i += 1
                opts[key] = value
            else:
                raise UsageError(f"unknown option --{key}")
        else:
            pos.append(arg)
        i += 1
    return pos, opts, []


def _vmid(pos: list[str], extra: int = 0) -> int:
    if not pos:
        raise UsageError("missing argument(s): <vmid>")
    if len(pos) > 1 + extra:
        raise UsageError(f"too many arguments: {' '.join(pos[1 + extra :])}")
    if not pos[0].isdigit():
        raise UsageError(f"invalid vmid '{pos[0]}'")
    return int(pos[0])


def _status(client: LocalClient, fmt: str, args: list[str]) -> int:
    pos, opts, _ = local_options(args, {"verbose"}, set())
    vmid = _vmid(pos)
    data = client.call("GET", f"/nodes/{client.node}/qemu/{vmid}/status/current")
    if fmt != "text":
        print_result(data, fmt)
    elif opts.get("verbose") == "1":
        for key in sorted(data):
            if key not in ("cpu", "relcpu") and data[key] is not None:
                print(f"{key}: {_value(key, data[key])}")
    else:
        print(f"status: {data.get('status') or 'unknown'}")
    return 0


def pretty_cmdline(argv: list[str]) -> str:
    """One option per line, continued with backslashes (``qm showcmd --pretty``)."""
    lines: list[list[str]] = [[]]
    for arg in argv:
        if arg.startswith("-") and lines[-1]:
            lines.append([])
        lines[-1].append(shlex.quote(arg))
    return " \\\n  ".join(" ".join(words) for words in lines)


def _showcmd(client: LocalClient, fmt: str, args: list[str]) -> int:
    pos, opts, _ = local_options(args, {"pretty"}, set())
    vmid = _vmid(pos)
    argv = client.call("GET", f"/nodes/{client.node}/qemu/{vmid}/showcmd")
    if fmt != "text":
        print_result(argv, fmt)
    elif opts.get("pretty") == "1":
        print(pretty_cmdline(argv))
    else:
        print(shlex.join(argv))
    return 0


def _guest_exec(client: LocalClient, fmt: str, args: list[str]) -> int:
    pos, opts, rest = local_options(
        args, {"synchronous", "pass-stdin"}, {"timeout"}, stop_at_dashes=True
    )
    vmid = _vmid(pos, extra=len(pos))
    command = pos[1:] + rest
    if not command:
        raise UsageError("no command given (qm guest exec VMID -- CMD [ARGS...])")
    timeout = int(opts.get("timeout", EXEC_TIMEOUT))
    base = f"/nodes/{client.node}/qemu/{vmid}/agent"
    params: dict[str, Any] = {"command": command}
    if opts.get("pass-stdin") == "1":
        params["input-data"] = sys.stdin.read()
    res = client.call("POST", f"{base}/exec", params)
    if opts.get("synchronous", "1") == "1":
        pid = res["pid"]
        deadline = time.monotonic() + timeout
        delay = 0.05
        while timeout == 0 or time.monotonic() < deadline:
            status = client.call("GET", f"{base}/exec-status", {"pid": pid})
            if status.get("exited"):
                res = status
                break
            time.sleep(delay)
            delay = min(1.0, delay * 2)
        else:
            print("not finished within timeout", file=sys.stderr)
    agent_result(res, fmt)
    return 0


def _terminal(client: LocalClient, fmt: str, args: list[str]) -> int:
    pos, opts, _ = local_options(args, set(), {"iface", "escape"})
    return terminal(client, _vmid(pos), opts.get("iface"), opts.get("escape", "^O"))


Local = Callable[[LocalClient, str, list[str]], int]
LOCAL: dict[str, Local] = {
    "status": _status,
    "showcmd": _showcmd,
    "guest exec": _guest_exec,
    "terminal": _terminal,
}


# --- dispatch -------------------------------------------------------------------------


def _globals(argv: list[str]) -> tuple[str | None, str, list[str]]:
    """Take ``--root`` and ``--output-format`` out of ``argv`` (as ``run_table`` does)."""
    root, fmt, rest = None, "text", []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--root", "--output-format") and i + 1 < len(argv):
            root, fmt = (argv[i + 1], fmt) if arg == "--root" else (root, argv[i + 1])
            i += 2
            continue
        if arg.startswith("--root="):
            root = arg.split("=", 1)[1]
        elif arg.startswith("--output-format="):
            fmt = arg.split("=", 1)[1]
        else:
            rest.append(arg)
        i += 1
    return root, fmt, rest


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    root, fmt, rest = _globals(args)
    if not rest or rest[0] in ("help", "-h", "--help"):
        names = sorted({*TABLE, *LOCAL})
        print("usage: qm <command> [ARGS] [OPTIONS]\n\ncommands:\n  " + "\n  ".join(names))
        return 0 if rest else 2
    key = " ".join(rest[:2]) if " ".join(rest[:2]) in LOCAL else rest[0]
    if key in LOCAL:
        if fmt not in OUTPUT_FORMATS:
            print(f"qm: unknown output format '{fmt}'", file=sys.stderr)
            return 2
        try:
            return LOCAL[key](LocalClient(root), fmt, rest[len(key.split()) :])
        except UsageError as err:
            print(f"qm {key}: {err}", file=sys.stderr)
            return 2
        except ApiError as err:
            print(f"qm {key}: {err}", file=sys.stderr)
            return 255
    try:
        return run_table("qm", TABLE, args)
    except NotImplementedErr:
        # the method is not in this installation's registry (not implemented yet)
        name = next((" ".join(rest[:n]) for n in (2, 1) if " ".join(rest[:n]) in TABLE), rest[0])
        cmd = TABLE[name]
        print(f"qm {name}: {cmd.http} {cmd.path} is not implemented yet", file=sys.stderr)
        return 255


if __name__ == "__main__":
    sys.exit(main())
