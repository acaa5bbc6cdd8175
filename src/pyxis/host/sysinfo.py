"""Host facts for ``GET /nodes/{node}/status`` beyond the metrics module's counters.

CPU clock, flags and clock-tick rate (``cpuinfo`` extras upstream reports), the I/O
wait fraction since the previous call, memory KSM shares, and the firmware's boot mode
with the Secure Boot state read from its EFI variable.
"""

from __future__ import annotations

import os
import time
from functools import lru_cache
from pathlib import Path

EFI_DIR = Path("/sys/firmware/efi")
# the SecureBoot variable of the EFI global-variable vendor GUID
SECUREBOOT_VAR = EFI_DIR / "efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
KSM_SHARING = Path("/sys/kernel/mm/ksm/pages_sharing")
_last_wait: tuple[int, int, float] | None = None
_last_fraction = 0.0


@lru_cache(maxsize=1)
def _cpu_flags_and_mhz() -> tuple[str, str]:
    flags, mhz = "", "0"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                key, _, val = line.partition(":")
                key = key.strip()
                if key == "flags" and not flags:
                    flags = val.strip()
                elif key == "cpu MHz" and mhz == "0":
                    mhz = val.strip()
                if flags and mhz != "0":
                    break
    except OSError:
        pass
    return flags, mhz


def cpu_extras() -> dict[str, object]:
    flags, mhz = _cpu_flags_and_mhz()
    return {"mhz": mhz, "flags": flags, "user_hz": os.sysconf("SC_CLK_TCK")}


def io_wait() -> float:
    """Fraction of CPU time spent waiting for I/O since the previous call (>= 1 s ago)."""
    global _last_wait, _last_fraction
    try:
        with open("/proc/stat") as fh:
            fields = [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0
    wait, total, now = (fields[4] if len(fields) > 4 else 0), sum(fields[:8]), time.monotonic()
    if _last_wait is None:
        _last_wait = (wait, total, now)
    elif now - _last_wait[2] >= 1.0 and total > _last_wait[1]:
        _last_fraction = (wait - _last_wait[0]) / (total - _last_wait[1])
        _last_wait = (wait, total, now)
    return round(max(0.0, min(1.0, _last_fraction)), 4)


def ksm_shared() -> int:
    """Bytes of memory KSM currently deduplicates."""
    try:
        pages = int(KSM_SHARING.read_text().strip() or 0)
    except (OSError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def boot_info() -> dict[str, object]:
    if not EFI_DIR.is_dir():
        return {"mode": "legacy-bios"}
    info: dict[str, object] = {"mode": "efi"}
    try:
        raw = SECUREBOOT_VAR.read_bytes()
    except OSError:
        return info
    # 4 bytes of attributes, then the one-byte value
    info["secureboot"] = 1 if len(raw) >= 5 and raw[4] == 1 else 0
    return info
