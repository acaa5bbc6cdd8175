"""The typed QEMU command-line model and the one place it is rendered to argv.

``argv.py``, ``devices.py`` and ``drives.py`` never build option strings: they fill a
``Cmdline`` with typed items — ``Device``, blockdev/object/netdev dicts, ``Opts`` for the
options that only take QEMU's ``key=value,...`` syntax (``-chardev``, ``-machine``,
``-smp`` ...) — and ``render`` serialises it.  ``-device``, ``-blockdev``, ``-object``
and ``-netdev`` are rendered as JSON (QEMU 7.2 accepts JSON for all four), so a user
string can never add an option there.  Every other value goes through ``escape_opt``,
the single escaping function for QEMU's option syntax (``,`` is doubled; control
characters are refused), so it cannot either.

PCI placement happens here too: a device names a slot key of ``devices.PCI_SLOTS``
(``net0``, ``virtio3``, ``balloon0`` ...) and ``render`` turns it into ``bus``/``addr``
for the machine family, emitting the PCI bridges that are actually in use first.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from pyxis.errors import PyxisError

JsonDict = dict[str, Any]
_KEY_RE = re.compile(r"[+-]?[A-Za-z0-9_.-]+")


class ArgvError(PyxisError):
    """A config (or node fact) that cannot be turned into a QEMU command line."""

    status = 400


class KvmUnavailable(ArgvError):
    """The config asks for KVM (``kvm: 1``, the default) but the node cannot use it."""

    status = 500


def escape_opt(value: str | int) -> str:
    """Escape one value for QEMU's ``key=value,...`` option syntax.

    A comma inside a value is written as ``,,``; control characters (newline, NUL ...)
    are refused because nothing legitimate needs them and argv items may be logged.
    """
    text = str(value)
    if any(ord(c) < 0x20 or c == "\x7f" for c in text):
        raise ArgvError(f"control character in QEMU option value {text!r}")
    return text.replace(",", ",,")


@dataclass(frozen=True)
class Opts:
    """A ``[implied,]key=value,...`` option value; rendered with ``escape_opt``.

    ``implied`` is the bare leading value some options take (``socket`` for
    ``-chardev socket,...``, the vCPU count for ``-smp``); a ``None`` value makes a bare
    key (CPU flags: ``+aes``).  Keys are checked to be plain identifiers (with an
    optional leading ``+``/``-``), so they cannot carry ``,`` or ``=`` either.
    """

    implied: str | int | None = None
    props: tuple[tuple[str, str | int | None], ...] = ()

    @classmethod
    def of(cls, implied: str | int | None = None, **props: str | int | None) -> Opts:
        """Build from keyword arguments; ``None`` values are left out, ``_`` -> ``-``."""
        items = tuple((k.replace("_", "-"), v) for k, v in props.items() if v is not None)
        return cls(implied, items)

    def plus(self, *items: tuple[str, str | int | None]) -> Opts:
        return Opts(self.implied, self.props + items)

    def render(self) -> str:
        parts = [] if self.implied is None else [escape_opt(self.implied)]
        if "=" in str(self.implied):
            # QEMU would read the first item as key=value, not as the implied value
            raise ArgvError(f"'=' in implied QEMU option value {self.implied!r}")
        for key, value in self.props:
            if not _KEY_RE.fullmatch(key):
                raise ArgvError(f"invalid QEMU option key {key!r}")
            parts.append(key if value is None else f"{key}={escape_opt(value)}")
        return ",".join(parts)


@dataclass
class Device:
    """One ``-device``: driver, id, properties and where it sits.

    ``pci`` names a slot key (see ``devices.PCI_SLOTS``) resolved at render time; ``bus``
    is a non-PCI parent bus (``ide.1``, ``scsihw0.0``, ``ahci0.2`` ...) or an explicit
    PCI bus with ``props['addr']`` already set (builtin slots).
    """

    driver: str
    id: str | None = None
    props: JsonDict = field(default_factory=dict)
    pci: str | None = None
    bus: str | None = None

    def as_json(self, bus: str | None = None, addr: str | None = None) -> JsonDict:
        out: JsonDict = {"driver": self.driver}
        if self.id is not None:
            out["id"] = self.id
        if bus or self.bus:
            out["bus"] = bus or self.bus
        if addr is not None:
            out["addr"] = addr
        out.update(self.props)
        return out


@dataclass
class Cmdline:
    """Everything one guest's command line holds, in typed form.

    ``head`` options come first (identity, monitor, daemonizing), then the machine and
    CPU ``opts``, ``objects``, ``blockdevs``, ``netdevs``, ``chardevs``, ``devices`` (PCI
    bridges inserted first) and finally ``extra`` (the root-only ``args`` key).
    """

    binary: str
    family: str = "i440fx"
    head: list[tuple[str, Opts | str | None]] = field(default_factory=list)
    opts: list[tuple[str, Opts | str | None]] = field(default_factory=list)
    objects: list[JsonDict] = field(default_factory=list)
    blockdevs: list[JsonDict] = field(default_factory=list)
    netdevs: list[JsonDict] = field(default_factory=list)
    chardevs: list[Opts] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    def add_device(self, dev: Device) -> Device:
        if dev.id is not None and any(d.id == dev.id for d in self.devices):
            raise ArgvError(f"duplicate device id '{dev.id}'")
        self.devices.append(dev)
        return dev

    def add_object(self, qom_type: str, oid: str, **props: Any) -> str:
        if not any(o["id"] == oid for o in self.objects):
            self.objects.append({"qom-type": qom_type, "id": oid, **props})
        return oid


def _json(data: JsonDict) -> str:
    # compact and key-ordered as built: golden files stay readable and stable
    return json.dumps(data, separators=(",", ":"), ensure_ascii=True)


def _option(flag: str, value: Opts | str | None) -> list[str]:
    """A plain string is a raw value (``-pidfile``, ``-m``): QEMU does not parse it as
    ``key=value`` options, so it is not escaped; control characters are still refused."""
    if value is None:
        return [flag]
    if isinstance(value, Opts):
        return [flag, value.render()]
    escape_opt(value)
    return [flag, value]


def render(cmd: Cmdline) -> list[str]:
    """Serialise ``cmd`` to argv (the binary first): the one place argv text is made."""
    # imported here: devices.py builds on this module's types
    from pyxis.guests.qemu.devices import place_devices

    argv = [cmd.binary]
    for flag, value in cmd.head + cmd.opts:
        argv += _option(flag, value)
    for obj in cmd.objects:
        argv += ["-object", _json(obj)]
    for node in cmd.blockdevs:
        argv += ["-blockdev", _json(node)]
    for netdev in cmd.netdevs:
        argv += ["-netdev", _json(netdev)]
    for chardev in cmd.chardevs:
        argv += ["-chardev", chardev.render()]
    for dev_json in place_devices(cmd.devices, cmd.family):
        argv += ["-device", _json(dev_json)]
    argv += cmd.extra
    return argv
