"""``pveam``: container template (appliance) management with upstream's subcommands.

``update`` rebuilds the node's appliance index locally (there is no download source);
``available [--section S]`` lists it, ``download STORAGE TEMPLATE`` builds a template
into a storage and follows the task, ``list STORAGE`` shows a storage's templates and
``remove VOLID`` deletes one.
"""

from __future__ import annotations

import sys
from typing import Any

from pyxis.cli.client import LocalClient, root_from
from pyxis.cli.common import Cmd, UsageError, print_result, print_table, run_table
from pyxis.guests.lxc import templates
from pyxis.paths import Paths

# ``--section`` filters on the client side: the API method takes no such parameter.
_FILTER: dict[str, str | None] = {"section": None}


def _available(data: Any, fmt: str) -> None:
    section = _FILTER["section"]
    rows = [d for d in data if section in (None, "all", d.get("section"))]
    if fmt != "text":
        print_result(rows, fmt)
        return
    for d in sorted(rows, key=lambda x: (x.get("section", ""), x["template"])):
        print(f"{d.get('section', ''):<15} {d['template']}")


def _list(data: Any, fmt: str) -> None:
    if fmt != "text":
        print_result(data, fmt)
        return
    rows = [
        {"NAME": v["volid"], "SIZE": f"{int(v.get('size', 0)) / 1048576:.2f}MB"}
        for v in sorted(data, key=lambda x: x["volid"])
    ]
    if rows:
        print_table(rows, ["NAME", "SIZE"])


def _storage_from_volume(params: dict[str, Any], client: LocalClient) -> None:
    volume = str(params.get("volume", ""))
    storage, sep, volname = volume.partition(":")
    if not sep or not volname.startswith("vztmpl/"):
        raise UsageError(f"'{volume}' is not a template volume (STORAGE:vztmpl/NAME)")
    params["storage"] = storage


def _quiet(data: Any, fmt: str) -> None:
    if fmt != "text":
        print_result(data, fmt)


TABLE: dict[str, Cmd] = {
    "available": Cmd("GET", "/nodes/{node}/aplinfo", [], output=_available),
    "download": Cmd(
        "POST", "/nodes/{node}/aplinfo", ["storage", "template"], output=_quiet, wait=True
    ),
    "list": Cmd(
        "GET",
        "/nodes/{node}/storage/{storage}/content",
        ["storage"],
        fixed={"content": "vztmpl"},
        output=_list,
    ),
    "remove": Cmd(
        "DELETE",
        "/nodes/{node}/storage/{storage}/content/{volume}",
        ["volume"],
        prepare=_storage_from_volume,
        output=_quiet,
        wait=True,
    ),
}


def _update(argv: list[str]) -> int:
    root = None
    for i, arg in enumerate(argv):
        if arg == "--root" and i + 1 < len(argv):
            root = argv[i + 1]
        elif arg.startswith("--root="):
            root = arg.split("=", 1)[1]
    path = templates.write_index(Paths.at(root_from(root)))
    print(f"update successful ({len(templates.CATALOG)} templates in {path})")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "update":
        return _update(args[1:])
    if args and args[0] == "available":
        # --section is not an API parameter: take it out before the table parses options
        rest: list[str] = []
        i = 0
        while i < len(args):
            if args[i] == "--section" and i + 1 < len(args):
                _FILTER["section"] = args[i + 1]
                i += 2
                continue
            if args[i].startswith("--section="):
                _FILTER["section"] = args[i].split("=", 1)[1]
            else:
                rest.append(args[i])
            i += 1
        args = rest
    return run_table("pveam", TABLE, args)


if __name__ == "__main__":
    sys.exit(main())
