"""Files that configure a container from the inside: host name, hosts, DNS, network.

Pure: ``os_setup_files(conf, ostype)`` returns ``{relative path: content}`` and the
caller writes them into the (mounted, id-shifted) root file system, with the modes
``file_mode`` gives.  Debian-like systems (debian, devuan, ubuntu) and the busybox
flavour both get ``/etc/network/interfaces`` (busybox's ``ifup`` reads the same
format); every flavour but ``unmanaged`` also gets ``/etc/pyxis/net.sh``, a plain
``ip``/``udhcpc`` script that needs no particular init system.  Values come from the
validated config (host names, addresses), and every line is checked again before it
is written, so no value can add a line to a file.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from pyxis.guests.lxc import keys

DEBIAN_LIKE = ("debian", "devuan", "ubuntu")
FLAVOURS = (*DEBIAN_LIKE, "busybox", "alpine", "unmanaged")
NET_SCRIPT = "etc/pyxis/net.sh"
_MODES = {NET_SCRIPT: 0o755}


def file_mode(path: str) -> int:
    """The mode a setup file is written with."""
    return _MODES.get(path, 0o644)


def _safe(text: str) -> str:
    for line in text.splitlines():
        if "\r" in line or "\0" in line:
            raise ValueError("setup file line contains a carriage return or NUL")
    return text


def _nics(conf: Mapping[str, str]) -> list[dict[str, Any]]:
    idx = sorted(int(k[3:]) for k in conf if k.startswith("net") and k[3:].isdigit())
    return [keys.parse_net(conf[f"net{n}"]) for n in idx if n <= keys.NET_MAX]


def hostnames(conf: Mapping[str, str], vmid: int | None) -> tuple[str, str]:
    """(fully qualified, short) host name; ``CT<vmid>`` when none is configured."""
    name = str(keys.parse_value("hostname", conf["hostname"])) if "hostname" in conf else ""
    if not name:
        name = f"CT{vmid}" if vmid is not None else "localhost"
    short = name.split(".", 1)[0]
    search = _search(conf)
    fqdn = name if "." in name or not search else f"{name}.{search[0]}"
    return fqdn, short


def _search(conf: Mapping[str, str]) -> list[str]:
    raw = (
        str(keys.parse_value("searchdomain", conf["searchdomain"]))
        if "searchdomain" in conf
        else ""
    )
    return [d for d in raw.replace(",", " ").replace(";", " ").split() if d]


def _servers(conf: Mapping[str, str]) -> list[str]:
    raw = str(keys.parse_value("nameserver", conf["nameserver"])) if "nameserver" in conf else ""
    return [s for s in raw.replace(",", " ").replace(";", " ").split() if s]


def hosts_file(conf: Mapping[str, str], vmid: int | None = None) -> str:
    """``/etc/hosts``: localhost lines and the container's own name on its first static
    IPv4 address (``127.0.1.1`` when it has none)."""
    fqdn, short = hostnames(conf, vmid)
    own = "127.0.1.1"
    for nic in _nics(conf):
        ip = str(nic.get("ip", ""))
        if "/" in ip:
            own = str(ipaddress.IPv4Interface(ip).ip)
            break
    names = fqdn if fqdn == short else f"{fqdn} {short}"
    return (
        "127.0.0.1 localhost.localdomain localhost\n"
        "::1 localhost ip6-localhost ip6-loopback\n"
        "ff02::1 ip6-allnodes\n"
        "ff02::2 ip6-allrouters\n"
        f"{own} {names}\n"
    )


def resolv_conf(conf: Mapping[str, str]) -> str | None:
    """``/etc/resolv.conf`` from ``searchdomain``/``nameserver``; None when neither is
    set (the caller then keeps the template's or copies the host's)."""
    search, servers = _search(conf), _servers(conf)
    if not search and not servers:
        return None
    lines = [f"search {' '.join(search)}"] if search else []
    lines += [f"nameserver {s}" for s in servers]
    return "\n".join(lines) + "\n"


def interfaces_file(conf: Mapping[str, str]) -> str:
    """``/etc/network/interfaces`` (ifupdown syntax, also read by busybox ``ifup``)."""
    lines = ["auto lo", "iface lo inet loopback", ""]
    for nic in _nics(conf):
        name = str(nic["name"])
        ip, ip6 = str(nic.get("ip", "")), str(nic.get("ip6", ""))
        if not ip and not ip6:
            continue
        lines.append(f"auto {name}")
        if ip in ("dhcp", "manual"):
            lines.append(f"iface {name} inet {ip}")
        elif ip:
            lines += [f"iface {name} inet static", f"        address {ip}"]
            if "gw" in nic:
                lines.append(f"        gateway {nic['gw']}")
        if ip6 in ("dhcp", "auto", "manual"):
            lines.append(f"iface {name} inet6 {ip6}")
        elif ip6:
            lines += [f"iface {name} inet6 static", f"        address {ip6}"]
            if "gw6" in nic:
                lines.append(f"        gateway {nic['gw6']}")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def net_script(conf: Mapping[str, str]) -> str:
    """A POSIX shell script bringing the network up with ``ip`` (and ``udhcpc`` for
    DHCP), for containers whose init runs no network manager."""
    lines = ["#!/bin/sh", "# written by Pyxis from the container config", "ip link set lo up"]
    for nic in _nics(conf):
        name = str(nic["name"])
        lines.append(f"ip link set {name} up")
        ip, ip6 = str(nic.get("ip", "")), str(nic.get("ip6", ""))
        if ip == "dhcp":
            lines.append(f"udhcpc -b -q -i {name} >/dev/null 2>&1 || true")
        elif "/" in ip:
            lines.append(f"ip addr add {ip} dev {name}")
            if "gw" in nic:
                # the gateway may sit outside the prefix: reach it on the link first
                lines.append(f"ip route add {nic['gw']} dev {name} 2>/dev/null || true")
                lines.append(f"ip route add default via {nic['gw']} dev {name}")
        if "/" in ip6:
            lines.append(f"ip -6 addr add {ip6} dev {name}")
            if "gw6" in nic:
                lines.append(f"ip -6 route add default via {nic['gw6']} dev {name}")
    lines.append("exit 0")
    return "\n".join(lines) + "\n"


def os_setup_files(
    conf: Mapping[str, str], ostype: str, *, vmid: int | None = None
) -> dict[str, str]:
    """The setup files for a container of ``ostype`` (one of ``FLAVOURS``), as
    ``{path relative to the root: content}``; ``unmanaged`` gets none."""
    if ostype not in FLAVOURS and ostype not in keys.OSTYPES:
        raise ValueError(f"unknown ostype '{ostype}'")
    if ostype == "unmanaged":
        return {}
    _fqdn, short = hostnames(conf, vmid)
    files: dict[str, str] = {
        "etc/hostname": f"{short}\n",
        "etc/hosts": hosts_file(conf, vmid),
        NET_SCRIPT: net_script(conf),
    }
    if ostype in (*DEBIAN_LIKE, "busybox"):
        files["etc/network/interfaces"] = interfaces_file(conf)
    resolv = resolv_conf(conf)
    if resolv is not None:
        files["etc/resolv.conf"] = resolv
    tz = conf.get("timezone")
    if tz and tz != "host":
        files["etc/timezone"] = f"{keys.parse_value('timezone', tz)}\n"
    return {path: _safe(text) for path, text in files.items()}
