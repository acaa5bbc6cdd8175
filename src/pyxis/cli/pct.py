"""``pct``: containers with upstream's subcommands, argument order and output.

State changes are rows of ``TABLE`` (one API method each, see ``cli.common``) and go
through the daemon; power actions, create, destroy, snapshots, clone, resize and
volume moves follow their task to its end, as upstream's ``pct`` does.  Entering a
container is not a state change: ``enter``, ``console``, ``exec``, ``push`` and
``pull`` run LXC's own tools locally as root (``lxc-attach``/``lxc-console`` with the
node's lxcpath, found through ``<run_dir>/lxc``), exactly as upstream's ``pct`` does
on the node itself.  ``--output-format json|json-pretty`` prints the API data.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyxis.cli.client import ApiError, LocalClient
from pyxis.cli.common import OUTPUT_FORMATS, Cmd, UsageError, print_result, run_table
from pyxis.cli.qm import (
    _config,
    _globals,
    _quiet,
    _value,
    _vmid,
    format_pending,
    local_options,
    snapshot_tree,
)
from pyxis.errors import NotImplementedErr, PyxisError
from pyxis.guests.lxc.console import console_argv
from pyxis.guests.lxc.runtime import attach_argv, lxcpath_from_root

CT = "/nodes/{node}/lxc/{vmid}"


def _list(data: Any, fmt: str) -> None:
    if fmt != "text":
        print_result(data, fmt)
        return
    if not data:
        return
    print("%-10s %-10s %-12s %-20s" % ("VMID", "Status", "Lock", "Name"))  # noqa: UP031
    for ct in sorted(data, key=lambda c: int(c["vmid"])):
        print(
            "%-10s %-10s %-12s %-20s"  # noqa: UP031 - upstream's printf
            % (ct["vmid"], ct.get("status", ""), ct.get("lock", ""), ct.get("name", ""))
        )


def _task(http: str, path: str, positional: list[str]) -> Cmd:
    return Cmd(http, path, positional, output=_quiet, wait=True)


TABLE: dict[str, Cmd] = {
    "list": Cmd("GET", "/nodes/{node}/lxc", [], output=_list),
    "create": _task("POST", "/nodes/{node}/lxc", ["vmid", "ostemplate"]),
    "set": Cmd("PUT", f"{CT}/config", ["vmid"], output=_quiet),
    "config": Cmd("GET", f"{CT}/config", ["vmid"], output=_config),
    "pending": Cmd("GET", f"{CT}/pending", ["vmid"], output=format_pending),
    "destroy": _task("DELETE", CT, ["vmid"]),
    "snapshot": _task("POST", f"{CT}/snapshot", ["vmid", "snapname"]),
    "listsnapshot": Cmd("GET", f"{CT}/snapshot", ["vmid"], output=snapshot_tree),
    "rollback": _task("POST", f"{CT}/snapshot/{{snapname}}/rollback", ["vmid", "snapname"]),
    "delsnapshot": _task("DELETE", f"{CT}/snapshot/{{snapname}}", ["vmid", "snapname"]),
    "clone": _task("POST", f"{CT}/clone", ["vmid", "newid"]),
    "template": Cmd("POST", f"{CT}/template", ["vmid"], output=_quiet),
    "resize": _task("PUT", f"{CT}/resize", ["vmid", "disk", "size"]),
    "move-volume": _task("POST", f"{CT}/move_volume", ["vmid", "volume", "storage"]),
}
for _action in ("start", "stop", "shutdown", "reboot", "suspend", "resume"):
    TABLE[_action] = _task("POST", f"{CT}/status/{_action}", ["vmid"])
TABLE.update({"move_volume": TABLE["move-volume"], "disk resize": TABLE["resize"]})


# --- local subcommands ----------------------------------------------------------------


def _lxcpath(client: LocalClient) -> Path:
    try:
        return lxcpath_from_root(client.paths)
    except PyxisError as err:
        raise UsageError(err.message) from err


def _status(client: LocalClient, fmt: str, args: list[str]) -> int:
    pos, opts, _ = local_options(args, {"verbose"}, set())
    vmid = _vmid(pos)
    data = client.call("GET", f"/nodes/{client.node}/lxc/{vmid}/status/current")
    if fmt != "text":
        print_result(data, fmt)
    elif opts.get("verbose") == "1":
        for key in sorted(data):
            if data[key] is not None:
                print(f"{key}: {_value(key, data[key])}")
    else:
        print(f"status: {data.get('status') or 'unknown'}")
    return 0


def _exec(client: LocalClient, fmt: str, args: list[str]) -> int:
    """``pct exec VMID [--keep-env] -- CMD [ARGS]``: run it locally through lxc-attach."""
    pos, _opts, rest = local_options(args, {"keep-env"}, set(), stop_at_dashes=True)
    vmid = _vmid(pos, extra=len(pos))
    command = pos[1:] + rest
    if not command:
        raise UsageError("no command given (pct exec VMID -- CMD [ARGS...])")
    client.call("GET", f"/nodes/{client.node}/lxc/{vmid}/status/current")  # 404 early
    return subprocess.call(attach_argv(_lxcpath(client), vmid, command))


def _enter(client: LocalClient, fmt: str, args: list[str]) -> int:
    pos, _, _ = local_options(args, set(), set())
    vmid = _vmid(pos)
    client.call("GET", f"/nodes/{client.node}/lxc/{vmid}/status/current")
    argv = attach_argv(_lxcpath(client), vmid, ["/bin/sh", "-l"])
    os.execvp(argv[0], argv)  # noqa: S606 - replaces the CLI, as upstream's pct enter
    return 0  # not reached


def _console(client: LocalClient, fmt: str, args: list[str]) -> int:
    pos, opts, _ = local_options(args, set(), {"escape"})
    vmid = _vmid(pos)
    cfg = client.call("GET", f"/nodes/{client.node}/lxc/{vmid}/config")
    argv = console_argv(
        _lxcpath(client), vmid, "console" if cfg.get("cmode") == "console" else "tty"
    )
    if "escape" in opts:
        argv = [*argv[:-2], "-e", opts["escape"]]
    os.execvp(argv[0], argv)  # noqa: S606
    return 0


def _push(client: LocalClient, fmt: str, args: list[str]) -> int:
    """``pct push VMID FILE DEST [--perms MODE] [--user UID] [--group GID]``."""
    pos, opts, _ = local_options(args, set(), {"perms", "user", "group"})
    vmid = _vmid(pos, extra=2)
    if len(pos) != 3:
        raise UsageError("usage: pct push <vmid> <file> <destination>")
    src, dest = pos[1], pos[2]
    lxcpath = _lxcpath(client)
    script = 'cat > "$0"'
    if "perms" in opts:
        script += f' && chmod {shlex.quote(opts["perms"])} "$0"'
    owner = (
        f"{opts.get('user', '')}:{opts.get('group', '')}" if {"user", "group"} & set(opts) else ""
    )
    if owner:
        script += f' && chown {shlex.quote(owner.rstrip(":"))} "$0"'
    with open(src, "rb") as fh:
        return subprocess.call(
            attach_argv(lxcpath, vmid, ["/bin/sh", "-c", script, dest]), stdin=fh
        )


def _pull(client: LocalClient, fmt: str, args: list[str]) -> int:
    """``pct pull VMID PATH DEST``: copy a file out of the running container."""
    pos, _, _ = local_options(args, set(), {"perms", "user", "group"})
    vmid = _vmid(pos, extra=2)
    if len(pos) != 3:
        raise UsageError("usage: pct pull <vmid> <path> <destination>")
    with open(pos[2], "wb") as out:
        return subprocess.call(attach_argv(_lxcpath(client), vmid, ["cat", pos[1]]), stdout=out)


Local = Callable[[LocalClient, str, list[str]], int]
LOCAL: dict[str, Local] = {
    "status": _status,
    "exec": _exec,
    "enter": _enter,
    "console": _console,
    "push": _push,
    "pull": _pull,
}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    root, fmt, rest = _globals(args)
    if not rest or rest[0] in ("help", "-h", "--help"):
        names = sorted({*TABLE, *LOCAL})
        print("usage: pct <command> [ARGS] [OPTIONS]\n\ncommands:\n  " + "\n  ".join(names))
        return 0 if rest else 2
    key = rest[0]
    if key in LOCAL:
        if fmt not in OUTPUT_FORMATS:
            print(f"pct: unknown output format '{fmt}'", file=sys.stderr)
            return 2
        try:
            return LOCAL[key](LocalClient(root), fmt, rest[1:])
        except UsageError as err:
            print(f"pct {key}: {err}", file=sys.stderr)
            return 2
        except (ApiError, OSError) as err:
            print(f"pct {key}: {err}", file=sys.stderr)
            return 255
    try:
        return run_table("pct", TABLE, args)
    except NotImplementedErr:
        name = rest[0]
        cmd = TABLE.get(name)
        what = f"{cmd.http} {cmd.path}" if cmd else name
        print(f"pct {name}: {what} is not implemented yet", file=sys.stderr)
        return 255


if __name__ == "__main__":
    sys.exit(main())
