"""``pvecm``: cluster create/join/leave, quorum status, expected votes, QDevice, certificates.

Subcommands as upstream: ``create NAME``, ``add EXISTING_NODE_ADDR`` (password from stdin
when it is not a terminal, else prompted; without ``--fingerprint`` the existing node's
certificate fingerprint is fetched and, interactively, shown for confirmation),
``delnode NAME``, ``status``, ``nodes``, ``expected N``, ``qdevice setup ADDR`` /
``qdevice remove`` and ``updatecerts``.  Everything goes through the local daemon.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from pyxis.cli.client import LocalClient
from pyxis.cli.common import Cmd, UsageError, print_result, run_table
from pyxis.cluster.joinclient import JoinError, peer_fingerprint


def _ask_password(address: str) -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    import getpass

    return getpass.getpass(f"Please enter the password of the existing node's user for {address}: ")


def _prepare_add(params: dict[str, Any], client: LocalClient) -> None:
    address = str(params["hostname"])
    if "fingerprint" not in params:
        # Unattended, an unverified fingerprint would hand the password to whoever
        # answers at that address: scripts must pin it (`pvecm status` on that node).
        if not sys.stdin.isatty():
            raise UsageError(
                "--fingerprint is required when stdin is not a terminal (compare it with "
                "the existing node's certificate: pvesh get /cluster/config/join there)"
            )
        try:
            fp = peer_fingerprint(address)
        except JoinError as err:
            raise UsageError(str(err)) from err
        print(f"The certificate fingerprint of {address} is\n  {fp}")
        if input("Are you sure you want to continue connecting (yes/no)? ").strip() != "yes":
            raise UsageError("aborted: fingerprint not accepted")
        params["fingerprint"] = fp
    params["password"] = _ask_password(address)


# votequorum flags as corosync-quorumtool names them
_FLAG_NAMES = {
    "TWONODE": "2Node",
    "QUORATE": "Quorate",
    "WAIT_FOR_ALL": "WaitForAll",
    "LAST_MAN_STANDING": "LastManStanding",
    "AUTO_TIE_BREAKER": "AutoTieBreaker",
    "ALLOW_DOWNSCALE": "AllowDownscale",
    "QDEVICE_REGISTERED": "Qdevice",
}


def _yes(flag: bool) -> str:
    return "Yes" if flag else "No"


def _members(q: dict[str, Any], hexids: bool) -> list[str]:
    lines = ["Membership information", "----------------------", "    Nodeid      Votes Name"]
    for m in q.get("members", []):
        if not m.get("online"):
            continue
        nid = f"0x{m['nodeid']:08x}" if hexids else f"{m['nodeid']:>10}"
        name = m.get("ring0_addr") if hexids else m.get("name")
        local = " (local)" if m.get("local") else ""
        lines.append(f"{nid} {m['votes']:>10} {name}{local}")
    if q.get("qdevice_votes") and "QDEVICE_REGISTERED" in q.get("flags", []):
        nid = "0x00000000" if hexids else f"{0:>10}"
        lines.append(f"{nid} {q['qdevice_votes']:>10} Qdevice")
    return lines


def _status(data: Any, fmt: str) -> None:
    if fmt != "text":
        print_result(data, fmt)
        return
    q = data
    flags = " ".join(_FLAG_NAMES[f] for f in q.get("flags", []) if f in _FLAG_NAMES)
    online = sum(1 for m in q.get("members", []) if m.get("online"))
    lines = [
        "Cluster information",
        "-------------------",
        f"Name:             {q['cluster_name']}",
        f"Config Version:   {q['config_version']}",
        "Transport:        knet",
        "Secure auth:      on",
        "",
        "Quorum information",
        "------------------",
        f"Date:             {time.strftime('%a %b %d %H:%M:%S %Y')}",
        "Quorum provider:  corosync_votequorum",
        f"Nodes:            {online}",
        f"Node ID:          0x{q['nodeid']:08x}",
        f"Quorate:          {_yes(bool(q['quorate']))}",
        "",
        "Votequorum information",
        "----------------------",
        f"Expected votes:   {q['expected_votes']}",
        f"Highest expected: {q['highest_expected']}",
        f"Total votes:      {q['total_votes']}",
        f"Quorum:           {q['quorum']} {'' if q['quorate'] else ' Activity blocked'}".rstrip(),
        f"Flags:            {flags}",
        "",
        *_members(q, hexids=True),
    ]
    print("\n".join(lines))


def _nodes(data: Any, fmt: str) -> None:
    if fmt != "text":
        print_result(data.get("members", []), fmt)
        return
    print("\n".join(_members(data, hexids=False)))


def _quiet(data: Any, fmt: str) -> None:
    if fmt != "text":
        print_result(data, fmt)


def _updatecerts(data: Any, fmt: str) -> None:
    if fmt != "text":
        print_result(data, fmt)
    else:
        print("node certificate renewed" if data else "node certificate is up to date")


TABLE: dict[str, Cmd] = {
    "create": Cmd("POST", "/cluster/config", ["clustername"], output=_quiet, wait=True),
    "add": Cmd(
        "POST",
        "/cluster/config/join",
        ["hostname"],
        output=_quiet,
        prepare=_prepare_add,
        wait=True,
    ),
    "delnode": Cmd("DELETE", "/cluster/config/nodes/{node}", ["node"]),
    "status": Cmd("GET", "/cluster/config/quorum", [], output=_status),
    "nodes": Cmd("GET", "/cluster/config/quorum", [], output=_nodes),
    "expected": Cmd("POST", "/cluster/config/expected", ["expected"]),
    "qdevice setup": Cmd("POST", "/cluster/config/qdevice", ["address"], output=_quiet),
    "qdevice remove": Cmd("DELETE", "/cluster/config/qdevice", []),
    "updatecerts": Cmd("POST", "/cluster/config/updatecerts", [], output=_updatecerts),
}


def main(argv: list[str] | None = None) -> int:
    return run_table("pvecm", TABLE, list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
