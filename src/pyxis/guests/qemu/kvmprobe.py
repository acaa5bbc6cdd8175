"""Decide whether KVM acceleration can actually run guests on this host.

Opening ``/dev/kvm`` is not enough: a nested paravirtual KVM (``kvm_pvm``) answers the
API but hangs real guests.  The probe boots a tiny firmware of our own (built below as
bytes, passed with ``-bios``, so SeaBIOS' several seconds under PVM do not count) that does
what every OS kernel does first: real mode -> protected mode -> long mode with paging ->
jump to a higher-half address -> take an exception through an IDT (``int3``) -> write to
``isa-debug-exit`` so that QEMU exits with code ``(0x10 << 1) | 1 = 33``.  Each stage
writes one letter to the ``0xe9`` debug console (R, P, L, H, I) so that a failure names
the stage reached.  Measured on the build machine (PVM): under TCG the payload completes
in ~0.1 s; under KVM it stops after ``H`` (exception delivery hangs) and is killed at the
timeout.  The result is cached in ``<run_dir>/kvm-probe.json`` for the current boot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from pyxis.util.run import run

EXIT_CODE = 33  # isa-debug-exit: (value written << 1) | 1 with value 0x10
STAGES = {
    "R": "real mode",
    "P": "protected mode",
    "L": "long mode",
    "H": "higher-half kernel address",
    "I": "exception delivered through the IDT",
}
CACHE_FILE = "kvm-probe.json"

# The firmware, linked at 0xf0000 (QEMU maps the last 64 KiB of -bios there).  The reset
# vector at 0xffff0 far-jumps to 0xf0000.  Scratch RAM: page tables at 0x1000-0x4fff
# (PML4, PDPT low, PD, PDPT high), IDT at 0x5000, stack below 0x7000.
_CODE: list[tuple[str, str]] = [
    # 0xf0000, real mode
    ("fa", "cli"),
    ("b052", "mov $'R',%al"),
    ("e6e9", "out %al,$0xe9"),
    ("31c0", "xor %ax,%ax"),
    ("8ed8", "mov %ax,%ds"),
    ("2e660f01163801", "lgdtl %cs:gdtr-0xf0000"),
    ("0f20c0", "mov %cr0,%eax"),
    ("6683c801", "or $0x1,%eax  # CR0.PE"),
    ("0f22c0", "mov %eax,%cr0"),
    ("66ea22000f000800", "ljmpl $0x8,$pm"),
    # pm = 0xf0022, 32-bit protected mode
    ("66b81000", "mov $0x10,%ax"),
    ("8ed8", "mov %eax,%ds"),
    ("8ec0", "mov %eax,%es"),
    ("8ed0", "mov %eax,%ss"),
    ("bc00700000", "mov $0x7000,%esp"),
    ("b050", "mov $'P',%al"),
    ("e6e9", "out %al,$0xe9"),
    ("bf00100000", "mov $0x1000,%edi"),
    ("31c0", "xor %eax,%eax"),
    ("b900100000", "mov $0x1000,%ecx"),
    ("f3ab", "rep stos %eax,%es:(%edi)  # zero 0x1000-0x4fff"),
    ("c7050010000003200000", "movl $0x2003,0x1000  # PML4[0] -> PDPT low"),
    ("c705f81f000003400000", "movl $0x4003,0x1ff8  # PML4[511] -> PDPT high"),
    ("c7050020000003300000", "movl $0x3003,0x2000  # PDPT low[0] -> PD"),
    ("c705f04f000003300000", "movl $0x3003,0x4ff0  # PDPT high[510] -> PD"),
    ("c7050030000083000000", "movl $0x83,0x3000  # PD[0]: 2 MiB page at 0"),
    ("b800100000", "mov $0x1000,%eax"),
    ("0f22d8", "mov %eax,%cr3"),
    ("0f20e0", "mov %cr4,%eax"),
    ("83c820", "or $0x20,%eax  # CR4.PAE"),
    ("0f22e0", "mov %eax,%cr4"),
    ("b9800000c0", "mov $0xc0000080,%ecx  # EFER"),
    ("0f32", "rdmsr"),
    ("0d00010000", "or $0x100,%eax  # EFER.LME"),
    ("0f30", "wrmsr"),
    ("0f20c0", "mov %cr0,%eax"),
    ("0d00000080", "or $0x80000000,%eax  # CR0.PG"),
    ("0f22c0", "mov %eax,%cr0"),
    ("eaa6000f001800", "ljmp $0x18,$lm"),
    # lm = 0xf00a6, 64-bit long mode
    ("b04c", "mov $'L',%al"),
    ("e6e9", "out %al,$0xe9"),
    ("48b8b6000f80ffffffff", "movabs $0xffffffff80000000+hh,%rax"),
    ("ffe0", "jmp *%rax"),
    # hh = 0xf00b6 (running at 0xffffffff800f00b6)
    ("b048", "mov $'H',%al"),
    ("e6e9", "out %al,$0xe9"),
    ("b810010f00", "mov $handler,%eax"),
    ("6689042530500000", "mov %ax,0x5030  # IDT[3].offset_low"),
    ("66c70425325000001800", "movw $0x18,0x5032  # .selector"),
    ("66c7042534500000008e", "movw $0x8e00,0x5034  # present 64-bit interrupt gate"),
    ("c1e810", "shr $0x10,%eax"),
    ("6689042536500000", "mov %ax,0x5036  # .offset_mid"),
    ("c704253850000000000000", "movl $0x0,0x5038  # .offset_high"),
    ("c704253c50000000000000", "movl $0x0,0x503c"),
    ("0f011c253e010f00", "lidt idtr"),
    ("cc", "int3"),
    ("b049", "mov $'I',%al"),
    ("e6e9", "out %al,$0xe9"),
    ("b010", "mov $0x10,%al"),
    ("e6f4", "out %al,$0xf4  # isa-debug-exit"),
    ("f4", "1: hlt"),
    ("ebfd", "jmp 1b"),
    # handler = 0xf0110
    ("48cf", "iretq"),
]
# gdt = 0xf0118: null, 32-bit code, data, 64-bit code (accessed bits preset: the GDT is
# in ROM, and a CPU write of the accessed bit there is what some hypervisors trip over).
_GDT = [0, 0x00CF9B000000FFFF, 0x00CF93000000FFFF, 0x00AF9B000000FFFF]
_GDT_AT, _GDTR_AT, _IDTR_AT = 0x118, 0x138, 0x13E
_RESET_VECTOR = bytes.fromhex("66ea0000000000f0")  # ljmpl $0xf000,$0x0000


def firmware() -> bytes:
    """The 64 KiB probe firmware image."""
    img = bytearray(0x10000)
    code = b"".join(bytes.fromhex(h) for h, _ in _CODE)
    img[: len(code)] = code
    for i, desc in enumerate(_GDT):
        img[_GDT_AT + 8 * i : _GDT_AT + 8 * i + 8] = desc.to_bytes(8, "little")
    img[_GDTR_AT : _GDTR_AT + 6] = (31).to_bytes(2, "little") + (0xF0000 + _GDT_AT).to_bytes(
        4, "little"
    )
    img[_IDTR_AT : _IDTR_AT + 10] = (0xFFF).to_bytes(2, "little") + (0x5000).to_bytes(8, "little")
    img[0xFFF0 : 0xFFF0 + len(_RESET_VECTOR)] = _RESET_VECTOR
    return bytes(img)


@dataclass
class PayloadResult:
    accel: str
    exit_code: int | None  # None: killed at the timeout
    stages: str
    seconds: float
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_CODE and self.stages.endswith("I")

    def describe(self) -> str:
        last = STAGES.get(self.stages[-1:], "nothing (firmware did not start)")
        if self.exit_code is None:
            return f"did not complete within {self.seconds:.1f} s (last stage reached: {last})"
        return f"exited with code {self.exit_code} (last stage reached: {last})"


@dataclass
class KvmStatus:
    usable: bool
    reason: str


async def run_payload(
    accel: str, *, timeout: float = 5.0, qemu: str = "qemu-system-x86_64"
) -> PayloadResult:
    """Boot the probe firmware under ``accel`` (kvm or tcg)."""
    with tempfile.TemporaryDirectory(prefix="pyxis-kvmprobe-") as tmp:
        fw, dbg = Path(tmp) / "probe.fd", Path(tmp) / "stages.txt"
        fw.write_bytes(firmware())
        argv = [
            qemu, "-accel", accel, "-machine", "q35", "-nodefaults", "-no-user-config",
            "-display", "none", "-m", "32", "-bios", str(fw),
            "-chardev", f"file,id=stages,path={dbg}",
            "-device", "isa-debugcon,iobase=0xe9,chardev=stages",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
        ]  # fmt: skip
        started = time.monotonic()
        try:
            res = await run(argv, timeout=timeout, check=False)
            code: int | None = res.returncode
            stderr = res.stderr
        except TimeoutError:
            code, stderr = None, ""
        seconds = time.monotonic() - started
        stages = dbg.read_text(errors="replace") if dbg.exists() else ""
    return PayloadResult(accel, code, stages, seconds, stderr.strip())


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _load_cache(path: Path) -> KvmStatus | None:
    try:
        data = json.loads(path.read_text())
        if data.get("boot_id") != _boot_id():
            return None
        return KvmStatus(bool(data["usable"]), str(data["reason"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _save_cache(path: Path, status: KvmStatus) -> None:
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({**asdict(status), "boot_id": _boot_id()}))
        tmp.replace(path)


async def check(
    *, dev: Path = Path("/dev/kvm"), timeout: float = 5.0, qemu: str = "qemu-system-x86_64"
) -> KvmStatus:
    """Run the probe now (no cache)."""
    if not dev.exists():
        return KvmStatus(False, f"{dev} does not exist; using TCG")
    try:
        os.close(os.open(dev, os.O_RDWR | os.O_CLOEXEC))
    except OSError as err:
        return KvmStatus(False, f"{dev} cannot be opened ({err.strerror}); using TCG")
    kvm = await run_payload("kvm", timeout=timeout, qemu=qemu)
    if kvm.ok:
        return KvmStatus(True, f"a test guest completed under KVM in {kvm.seconds:.2f} s")
    tcg = await run_payload("tcg", timeout=timeout, qemu=qemu)
    if not tcg.ok:
        return KvmStatus(
            False,
            f"test guest failed under TCG too ({tcg.describe()}; {tcg.stderr[-200:]}); "
            "cannot judge KVM, using TCG",
        )
    if kvm.exit_code is None:
        return KvmStatus(
            False,
            f"{dev} present but a test guest {kvm.describe()} (nested/paravirtual KVM?); using TCG",
        )
    return KvmStatus(
        False, f"{dev} present but a test guest {kvm.describe()}: {kvm.stderr[-200:]}; using TCG"
    )


_PROBE_LOCKS: dict[Path, asyncio.Lock] = {}


async def probe(run_dir: Path, *, timeout: float = 5.0, refresh: bool = False) -> KvmStatus:
    """Whether KVM is usable; cached in ``<run_dir>/kvm-probe.json`` for this boot.

    Concurrent first callers share one probe run (the lock is per cache file).
    """
    cache = Path(run_dir) / CACHE_FILE
    lock = _PROBE_LOCKS.setdefault(cache, asyncio.Lock())
    async with lock:
        if not refresh and (cached := _load_cache(cache)) is not None:
            return cached
        status = await check(timeout=timeout)
        _save_cache(cache, status)
        return status
