"""Config + node facts -> QEMU argv: ``build_argv`` is the entry point (pure).

Every config value is validated by ``keys.parse_value`` first (a bad value raises
``ArgvError`` naming the key), then the guest is modelled as a ``cmdline.Cmdline``
(machine, CPU, memory, NUMA, firmware, devices, drives, NICs, consoles) and rendered
in one place (``cmdline.render``).  Devices, drives, NICs and objects are rendered as
JSON; the few remaining ``key=value`` options pass one escaping function.  The result
is an argv list for ``exec``: it is never joined into a shell string.

The ``args`` key is the exception: its text (split with ``shlex``) is appended as raw
argv items, so it can add any QEMU option, including ones that open host files or run
programs.  The API lets only root set it (as upstream); nothing here can make it safe.
"""

from __future__ import annotations

import base64
import re
import shlex
from collections.abc import Mapping
from typing import Any

from pyxis.guests.qemu import devices, drives
from pyxis.guests.qemu.cmdline import (
    ArgvError,
    Cmdline,
    Device,
    KvmUnavailable,
    Opts,
    escape_opt,
    render,
)
from pyxis.guests.qemu.facts import EFIVARS_TEMP, NodeFacts, OvmfFiles, RunFiles, VolumeSource
from pyxis.guests.qemu.keys import parse_boot_order, parse_value

__all__ = [
    "EFIVARS_TEMP",
    "ArgvError",
    "KvmUnavailable",
    "NodeFacts",
    "OvmfFiles",
    "RunFiles",
    "VolumeSource",
    "accel_for",
    "build_argv",
    "escape_opt",
    "link_down_nets",
]

WINDOWS = frozenset({"wxp", "w2k", "w2k3", "w2k8", "wvista", "win7", "win8", "win10", "win11"})
INDEXED_RE = re.compile(r"^(net|serial|parallel|numa|usb)(\d+)\Z")
UNSUPPORTED = ("audio0", "tpmstate0", "hugepages", "spice_enhancements")
# Proxmox's x86-64 psABI levels are not QEMU models: a base model plus flags (upstream)
_V2 = ("+popcnt", "+pni", "+sse4.1", "+sse4.2", "+ssse3")
_V3 = ("+aes", "+avx", "+avx2", "+bmi1", "+bmi2", "+f16c", "+fma", "+movbe", *_V2, "+xsave")
PSABI_MODELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "x86-64-v2": ("qemu64", _V2),
    "x86-64-v2-AES": ("qemu64", ("+aes", *_V2)),
    "x86-64-v3": ("Broadwell-noTSX", _V3),
    "x86-64-v4": (
        "Skylake-Server-noTSX-IBRS",
        (*_V3, "+avx512f", "+avx512bw", "+avx512cd", "+avx512dq", "+avx512vl"),
    ),
}
BOOTINDEX_BASE = 100  # as upstream: leaves room below for user-set indexes


def _typed(conf: Mapping[str, str]) -> dict[str, Any]:
    """Every value typed and validated by the key registry."""
    out: dict[str, Any] = {}
    for key, value in conf.items():
        try:
            out[key] = parse_value(key, value)
        except ValueError as err:
            raise ArgvError(str(err)) from err
    return out


def accel_for(conf: Mapping[str, str], facts: NodeFacts) -> str:
    """``kvm`` or ``tcg``; raises ``KvmUnavailable`` when KVM is asked for (``kvm`` key
    unset or 1) but the node cannot use it: the caller decides whether to fall back."""
    raw = conf.get("kvm")
    want = True if raw is None else bool(parse_value("kvm", raw))
    if not want:
        return "tcg"
    if not facts.kvm_usable:
        raise KvmUnavailable("KVM virtualisation configured, but not available on this node")
    return "kvm"


def link_down_nets(conf: Mapping[str, str]) -> list[str]:
    """NICs with ``link_down=1``: the caller sets them down with QMP ``set_link`` (QEMU
    has no start-up option for a NIC's link state), ideally before ``cont``."""
    out = []
    for key, value in conf.items():
        m = INDEXED_RE.match(key)
        if m and m.group(1) == "net" and parse_value(key, value).get("link_down"):
            out.append(key)
    return sorted(out, key=lambda k: int(k[3:]))


def _indexed(typed: Mapping[str, Any], kind: str) -> list[tuple[int, str, Any]]:
    found = []
    for key, value in typed.items():
        m = INDEXED_RE.match(key)
        if m and m.group(1) == kind:
            found.append((int(m.group(2)), key, value))
    return sorted(found, key=lambda item: item[0])


def _machine_type(typed: Mapping[str, Any], facts: NodeFacts) -> str:
    mtype = str(typed.get("machine", {}).get("type") or facts.machine_default)
    # Proxmox's "+pveN" revisions and the ".pxe" variant are not stock QEMU machines
    return re.sub(r"(\+pve\d+)?(\.pxe)?$", "", mtype)


def _cpu(typed: Mapping[str, Any], ostype: str, kvm: bool) -> Opts:
    cpu = typed.get("cpu", {})
    model = str(cpu.get("cputype", "kvm64"))
    if model.startswith("custom-"):
        raise ArgvError("cpu: custom CPU models are not supported")
    if model == "host" and not kvm:
        model = "max"  # TCG has no host model; max is the closest
    flags: list[tuple[str, str | int | None]] = []
    if model in PSABI_MODELS:
        model, base_flags = PSABI_MODELS[model]
        flags += [(flag, None) for flag in base_flags]
    if kvm and model not in ("host", "max"):
        flags += [("+kvm_pv_eoi", None), ("+kvm_pv_unhalt", None)]
    if kvm and ostype in WINDOWS and ostype not in ("wxp", "w2k", "w2k3"):
        flags += [
            ("hv_relaxed", None),
            ("hv_vapic", None),
            ("hv_spinlocks", "0x1fff"),
            ("hv_time", None),
        ]
        if "hv-vendor-id" in cpu:
            flags.append(("hv_vendor_id", str(cpu["hv-vendor-id"])))
    flags += [(flag, None) for flag in str(cpu.get("flags", "")).split(";") if flag]
    if cpu.get("hidden"):
        flags.append(("kvm", "off"))
    if cpu.get("phys-bits") == "host":
        flags.append(("host-phys-bits", "on"))
    elif "phys-bits" in cpu:
        flags.append(("phys-bits", str(cpu["phys-bits"])))
    return Opts(model, tuple(flags))


def _smp(typed: Mapping[str, Any], facts: NodeFacts) -> tuple[Opts, int, int, int]:
    sockets = int(typed.get("sockets", 1))
    cores = int(typed.get("cores", 1))
    maxcpus = sockets * cores
    vcpus = int(typed.get("vcpus") or maxcpus)
    if vcpus > maxcpus:
        raise ArgvError(f"vcpus: {vcpus} exceeds sockets*cores ({maxcpus})")
    if maxcpus > facts.host_cpus:
        raise ArgvError(f"MAX {facts.host_cpus} vcpus allowed per VM on this node")
    return Opts.of(vcpus, sockets=sockets, cores=cores, maxcpus=maxcpus), sockets, cores, vcpus


def _cpu_ranges(text: str) -> list[str]:
    return [part for part in re.split(r"[;]", text) if part]


def _numa(cmd: Cmdline, typed: Mapping[str, Any], memory: int, sockets: int, cores: int) -> None:
    nodes = _indexed(typed, "numa")
    if not nodes:
        # one node per socket, memory split evenly (as upstream)
        if memory % sockets:
            raise ArgvError("numa: memory must divide evenly across sockets")
        nodes = [
            (
                s,
                f"numa{s}",
                {"cpus": f"{s * cores}-{(s + 1) * cores - 1}", "memory": memory // sockets},
            )
            for s in range(sockets)
        ]
    total = 0
    for index, key, node in nodes:
        size = int(node.get("memory") or 0)
        if size <= 0:
            raise ArgvError(f"{key}: memory is required")
        total += size
        backend: dict[str, Any] = {"size": size * 1024 * 1024}
        if "hostnodes" in node:
            backend["host-nodes"] = _expand(str(node["hostnodes"]))
            backend["policy"] = str(node.get("policy", "preferred"))
        memdev = cmd.add_object("memory-backend-ram", f"ram-node{index}", **backend)
        opts = Opts.of("node", nodeid=index)
        opts = opts.plus(*(("cpus", part) for part in _cpu_ranges(str(node["cpus"]))))
        cmd.opts.append(("-numa", opts.plus(("memdev", memdev))))
    if total != memory:
        raise ArgvError(f"numa: node memory adds up to {total} MiB, not memory={memory}")


def _expand(ranges: str) -> list[int]:
    out: list[int] = []
    for part in ranges.split(";"):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def _smbios(typed: Mapping[str, Any]) -> Opts | None:
    smbios = typed.get("smbios1")
    if not smbios:
        return None
    props: list[tuple[str, str | int]] = [("type", 1)]
    for field in ("uuid", "manufacturer", "product", "version", "serial", "sku", "family"):
        if field in smbios:
            value = str(smbios[field])
            if smbios.get("base64") and field != "uuid":
                try:
                    value = base64.b64decode(value, validate=True).decode()
                except ValueError as err:
                    raise ArgvError(f"smbios1: {field} is not valid base64") from err
            props.append((field, value))
    return Opts(None, tuple(props))


def _head(cmd: Cmdline, vmid: int, typed: Mapping[str, Any], facts: NodeFacts) -> None:
    run = facts.run
    if facts.id_option:
        cmd.head.append(("-id", str(vmid)))
    name = str(typed.get("name") or f"vm{vmid}")
    cmd.head += [
        ("-name", Opts.of(name, debug_threads="on")),
        ("-chardev", Opts.of("socket", id="qmp", path=run.qmp, server="on", wait="off")),
        ("-mon", Opts.of(chardev="qmp", mode="control")),
        ("-pidfile", run.pidfile),
        ("-daemonize", None),
        ("-nodefaults", None),
    ]
    if facts.start_paused or typed.get("freeze"):
        cmd.head.append(("-S", None))


def build_argv(
    vmid: int, conf: dict[str, str], facts: NodeFacts, volumes: dict[str, VolumeSource]
) -> list[str]:
    """The QEMU argv (binary first) that starts guest ``vmid`` with config ``conf``.

    ``volumes`` maps every volume ID a drive references (the ``file`` value, or the path
    for path-backed drives) to how it is opened.  Raises ``ArgvError`` for invalid or
    unsupported configs and ``KvmUnavailable`` (see ``accel_for``).
    """
    typed = _typed(conf)
    for key in typed:
        if key in UNSUPPORTED or (INDEXED_RE.match(key) and key.startswith("usb")):
            raise ArgvError(f"{key}: not supported yet")
    accel = accel_for(conf, facts)
    kvm = accel == "kvm"
    mtype = _machine_type(typed, facts)
    cmd = Cmdline(facts.qemu_binary, devices.machine_family(mtype))
    _head(cmd, vmid, typed, facts)
    ostype = str(typed.get("ostype", "other"))

    if smbios := _smbios(typed):
        cmd.opts.append(("-smbios", smbios))
    smp, sockets, cores, _ = _smp(typed, facts)
    cmd.opts.append(("-smp", smp))
    cmd.opts.append(("-boot", Opts.of(menu="on", strict="on", reboot_timeout=1000)))
    cmd.opts.append(("-cpu", _cpu(typed, ostype, kvm)))
    memory = int(typed.get("memory", {}).get("current", 512))
    cmd.opts.append(("-m", str(memory)))
    if typed.get("numa"):
        _numa(cmd, typed, memory, sockets, cores)
    if kvm:
        cmd.opts.append(("-global", Opts(None, (("kvm-pit.lost_tick_policy", "discard"),))))
    localtime = typed.get("localtime")
    rtc: dict[str, str] = {}
    if localtime or (localtime is None and ostype in WINDOWS):
        rtc["base"] = "localtime"
    if "startdate" in typed and typed["startdate"] != "now":
        rtc["base"] = str(typed["startdate"])
    if rtc:
        cmd.opts.append(("-rtc", Opts.of(**rtc)))
    machine = typed.get("machine", {})
    pm = "ICH9-LPC" if cmd.family == "q35" else "PIIX4_PM"
    for state in ("s3", "s4"):
        if f"enable-{state}" in machine:
            disabled = 0 if machine[f"enable-{state}"] else 1
            cmd.opts.append(("-global", Opts(None, ((f"{pm}.disable_{state}", disabled),))))
    if "viommu" in machine:
        raise ArgvError("machine: viommu is not supported yet")

    serials = {index for index, _, _ in _indexed(typed, "serial")}
    has_vga = devices.add_vga(cmd, typed.get("vga", {}), serials)
    if has_vga and facts.run.vnc:
        # the explicit key: an implied first value may not contain '='
        cmd.opts.append(("-vnc", Opts(None, (("vnc", f"unix:{facts.run.vnc}"),))))
    else:
        cmd.opts.append(("-display", Opts("none")))
    if typed.get("tablet", 1) and has_vga:
        devices.add_tablet(cmd)
    if typed.get("balloon", 1) != 0:
        devices.add_balloon(cmd)
    if typed.get("vmgenid") not in (None, "0"):
        if typed["vmgenid"] == "1":
            raise ArgvError("vmgenid: '1' must be replaced by a generated UUID before start")
        cmd.add_device(Device("vmgenid", "vmgenid0", {"guid": str(typed["vmgenid"])}))
    agent = typed.get("agent", {})
    if agent.get("enabled"):
        devices.add_agent(cmd, agent, facts.run.qga)
    for index, _, value in _indexed(typed, "serial"):
        devices.add_serial(cmd, index, str(value), facts.run.serial(index))
    for index, _, value in _indexed(typed, "parallel"):
        devices.add_parallel(cmd, index, str(value))

    order = parse_boot_order(conf)
    bootorder = {dev: BOOTINDEX_BASE + i for i, dev in enumerate(order)}
    drives.add_drives(cmd, conf, facts, volumes, bootorder)
    tap = None if facts.user_net else (facts.tap_script, facts.tap_down_script)
    for index, key, _ in _indexed(typed, "net"):
        devices.add_nic(
            cmd, index, conf[key], vmid=vmid, kvm=kvm, bootindex=bootorder.get(key), tap=tap
        )

    mopts = Opts.of(type=mtype, accel=accel)
    if typed.get("bios") == "ovmf":
        mopts = mopts.plus(*drives.add_uefi(cmd, conf, facts, volumes))
    if typed.get("acpi", 1) == 0:
        mopts = mopts.plus(("acpi", "off"))
    cmd.opts.append(("-machine", mopts))
    if "args" in typed:
        try:
            cmd.extra = shlex.split(str(typed["args"]))
        except ValueError as err:
            raise ArgvError(f"args: {err}") from err
    return render(cmd)
