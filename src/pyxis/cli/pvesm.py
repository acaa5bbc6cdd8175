"""``pvesm``: storage management with upstream's subcommands.

add, set, remove (storage.cfg via ``/storage``); status, list, alloc, free, path
(volumes via ``/nodes/{node}/storage``).
"""

from __future__ import annotations

import sys
from typing import Any

from pyxis.cli.client import LocalClient
from pyxis.cli.common import Cmd, UsageError, print_result, print_table, run_table


def _storage_from_volume(params: dict[str, Any], client: LocalClient) -> None:
    volume = str(params.get("volume", ""))
    if "storage" not in params:
        if ":" not in volume:
            raise UsageError(f"unable to parse volume ID '{volume}'")
        params["storage"] = volume.split(":", 1)[0]


def _status(data: Any, fmt: str) -> None:
    if fmt != "text":
        print_result(data, fmt)
        return
    rows = []
    for s in sorted(data, key=lambda x: x["storage"]):
        total, used = int(s.get("total", 0)), int(s.get("used", 0))
        pct = f"{100.0 * used / total:.2f}%" if total else "0.00%"
        rows.append(
            {
                "Name": s["storage"],
                "Type": s["type"],
                "Status": "active" if s.get("active") else "inactive",
                "Total": total // 1024,
                "Used": used // 1024,
                "Available": int(s.get("avail", 0)) // 1024,
                "%": pct,
            }
        )
    if rows:
        print_table(rows, ["Name", "Type", "Status", "Total", "Used", "Available", "%"])


def _list(data: Any, fmt: str) -> None:
    if fmt != "text":
        print_result(data, fmt)
        return
    rows = [
        {
            "Volid": v["volid"],
            "Format": v.get("format", ""),
            "Type": v.get("content", ""),
            "Size": v.get("size", 0),
            "VMID": v.get("vmid", ""),
        }
        for v in sorted(data, key=lambda x: x["volid"])
    ]
    if rows:
        print_table(rows, ["Volid", "Format", "Type", "Size", "VMID"])


def _path(data: Any, fmt: str) -> None:
    print(data["path"] if fmt == "text" else data)


def _quiet_task(data: Any, fmt: str) -> None:
    if fmt != "text":
        print_result(data, fmt)


TABLE: dict[str, Cmd] = {
    "add": Cmd("POST", "/storage", ["type", "storage"], output=_quiet_task),
    "set": Cmd("PUT", "/storage/{storage}", ["storage"], output=_quiet_task),
    "remove": Cmd("DELETE", "/storage/{storage}", ["storage"]),
    "status": Cmd("GET", "/nodes/{node}/storage", [], output=_status),
    "list": Cmd("GET", "/nodes/{node}/storage/{storage}/content", ["storage"], output=_list),
    "alloc": Cmd(
        "POST", "/nodes/{node}/storage/{storage}/content", ["storage", "vmid", "filename", "size"]
    ),
    "free": Cmd(
        "DELETE",
        "/nodes/{node}/storage/{storage}/content/{volume}",
        ["volume"],
        prepare=_storage_from_volume,
        output=_quiet_task,
        wait=True,
    ),
    "path": Cmd(
        "GET",
        "/nodes/{node}/storage/{storage}/content/{volume}",
        ["volume"],
        prepare=_storage_from_volume,
        output=_path,
    ),
}


def main(argv: list[str] | None = None) -> int:
    return run_table("pvesm", TABLE, list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
