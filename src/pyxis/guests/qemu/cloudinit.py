"""Cloud-init data of a VM: user-data, network-config, meta-data, vendor-data (pure).

Generated from the config keys as upstream generates them: ``ciuser``, ``cipassword``
(written as a SHA-512 crypt hash when the config holds it in clear), ``sshkeys``
(URL-encoded in the config, one key per line), ``ipconfigN`` of each ``netN``,
``nameserver``/``searchdomain`` (the host's resolver when neither is set),
``ciupgrade``, and the host name from ``name``.  ``cicustom`` snippets replace the
generated part they name.  Two layouts exist: NoCloud (``citype: nocloud``, the
default for non-Windows guests; network-config v1) and OpenStack config-drive
(``configdrive2``, the default for Windows; ``meta_data.json``, ``user_data``, the
network as Debian ``interfaces`` in ``content/0000`` plus ``network_data.json``).
The instance id is the SHA-1 of the generated data, so the guest re-runs cloud-init
exactly when something changed.  Building the ISO image is ``cloudinit_iso``'s job.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from pyxis.guests.qemu.keys import parse_net, parse_value
from pyxis.util.shacrypt import is_crypted, salt_from, sha512_crypt

WINDOWS = frozenset({"wxp", "w2k", "w2k3", "w2k8", "wvista", "win7", "win8", "win10", "win11"})
CI_KEYS = (
    "cicustom",
    "cipassword",
    "citype",
    "ciupgrade",
    "ciuser",
    "nameserver",
    "searchdomain",
    "sshkeys",
)
IPCONFIG_RE = re.compile(r"^ipconfig(\d+)\Z")
NET_RE = re.compile(r"^net(\d+)\Z")
CITYPES = ("nocloud", "configdrive2")
RESOLV_CONF = Path("/etc/resolv.conf")

HostDns = Callable[[], tuple[list[str], list[str]]]


def host_dns(path: Path = RESOLV_CONF) -> tuple[list[str], list[str]]:
    """(search domains, up to three name servers) of the host's resolver."""
    search: list[str] = []
    servers: list[str] = []
    try:
        text = path.read_text()
    except OSError:
        return search, servers
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("search", "domain"):
            search = parts[1:]
        elif len(parts) >= 2 and parts[0] == "nameserver" and len(servers) < 3:
            servers.append(parts[1])
    return search, servers


def is_ci_key(key: str) -> bool:
    return key in CI_KEYS or IPCONFIG_RE.match(key) is not None


def citype(conf: Mapping[str, str]) -> str:
    """The drive layout: ``citype``, else configdrive2 for Windows, nocloud otherwise."""
    explicit = conf.get("citype")
    if explicit:
        if explicit not in CITYPES:
            raise ValueError(f"citype: '{explicit}' is not supported")
        return explicit
    return "configdrive2" if conf.get("ostype") in WINDOWS else "nocloud"


def hostname_fqdn(conf: Mapping[str, str], vmid: int) -> tuple[str, str | None]:
    name = conf.get("name") or f"VM{vmid}"
    if "." in name:
        return name.split(".", 1)[0], name
    search = (conf.get("searchdomain") or "").split()
    return name, f"{name}.{search[0]}" if search else None


def dns(conf: Mapping[str, str], fallback: HostDns) -> tuple[list[str], list[str]]:
    """(search domains, name servers); the host's when the VM sets neither."""
    if conf.get("nameserver") is None and conf.get("searchdomain") is None:
        return fallback()
    search = (conf.get("searchdomain") or "").split()
    servers = re.split(r"[,;\s]+", conf.get("nameserver") or "")
    return search, [s for s in servers if s]


def password(conf: Mapping[str, str], vmid: int) -> str | None:
    """``cipassword`` as the guest gets it: hashed unless Windows or already hashed.

    The salt is derived from the VM and the password so that the same config always
    generates the same data (and the instance id changes only with the config)."""
    clear = conf.get("cipassword")
    if clear is None or conf.get("ostype") in WINDOWS or is_crypted(clear):
        return clear
    return sha512_crypt(clear, salt_from(f"pyxis-ci:{vmid}:{clear}".encode()))


def ssh_keys(conf: Mapping[str, str]) -> list[str]:
    text = unquote(conf.get("sshkeys") or "")
    return [line.strip() for line in text.splitlines() if line.strip()]


def user_data(conf: Mapping[str, str], vmid: int) -> str:
    """The generated ``#cloud-config`` user-data."""
    host, fqdn = hostname_fqdn(conf, vmid)
    lines = ["#cloud-config", f"hostname: {host}", "manage_etc_hosts: true"]
    if fqdn:
        lines.append(f"fqdn: {fqdn}")
    user = conf.get("ciuser")
    if user is not None:
        lines.append(f"user: {user}")
        if user == "root":
            lines.append("disable_root: False")
    pw = password(conf, vmid)
    if pw is not None:
        lines.append(f"password: {pw}")
    keys = ssh_keys(conf)
    if conf.get("sshkeys") is not None:
        lines.append("ssh_authorized_keys:")
        lines += [f"  - {key}" for key in keys]
    lines += ["chpasswd:", "  expire: False"]
    if user != "root":
        lines += ["users:", "  - default"]
    if parse_value("ciupgrade", conf.get("ciupgrade", "1")):
        lines.append("package_upgrade: true")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Iface:
    """One guest interface: ``netN`` with its ``ipconfigN``."""

    index: int
    mac: str
    ip: str | None = None
    gw: str | None = None
    ip6: str | None = None
    gw6: str | None = None

    @property
    def name(self) -> str:
        return f"eth{self.index}"


def interfaces(conf: Mapping[str, str]) -> list[Iface]:
    """The NICs that have an ``ipconfigN``, in index order."""
    out = []
    for key in sorted(conf, key=lambda k: int(k[3:]) if NET_RE.match(k) else -1):
        m = NET_RE.match(key)
        if not m or not conf.get(f"ipconfig{m.group(1)}"):
            continue
        net = parse_net(conf[key])
        if not net.get("macaddr"):
            raise ValueError(f"network interface '{key}' has no MAC address")
        ipc: dict[str, Any] = parse_value(f"ipconfig{m.group(1)}", conf[f"ipconfig{m.group(1)}"])
        out.append(
            Iface(
                int(m.group(1)),
                str(net["macaddr"]).lower(),
                *(str(ipc[k]) if k in ipc else None for k in ("ip", "gw", "ip6", "gw6")),
            )
        )
    return out


def _v4(cidr: str) -> tuple[str, str]:
    iface = ipaddress.IPv4Interface(cidr)
    return str(iface.ip), str(iface.netmask)


def nocloud_network(conf: Mapping[str, str], fallback: HostDns) -> str:
    """network-config, version 1 (what upstream's NoCloud drive carries)."""
    lines = ["version: 1", "config:"]
    for nic in interfaces(conf):
        lines += [
            "    - type: physical",
            f"      name: {nic.name}",
            f"      mac_address: '{nic.mac}'",
            "      subnets:",
        ]
        if nic.ip == "dhcp":
            lines.append("      - type: dhcp4")
        elif nic.ip:
            addr, mask = _v4(nic.ip)
            lines += ["      - type: static", f"        address: '{addr}'"]
            lines.append(f"        netmask: '{mask}'")
            if nic.gw:
                lines.append(f"        gateway: '{nic.gw}'")
        if nic.ip6 == "dhcp":
            lines.append("      - type: dhcp6")
        elif nic.ip6 == "auto":
            lines.append("      - type: ipv6_slaac")
        elif nic.ip6:
            lines += ["      - type: static6", f"        address: '{nic.ip6}'"]
            if nic.gw6:
                lines.append(f"        gateway: '{nic.gw6}'")
    search, servers = dns(conf, fallback)
    if search or servers:
        lines.append("    - type: nameserver")
        if servers:
            lines.append("      address:")
            lines += [f"      - '{s}'" for s in servers]
        if search:
            lines.append("      search:")
            lines += [f"      - '{s}'" for s in search]
    return "\n".join(lines) + "\n"


def eni_network(conf: Mapping[str, str], fallback: HostDns) -> str:
    """The network as Debian ``interfaces`` (config-drive ``content/0000``)."""
    lines = ["auto lo", "iface lo inet loopback", ""]
    search, servers = dns(conf, fallback)
    first = True
    for nic in interfaces(conf):
        lines.append(f"auto {nic.name}")
        if nic.ip == "dhcp":
            lines.append(f"iface {nic.name} inet dhcp")
        elif nic.ip:
            addr, mask = _v4(nic.ip)
            lines += [f"iface {nic.name} inet static", f"        address {addr}"]
            lines.append(f"        netmask {mask}")
            if nic.gw:
                lines.append(f"        gateway {nic.gw}")
        if nic.ip6 in ("dhcp", "auto"):
            lines.append(f"iface {nic.name} inet6 {nic.ip6}")
        elif nic.ip6:
            v6 = ipaddress.IPv6Interface(nic.ip6)
            lines += [f"iface {nic.name} inet6 static", f"        address {v6.ip}"]
            lines.append(f"        netmask {v6.network.prefixlen}")
            if nic.gw6:
                lines.append(f"        gateway {nic.gw6}")
        if first and servers:
            lines.append(f"        dns_nameservers {' '.join(servers)}")
        if first and search:
            lines.append(f"        dns_search {' '.join(search)}")
        first = False
        lines.append("")
    return "\n".join(lines)


def openstack_network(conf: Mapping[str, str], fallback: HostDns) -> str:
    """``network_data.json`` of the OpenStack config-drive format."""
    links: list[dict[str, Any]] = []
    networks: list[dict[str, Any]] = []
    for nic in interfaces(conf):
        links.append({"id": nic.name, "type": "phy", "ethernet_mac_address": nic.mac})
        if nic.ip == "dhcp":
            networks.append({"id": f"{nic.name}-v4", "link": nic.name, "type": "ipv4_dhcp"})
        elif nic.ip:
            addr, mask = _v4(nic.ip)
            entry: dict[str, Any] = {
                "id": f"{nic.name}-v4",
                "link": nic.name,
                "type": "ipv4",
                "ip_address": addr,
                "netmask": mask,
            }
            if nic.gw:
                entry["routes"] = [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": nic.gw}]
            networks.append(entry)
        if nic.ip6 in ("dhcp", "auto"):
            kind = "ipv6_dhcp" if nic.ip6 == "dhcp" else "ipv6_slaac"
            networks.append({"id": f"{nic.name}-v6", "link": nic.name, "type": kind})
        elif nic.ip6:
            v6 = ipaddress.IPv6Interface(nic.ip6)
            entry = {
                "id": f"{nic.name}-v6",
                "link": nic.name,
                "type": "ipv6",
                "ip_address": str(v6.ip),
                "netmask": str(v6.netmask),
            }
            if nic.gw6:
                entry["routes"] = [{"network": "::", "netmask": "::", "gateway": nic.gw6}]
            networks.append(entry)
    _, servers = dns(conf, fallback)
    services = [{"type": "dns", "address": s} for s in servers]
    return json.dumps({"links": links, "networks": networks, "services": services}, indent=1)


@dataclass(frozen=True)
class CloudInitData:
    """The generated (or custom) parts; ``instance_id`` identifies this version."""

    citype: str
    user: str
    network: str
    meta: str
    vendor: str
    instance_id: str
    files: dict[str, str]


def generate(
    vmid: int,
    conf: Mapping[str, str],
    custom: Mapping[str, str] | None = None,
    fallback: HostDns = host_dns,
) -> CloudInitData:
    """All cloud-init data of VM ``vmid``; ``custom`` maps cicustom parts to content."""
    custom = custom or {}
    kind = citype(conf)
    user = custom.get("user", user_data(conf, vmid))
    vendor = custom.get("vendor", "")
    if kind == "nocloud":
        network = custom.get("network", nocloud_network(conf, fallback))
    else:
        network = custom.get("network", eni_network(conf, fallback))
    iid = hashlib.sha1((user + network + vendor).encode(), usedforsecurity=False).hexdigest()
    if kind == "nocloud":
        meta = custom.get("meta", f"instance-id: {iid}\n")
        files = {"user-data": user, "network-config": network, "meta-data": meta}
        files["vendor-data"] = vendor
        return CloudInitData(kind, user, network, meta, vendor, iid, files)
    meta = custom.get("meta", _configdrive_meta(conf, vmid, iid))
    files = {
        "openstack/latest/user_data": user,
        "openstack/latest/meta_data.json": meta,
        "openstack/content/0000": network,
    }
    if "network" not in custom:
        files["openstack/latest/network_data.json"] = openstack_network(conf, fallback)
    if vendor:
        files["openstack/latest/vendor_data.json"] = json.dumps({"cloud-init": vendor})
    return CloudInitData(kind, user, network, meta, vendor, iid, files)


def _configdrive_meta(conf: Mapping[str, str], vmid: int, iid: str) -> str:
    host, fqdn = hostname_fqdn(conf, vmid)
    meta: dict[str, Any] = {
        "uuid": iid,
        "hostname": fqdn or host,
        "network_config": {"content_path": "/content/0000"},
    }
    keys = ssh_keys(conf)
    if keys:
        meta["public_keys"] = {f"key{i}": key for i, key in enumerate(keys)}
    if conf.get("ostype") in WINDOWS and conf.get("cipassword"):
        meta["admin_pass"] = conf["cipassword"]
    return json.dumps(meta, indent=5) + "\n"
