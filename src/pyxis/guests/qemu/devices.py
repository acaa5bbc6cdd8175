"""Stable PCI placement and the non-storage guest devices (display, balloon, USB tablet,
guest agent, serial and parallel ports, NICs).

``PCI_SLOTS`` is a fixed table in the spirit of upstream qemu-server's
``get_pci_addr_map``: every device key owns one slot, whether or not the device is
configured, so adding or removing a device never moves another (a guest OS names NICs
and disks by their PCI path).  Bus numbers are bridges: bus 0 is the root bus on
i440fx; ``pci.1``..``pci.4`` are ``pci-bridge`` devices that ``place_devices`` adds
only when a device lives behind them.  On q35, as upstream does, bus 0 is itself a
``pci-bridge`` (``pci.0``) behind a DMI-to-PCI bridge (``pcidmi``, ``pcie.0`` slot
0x1e), so the whole table keeps its meaning on both machine families; only the
display sits on ``pcie.0`` directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyxis.guests.qemu.cmdline import ArgvError, Cmdline, Device, JsonDict, Opts
from pyxis.guests.qemu.keys import parse_net

# slot key -> (bus number, slot).  Keys follow upstream's names.
PCI_SLOTS: dict[str, tuple[int, int]] = {
    "vga": (0, 0x2),
    "balloon0": (0, 0x3),
    "watchdog": (0, 0x4),
    "scsihw0": (0, 0x5),
    "pci.3": (0, 0x5),  # shares the slot: virtio-scsi-single never has scsihw0
    "scsihw1": (0, 0x6),
    "ahci0": (0, 0x7),
    "qga0": (0, 0x8),
    "spice": (0, 0x9),
    **{f"virtio{i}": (0, 0xA + i) for i in range(6)},
    "hostpci0": (0, 0x10),
    "hostpci1": (0, 0x11),
    **{f"net{i}": (0, 0x12 + i) for i in range(6)},
    **{f"vga{i}": (0, 0x17 + i) for i in range(1, 4)},
    "pci.1": (0, 0x1E),
    "pci.2": (0, 0x1F),
    **{f"net{i}": (1, i - 5) for i in range(6, 32)},
    "xhci": (1, 0x1B),
    "pci.4": (1, 0x1C),
    "rng0": (1, 0x1D),
    **{f"virtio{i}": (2, i - 5) for i in range(6, 16)},
    "audio0": (2, 0xC),
    **{f"virtioscsi{i}": (3, i + 1) for i in range(31)},
    **{f"scsihw{i}": (4, i - 1) for i in range(2, 5)},
}
BRIDGES = 4
# q35 only: where the bridges of the table hang (DMI bridge on the root complex)
Q35_DMI_SLOT = 0x1E
Q35_BRIDGE_SLOTS = {0: 0x1, 1: 0x2, 2: 0x3}
Q35_VGA_SLOT = 0x1


def _addr(slot: int, function: int = 0) -> str:
    return f"0x{slot:x}" if function == 0 else f"0x{slot:x}.0x{function:x}"


def machine_family(machine_type: str) -> str:
    """``q35`` for q35 machine types, else ``i440fx``."""
    return "q35" if machine_type.startswith(("q35", "pc-q35")) else "i440fx"


def _resolve(dev: Device, family: str) -> tuple[str, str, int]:
    """(bus name, addr, bus number) of a device with a slot key."""
    key = str(dev.pci)
    if key not in PCI_SLOTS:
        raise ArgvError(f"no PCI slot for '{key}'")
    busnr, slot = PCI_SLOTS[key]
    if family == "q35" and key == "vga":
        return "pcie.0", _addr(Q35_VGA_SLOT), -1
    return f"pci.{busnr}", _addr(slot), busnr


def _bridge_devices(used: set[int], family: str) -> list[JsonDict]:
    """The bridges needed for the bus numbers in ``used`` (parents included)."""
    needed = set(used)
    for bus in list(needed):
        while bus > 0:
            bus = PCI_SLOTS[f"pci.{bus}"][0]
            needed.add(bus)
    out: list[JsonDict] = []
    if family == "q35" and needed:
        out.append(
            {
                "driver": "i82801b11-bridge",
                "id": "pcidmi",
                "bus": "pcie.0",
                "addr": _addr(Q35_DMI_SLOT),
            }
        )
    for bus in sorted(needed):
        chassis = bus + 1 if family == "q35" else bus
        if family == "q35" and bus in Q35_BRIDGE_SLOTS:
            parent, addr = "pcidmi", _addr(Q35_BRIDGE_SLOTS[bus])
        elif bus == 0:
            continue  # i440fx: the root bus
        else:
            pbus, slot = PCI_SLOTS[f"pci.{bus}"]
            parent, addr = f"pci.{pbus}", _addr(slot)
        out.append(
            {
                "driver": "pci-bridge",
                "id": f"pci.{bus}",
                "chassis_nr": chassis,
                "bus": parent,
                "addr": addr,
            }
        )
    return out


def place_devices(devices: list[Device], family: str) -> list[JsonDict]:
    """Device JSON in order, with bus/addr resolved and used bridges emitted first."""
    placed: list[JsonDict] = []
    used: set[int] = set()
    taken: dict[tuple[str, str], str] = {}
    for dev in devices:
        if dev.pci is None:
            placed.append(dev.as_json())
            continue
        bus, addr, busnr = _resolve(dev, family)
        if (bus, addr) in taken:
            raise ArgvError(f"PCI slot {bus}:{addr} of '{dev.pci}' used by '{taken[bus, addr]}'")
        taken[bus, addr] = dev.pci
        if busnr >= 0:
            used.add(busnr)
        placed.append(dev.as_json(bus, addr))
    return _bridge_devices(used, family) + placed


# -- devices ------------------------------------------------------------------------

VGA_DRIVERS = {
    "std": "VGA",
    "cirrus": "cirrus-vga",
    "virtio": "virtio-vga",
    "qxl": "qxl-vga",
    "vmware": "vmware-svga",
}


def add_vga(cmd: Cmdline, vga: Mapping[str, Any], serials: set[int]) -> bool:
    """Add the display device; True if the guest has one (VNC then makes sense)."""
    vtype = str(vga.get("type", "std"))
    if vtype.startswith("serial"):
        if int(vtype[len("serial") :]) not in serials:
            raise ArgvError(f"vga: {vtype} is not configured as a serial port")
        return False
    if vtype == "none":
        return False
    qxl_heads = {"qxl2": 2, "qxl3": 3, "qxl4": 4}.get(vtype, 1)
    driver = VGA_DRIVERS.get("qxl" if qxl_heads > 1 else vtype)
    if driver is None:
        raise ArgvError(f"vga: type '{vtype}' is not supported")
    props: JsonDict = {}
    if "memory" in vga and driver in ("VGA", "qxl-vga", "vmware-svga", "cirrus-vga"):
        props["vgamem_mb"] = int(vga["memory"])
    cmd.add_device(Device(driver, "vga", props, pci="vga"))
    for head in range(1, qxl_heads):
        cmd.add_device(Device("qxl", f"vga{head}", dict(props), pci=f"vga{head}"))
    return True


def add_tablet(cmd: Cmdline) -> None:
    """A USB tablet (absolute pointer for VNC) on its own USB controller."""
    if cmd.family == "q35":
        cmd.add_device(Device("qemu-xhci", "xhci", pci="xhci"))
        cmd.add_device(Device("usb-tablet", "tablet", {"port": "1"}, bus="xhci.0"))
    else:
        # on the PIIX3 multifunction device, as upstream
        cmd.add_device(Device("piix3-usb-uhci", "uhci", {"addr": _addr(1, 2)}, bus="pci.0"))
        cmd.add_device(Device("usb-tablet", "tablet", {"port": "1"}, bus="uhci.0"))


def add_balloon(cmd: Cmdline) -> None:
    cmd.add_device(Device("virtio-balloon-pci", "balloon0", pci="balloon0"))


def add_agent(cmd: Cmdline, agent: Mapping[str, Any], socket: str) -> None:
    """The guest agent channel: a socket chardev and a virtio-serial (or ISA) port."""
    cmd.chardevs.append(Opts.of("socket", path=socket, server="on", wait="off", id="qga0"))
    if agent.get("type", "virtio") == "isa":
        cmd.add_device(Device("isa-serial", "qga0", {"chardev": "qga0"}))
        return
    cmd.add_device(Device("virtio-serial", "qga0", pci="qga0"))
    cmd.add_device(
        Device(
            "virtserialport",
            None,
            {"chardev": "qga0", "name": "org.qemu.guest_agent.0"},
            bus="qga0.0",
        )
    )


def add_serial(cmd: Cmdline, index: int, value: str, socket: str) -> None:
    """``serialN: socket`` (a unix socket in the run dir) or a host device path."""
    cid = f"serial{index}"
    if value == "socket":
        cmd.chardevs.append(Opts.of("socket", id=cid, path=socket, server="on", wait="off"))
    else:
        cmd.chardevs.append(Opts.of("serial", id=cid, path=value))
    # explicit index: serial1 stays ttyS1 even without serial0
    cmd.add_device(Device("isa-serial", cid, {"chardev": cid, "index": index}))


def add_parallel(cmd: Cmdline, index: int, path: str) -> None:
    cid = f"parallel{index}"
    driver = "parport" if path.startswith("/dev/parport") else "tty"
    cmd.chardevs.append(Opts.of(driver, id=cid, path=path))
    cmd.add_device(Device("isa-parallel", cid, {"chardev": cid, "index": index}))


NIC_DRIVERS = {
    "virtio": "virtio-net-pci",
    "e1000": "e1000",
    "e1000-82540em": "e1000-82540em",
    "e1000-82544gc": "e1000-82544gc",
    "e1000-82545em": "e1000-82545em",
    "e1000e": "e1000e",
    "i82551": "i82551",
    "i82557b": "i82557b",
    "i82559er": "i82559er",
    "ne2k_pci": "ne2k_pci",
    "pcnet": "pcnet",
    "rtl8139": "rtl8139",
    "vmxnet3": "vmxnet3",
}


def add_nic(
    cmd: Cmdline,
    index: int,
    value: str,
    *,
    vmid: int,
    kvm: bool,
    bootindex: int | None,
    tap: tuple[str | None, str | None] | None,
) -> None:
    """``netN``: a tap (or, with ``tap=None``, user-mode) netdev plus its NIC device.

    The tap is named ``tap<vmid>i<N>``; QEMU runs ``tap`` = (up script, down script) with
    that name (``no`` when unset).  ``rate`` and ``link_down`` are applied by the caller
    (tc / QMP ``set_link``) because QEMU has no start-up option for them.
    """
    nic = parse_net(value)
    key = f"net{index}"
    model = str(nic["model"])
    driver = NIC_DRIVERS.get(model)
    if driver is None:
        raise ArgvError(f"{key}: model '{model}' is not supported")
    queues = int(nic.get("queues", 0))
    netdev: JsonDict = {"type": "tap" if tap is not None else "user", "id": key}
    if tap is not None:
        up, down = tap
        netdev.update(ifname=f"tap{vmid}i{index}", script=up or "no", downscript=down or "no")
        if model == "virtio" and kvm:
            netdev["vhost"] = True
        if model == "virtio" and queues > 1:
            netdev["queues"] = queues
    cmd.netdevs.append(netdev)
    props: JsonDict = {"netdev": key}
    if "macaddr" in nic:
        props["mac"] = str(nic["macaddr"])
    if model == "virtio":
        if queues > 1 and tap is not None:
            props.update(mq=True, vectors=2 * queues + 2)
        # mtu=1 means "the bridge's MTU", which only the caller knows: left to the default
        if int(nic.get("mtu", 1)) != 1:
            props["host_mtu"] = int(nic["mtu"])
    elif "mtu" in nic:
        raise ArgvError(f"{key}: mtu is only supported with model virtio")
    if bootindex is not None:
        props["bootindex"] = bootindex
    cmd.add_device(Device(driver, key, props, pci=key))
