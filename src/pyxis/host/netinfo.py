"""Read-only network facts of the host: resolver settings, ``/etc/hosts``, guest traffic.

``resolver`` reads ``/etc/resolv.conf`` into upstream's ``{search, dns1..dns3}``;
``hosts_file`` returns ``/etc/hosts`` with the SHA-1 digest clients pass back when
editing; ``guest_traffic`` lists byte counters of guest NICs on the host (``tapNiM``
for VMs, ``vethNiM`` for containers) from ``/proc/net/dev``, seen from the guest:
``in`` is what the host sent into the device.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

RESOLV_CONF = Path("/etc/resolv.conf")
HOSTS = Path("/etc/hosts")
PROC_NET_DEV = Path("/proc/net/dev")
MAX_NAMESERVERS = 3
_GUEST_DEV = re.compile(r"^(?:tap|veth)(\d+)i(\d+)\Z")


def parse_resolv(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    servers: list[str] = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) < 2:
            continue
        if words[0] in ("search", "domain"):
            out["search"] = " ".join(words[1:])
        elif words[0] == "nameserver" and len(servers) < MAX_NAMESERVERS:
            servers.append(words[1])
    for i, server in enumerate(servers, 1):
        out[f"dns{i}"] = server
    return out


def resolver(path: Path | None = None) -> dict[str, str]:
    try:
        return parse_resolv((path or RESOLV_CONF).read_text(errors="replace"))
    except OSError:
        return {}


def hosts_file(path: Path | None = None) -> dict[str, str]:
    try:
        raw = (path or HOSTS).read_bytes()
    except OSError:
        raw = b""
    return {
        "data": raw.decode(errors="replace"),
        "digest": hashlib.sha1(raw, usedforsecurity=False).hexdigest(),
    }


def parse_net_dev(text: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        fields = rest.split()
        m = _GUEST_DEV.match(name.strip())
        if not sep or not m or len(fields) < 9:
            continue
        rx_bytes, tx_bytes = int(fields[0]), int(fields[8])
        out.append({"dev": name.strip(), "vmid": m.group(1), "in": tx_bytes, "out": rx_bytes})
    return sorted(out, key=lambda d: (int(d["vmid"]), d["dev"]))


def guest_traffic(path: Path | None = None) -> list[dict[str, Any]]:
    try:
        return parse_net_dev((path or PROC_NET_DEV).read_text())
    except OSError:
        return []
