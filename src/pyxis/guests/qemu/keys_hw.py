"""Config keys for VM hardware: CPU, memory, machine, firmware, boot, display, agent,
SMBIOS and the other devices without a drive or NIC of their own.

Property-string keys carry their format inline (``memory``, ``machine``, ``agent``,
``vga`` ...) or by a name that ``schema.json`` uses (``cpu`` is ``pve-vm-cpu-conf``,
``boot`` is ``pve-qm-boot``, ``smbios1`` is ``pve-qm-smbios1``); ``NAMED_FORMATS`` maps
those names to their inline formats.
"""

from __future__ import annotations

from typing import Any

from pyxis.schema.propstr import Format

Schema = dict[str, Any]

CPU_MODELS = [
    "486", "athlon", "Broadwell", "Broadwell-IBRS", "Broadwell-noTSX", "Broadwell-noTSX-IBRS",
    "Cascadelake-Server", "Cascadelake-Server-noTSX", "Cascadelake-Server-v2",
    "Cascadelake-Server-v4", "Cascadelake-Server-v5", "Conroe", "Cooperlake", "Cooperlake-v2",
    "core2duo", "coreduo", "EPYC", "EPYC-Genoa", "EPYC-IBPB", "EPYC-Milan", "EPYC-Milan-v2",
    "EPYC-Rome", "EPYC-Rome-v2", "EPYC-Rome-v3", "EPYC-Rome-v4", "EPYC-v3", "EPYC-v4",
    "GraniteRapids", "Haswell", "Haswell-IBRS", "Haswell-noTSX", "Haswell-noTSX-IBRS", "host",
    "Icelake-Client", "Icelake-Client-noTSX", "Icelake-Server", "Icelake-Server-noTSX",
    "Icelake-Server-v3", "Icelake-Server-v4", "Icelake-Server-v5", "Icelake-Server-v6",
    "IvyBridge", "IvyBridge-IBRS", "KnightsMill", "kvm32", "kvm64", "max", "Nehalem",
    "Nehalem-IBRS", "Opteron_G1", "Opteron_G2", "Opteron_G3", "Opteron_G4", "Opteron_G5",
    "Penryn", "pentium", "pentium2", "pentium3", "phenom", "qemu32", "qemu64", "SandyBridge",
    "SandyBridge-IBRS", "SapphireRapids", "SapphireRapids-v2", "Skylake-Client",
    "Skylake-Client-IBRS", "Skylake-Client-noTSX-IBRS", "Skylake-Client-v4", "Skylake-Server",
    "Skylake-Server-IBRS", "Skylake-Server-noTSX-IBRS", "Skylake-Server-v4",
    "Skylake-Server-v5", "Westmere", "Westmere-IBRS", "x86-64-v2", "x86-64-v2-AES",
    "x86-64-v3", "x86-64-v4",
]  # fmt: skip
OSTYPES = [
    "other", "wxp", "w2k", "w2k3", "w2k8", "wvista", "win7", "win8", "win10", "win11",
    "l24", "l26", "solaris",
]  # fmt: skip
SCSIHW = ["lsi", "lsi53c810", "virtio-scsi-pci", "virtio-scsi-single", "megasas", "pvscsi"]
VGA_TYPES = [
    "cirrus", "qxl", "qxl2", "qxl3", "qxl4", "none", "serial0", "serial1", "serial2",
    "serial3", "std", "virtio", "virtio-gl", "vmware",
]  # fmt: skip
KEYBOARDS = [
    "de", "de-ch", "da", "en-gb", "en-us", "es", "fi", "fr", "fr-be", "fr-ca", "fr-ch", "hu",
    "is", "it", "ja", "lt", "mk", "nl", "no", "pl", "pt", "pt-br", "sv", "sl", "tr",
]  # fmt: skip
MACHINE_TYPE_RE = (
    r"(pc|pc(-i440fx)?-\d+(\.\d+)+(\+pve\d+)?(\.pxe)?|q35|pc-q35-\d+(\.\d+)+(\+pve\d+)?"
    r"(\.pxe)?|virt(?:-\d+(\.\d+)+)?(\+pve\d+)?)"
)
CPU_FLAG = r"[+-][a-zA-Z0-9\-_.]+"
VLAN_LIST = r"(?^:\d+(?:-\d+)?(?:;\d+(?:-\d+)?)*)"
UUID_RE = r"[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}"


def _opt(typ: str, **extra: Any) -> Schema:
    return {"type": typ, "optional": 1, **extra}


CPU: Format = {
    "cputype": _opt(
        "string", default_key=1, default="kvm64", pattern=r"(?:custom-)?[A-Za-z0-9_.+-]+"
    ),
    "flags": _opt("string", pattern=rf"{CPU_FLAG}(;{CPU_FLAG})*"),
    "hidden": _opt("boolean", default=0),
    "hv-vendor-id": _opt("string", pattern=r"[a-zA-Z0-9]{1,12}"),
    "phys-bits": _opt("string", pattern=r"host|[89]|[1-5][0-9]|6[0-4]"),
    "guest-phys-bits": _opt("integer", minimum=32, maximum=64),
    "reported-model": _opt("string", enum=CPU_MODELS, default="kvm64"),
}

MEMORY: Format = {"current": {"type": "integer", "default_key": 1, "minimum": 16, "default": 512}}

MACHINE: Format = {
    "type": _opt("string", default_key=1, maxLength=40, pattern=MACHINE_TYPE_RE),
    "viommu": _opt("string", enum=["intel", "virtio"]),
    "enable-s3": _opt("boolean"),
    "enable-s4": _opt("boolean"),
    "aw-bits": _opt("number", minimum=32, maximum=64),
}

AGENT: Format = {
    "enabled": {"type": "boolean", "default_key": 1, "default": 0},
    "fstrim_cloned_disks": _opt("boolean", default=0),
    "freeze-fs": _opt("boolean", default=1),
    "freeze-fs-on-backup": {"alias": "freeze-fs"},
    "guest-fsfreeze": {"alias": "freeze-fs"},
    "type": _opt("string", enum=["virtio", "isa"], default="virtio"),
}

BOOT: Format = {
    "legacy": _opt("string", default_key=1, pattern=r"[acdn]{1,4}", default="cdn"),
    "order": _opt("string", format="pve-qm-bootdev-list"),
}

VGA: Format = {
    "type": _opt("string", default_key=1, enum=VGA_TYPES, default="std"),
    "memory": _opt("integer", minimum=4, maximum=512),
    "clipboard": _opt("string", enum=["vnc"]),
}

SMBIOS1: Format = {
    "uuid": _opt("string", pattern=UUID_RE),
    "base64": _opt("boolean"),
    **{k: _opt("string") for k in ("family", "manufacturer", "product", "serial", "sku")},
    "version": _opt("string"),
}

META: Format = {
    "creation-qemu": _opt("string", pattern=r"\d+(\.\d+)+"),
    "ctime": _opt("integer", minimum=0),
}

AUDIO: Format = {
    "device": {"type": "string", "enum": ["ich9-intel-hda", "intel-hda", "AC97"]},
    "driver": _opt("string", enum=["spice", "none"], default="spice"),
}

SPICE_ENHANCEMENTS: Format = {
    "foldersharing": _opt("boolean", default="0"),
    "videostreaming": _opt("string", enum=["off", "all", "filter"], default="off"),
}

NUMA_NODE: Format = {
    "cpus": {"type": "string", "pattern": VLAN_LIST},
    "hostnodes": _opt("string", pattern=VLAN_LIST),
    "memory": _opt("number"),
    "policy": _opt("string", enum=["preferred", "bind", "interleave"]),
}

USB: Format = {
    "host": _opt(
        "string",
        default_key=1,
        pattern=(
            r"(?^:(?:(?:(?^:(0x)?([0-9A-Fa-f]{4}):(0x)?([0-9A-Fa-f]{4})))|"
            r"(?:(?^:(\d+)\-(\d+(\.\d+)*)))|[Ss][Pp][Ii][Cc][Ee]))"
        ),
    ),
    "mapping": _opt("string", format="pve-configid"),
    "usb3": _opt("boolean", default=0),
}

NAMED_FORMATS: dict[str, Format] = {
    "pve-vm-cpu-conf": CPU,
    "pve-qm-boot": BOOT,
    "pve-qm-smbios1": SMBIOS1,
}


def _family(sub: Schema, index_max: int) -> Schema:
    return {**sub, "x-index-max": index_max}


HW_KEYS: dict[str, Schema] = {
    "cpu": _opt("string", format="pve-vm-cpu-conf"),
    "cores": _opt("integer", minimum=1, default=1),
    "sockets": _opt("integer", minimum=1, default=1),
    "vcpus": _opt("integer", minimum=1, default=0),
    "smp": _opt("integer", minimum=1, default=1),
    "cpulimit": _opt("number", minimum=0, maximum=128, default=0),
    "cpuunits": _opt("integer", minimum=1, maximum=262144),
    "numa": _opt("boolean", default=0),
    "numa[n]": _family(_opt("string", format=NUMA_NODE), 7),
    "memory": _opt("string", format=MEMORY),
    "balloon": _opt("integer", minimum=0),
    "shares": _opt("integer", minimum=0, maximum=50000, default=1000),
    "hugepages": _opt("string", enum=["any", "2", "1024"]),
    "keephugepages": _opt("boolean", default=0),
    "allow-ksm": _opt("boolean", default=1),
    "machine": _opt("string", format=MACHINE),
    "arch": _opt("string", enum=["x86_64", "aarch64"]),
    "bios": _opt("string", enum=["seabios", "ovmf"], default="seabios"),
    "kvm": _opt("boolean", default=1),
    "acpi": _opt("boolean", default=1),
    "agent": _opt("string", format=AGENT),
    "boot": _opt("string", format="pve-qm-boot"),
    "bootdisk": _opt("string", format="pve-qm-bootdisk", pattern=r"(ide|sata|scsi|virtio)\d+"),
    "scsihw": _opt("string", enum=SCSIHW, default="lsi"),
    "vga": _opt("string", format=VGA),
    "tablet": _opt("boolean", default=1),
    "keyboard": _opt("string", enum=KEYBOARDS),
    "audio0": _opt("string", format=AUDIO),
    "spice_enhancements": _opt("string", format=SPICE_ENHANCEMENTS),
    "serial[n]": _family(_opt("string", pattern=r"(/dev/.+|socket)"), 3),
    "parallel[n]": _family(_opt("string", pattern=r"/dev/parport\d+|/dev/usb/lp\d+"), 2),
    "usb[n]": _family(_opt("string", format=USB), 14),
    "smbios1": _opt("string", format="pve-qm-smbios1", maxLength=512),
    "vmgenid": _opt("string", pattern=rf"(?:{UUID_RE}|[01])"),
    "ostype": _opt("string", enum=OSTYPES, default="other"),
    "localtime": _opt("boolean"),
    "tdf": _opt("boolean", default=0),
    "startdate": _opt("string", pattern=r"(now|\d{4}-\d{1,2}-\d{1,2}(T\d{1,2}:\d{1,2}:\d{1,2})?)"),
    "args": _opt("string"),
}
