"""Config keys for container networking: ``net[n]``, ``nameserver``, ``searchdomain``.

A container NIC is a veth pair: ``name=eth0,bridge=vmbr0,hwaddr=BC:24:11:..,ip=dhcp``.
The address settings (``ip``/``gw``/``ip6``/``gw6``) are applied inside the container by
the files ``setup`` writes; ``manual`` leaves an interface unconfigured.  VM NICs share
the MAC generator (``pyxis.guests.qemu.keys_net.mac_generate``).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from pyxis.guests.keyschema import register_formats
from pyxis.guests.qemu.keys_net import mac_generate
from pyxis.schema import formats, propstr
from pyxis.schema.propstr import Format

__all__ = ["NET", "NET_KEYS", "NET_MAX", "mac_generate", "parse_net"]

Schema = dict[str, Any]
NET_MAX = 31
IFNAME_PATTERN = r"[-_.\w\d]+"
IFNAME_RE = re.compile(r"^[-_.\w]{1,15}\Z", re.ASCII)


def _ipv4_config(value: str) -> str:
    # upstream's format also accepts "manual"; the VM side's registered check does not
    if value == "manual":
        return value
    return formats.ipv4_config(value)


def _ipv6_config(value: str) -> str:
    if value == "manual":
        return value
    return formats.ipv6_config(value)


def _ip_with_ll_iface(value: str) -> str:
    # a link-local IPv6 name server needs its interface: fe80::1%eth0
    addr, sep, iface = value.partition("%")
    try:
        parsed = ipaddress.ip_address(addr)
    except ValueError as err:
        raise ValueError(f"value '{value}' is not a valid IP address") from err
    if sep and not (isinstance(parsed, ipaddress.IPv6Address) and parsed.is_link_local):
        raise ValueError(f"'{value}': only link-local IPv6 addresses take an interface")
    if sep and not IFNAME_RE.match(iface):
        raise ValueError(f"'{value}': invalid interface name")
    return value


register_formats(
    {
        "pve-lxc-ipv4-config": _ipv4_config,
        "pve-lxc-ipv6-config": _ipv6_config,
        "lxc-ip-with-ll-iface": _ip_with_ll_iface,
    }
)


def _opt(typ: str, **extra: Any) -> Schema:
    return {"type": typ, "optional": 1, **extra}


NET: Format = {
    "name": {"type": "string", "pattern": IFNAME_PATTERN},
    "bridge": _opt("string", pattern=IFNAME_PATTERN),
    "hwaddr": _opt("string", format="mac-addr"),
    "ip": _opt("string", format="pve-lxc-ipv4-config"),
    "gw": _opt("string", format="ipv4"),
    "ip6": _opt("string", format="pve-lxc-ipv6-config"),
    "gw6": _opt("string", format="ipv6"),
    "tag": _opt("integer", minimum=1, maximum=4094),
    "trunks": _opt("string", pattern=r"(?^:\d+(?:;\d+)*)"),
    "firewall": _opt("boolean"),
    "rate": _opt("number"),
    "mtu": _opt("integer", minimum=64, maximum=65535),
    "type": _opt("string", enum=["veth"]),
    "link_down": _opt("boolean"),
    "host-managed": _opt("boolean"),
}

NET_KEYS: dict[str, Schema] = {
    "net[n]": _opt("string", format=NET, **{"x-index-max": NET_MAX}),
    "nameserver": _opt("string", format="lxc-ip-with-ll-iface-list"),
    "searchdomain": _opt("string", format="dns-name-list"),
}


def parse_net(value: str) -> dict[str, Any]:
    """Parse a ``net[n]`` value; the interface name must also fit the kernel's limit."""
    net = propstr.parse(NET, value)
    if not IFNAME_RE.match(str(net["name"])):
        raise ValueError(f"invalid interface name '{net['name']}' (at most 15 characters)")
    if "bridge" in net and not IFNAME_RE.match(str(net["bridge"])):
        raise ValueError(f"invalid bridge name '{net['bridge']}'")
    return net
