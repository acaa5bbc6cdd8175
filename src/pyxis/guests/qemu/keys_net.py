"""Config keys for VM networking and cloud-init: ``net[n]``, ``ipconfig[n]``, ``ci*``,
``nameserver``, ``searchdomain``, ``sshkeys``.

A NIC is written ``virtio=BC:24:11:2C:69:EC,bridge=vmbr0,firewall=1``: the model name
is a key alias that carries the MAC address (``model=virtio,macaddr=...`` is the same
NIC).  ``ipconfig[n]`` belongs to ``net[n]`` and feeds the cloud-init network data.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from pyxis.schema.propstr import Format

Schema = dict[str, Any]

NET_MAX = 31
NIC_MODELS = [
    "e1000",
    "e1000-82540em",
    "e1000-82544gc",
    "e1000-82545em",
    "e1000e",
    "i82551",
    "i82557b",
    "i82559er",
    "ne2k_isa",
    "ne2k_pci",
    "pcnet",
    "rtl8139",
    "virtio",
    "vmxnet3",
]
VLAN_LIST = r"(?^:\d+(?:-\d+)?(?:;\d+(?:-\d+)?)*)"
DEFAULT_MAC_PREFIX = "BC:24:11"
# first octet even: a unicast prefix
MAC_PREFIX_RE = re.compile(r"^[0-9a-fA-F][02468aAcCeE](:[0-9a-fA-F]{2}){0,2}\Z")


def _opt(typ: str, **extra: Any) -> Schema:
    return {"type": typ, "optional": 1, **extra}


NET: Format = {
    "model": {"type": "string", "default_key": 1, "enum": NIC_MODELS},
    "macaddr": _opt("string", format="mac-addr"),
    "bridge": _opt("string", format="pve-bridge-id"),
    "tag": _opt("integer", minimum=1, maximum=4094),
    "trunks": _opt("string", pattern=VLAN_LIST),
    "firewall": _opt("boolean"),
    "link_down": _opt("boolean"),
    "rate": _opt("number", minimum=0),
    "queues": _opt("integer", minimum=0, maximum=64),
    "mtu": _opt("integer", minimum=1, maximum=65520),
    **{model: {"alias": "macaddr", "keyAlias": "model"} for model in NIC_MODELS},
}

IPCONFIG: Format = {
    "ip": _opt("string", format="pve-ipv4-config"),
    "gw": _opt("string", format="ipv4"),
    "ip6": _opt("string", format="pve-ipv6-config"),
    "gw6": _opt("string", format="ipv6"),
}

CICUSTOM: Format = {
    part: _opt("string", format="pve-volume-id") for part in ("meta", "network", "user", "vendor")
}

# Named property-string formats used by these keys (schema.json names them).
NAMED_FORMATS: dict[str, Format] = {
    "pve-qm-ipconfig": IPCONFIG,
    "pve-qm-cicustom": CICUSTOM,
}

NET_KEYS: dict[str, Schema] = {
    "net[n]": {"type": "string", "optional": 1, "format": NET, "x-index-max": NET_MAX},
    "ipconfig[n]": {
        "type": "string",
        "optional": 1,
        "format": "pve-qm-ipconfig",
        "x-index-max": NET_MAX,
    },
    "ciuser": _opt("string"),
    "cipassword": _opt("string"),
    "citype": _opt("string", enum=["configdrive2", "nocloud", "opennebula"]),
    "cicustom": _opt("string", format="pve-qm-cicustom"),
    "ciupgrade": _opt("boolean", default=1),
    "nameserver": _opt("string", format="address-list"),
    "searchdomain": _opt("string"),
    "sshkeys": _opt("string", format="urlencoded"),
}


def mac_generate(prefix: str = DEFAULT_MAC_PREFIX) -> str:
    """A random unicast MAC address starting with ``prefix`` (1-3 octets)."""
    prefix = prefix.rstrip(":")
    if prefix and not MAC_PREFIX_RE.match(prefix):
        raise ValueError(f"invalid MAC address prefix '{prefix}'")
    fixed = [int(x, 16) for x in prefix.split(":")] if prefix else []
    octets = fixed + list(secrets.token_bytes(6 - len(fixed)))
    # locally chosen bits never make a multicast address
    octets[0] &= 0xFE
    return ":".join(f"{o:02X}" for o in octets)
