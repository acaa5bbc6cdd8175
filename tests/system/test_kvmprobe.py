"""The KVM probe with real QEMU: the payload works under TCG; the verdict matches the host.

On the build machine ``/dev/kvm`` is a nested PVM device (``/sys/module/kvm_pvm``) that
hangs guests, so the probe must say "unusable" within about 6 s there.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from pyxis.guests.qemu import kvmprobe

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="needs QEMU"),
]

PVM = Path("/sys/module/kvm_pvm").exists()


def test_firmware_layout() -> None:
    fw = kvmprobe.firmware()
    assert len(fw) == 0x10000
    assert fw[0xFFF0:0xFFF8] == bytes.fromhex("66ea0000000000f0")  # reset vector
    assert fw[0x110:0x112] == bytes.fromhex("48cf")  # handler: iretq


async def test_payload_completes_under_tcg() -> None:
    res = await kvmprobe.run_payload("tcg", timeout=10)
    assert res.exit_code == kvmprobe.EXIT_CODE == 33
    assert res.stages == "RPLHI"
    assert res.ok
    print(f"\nTCG payload: {1000 * res.seconds:.0f} ms")


@pytest.mark.skipif(not PVM, reason="expectation specific to the nested-PVM build machine")
async def test_probe_rejects_nested_pvm(tmp_path: Path) -> None:
    t0 = time.monotonic()
    status = await kvmprobe.probe(tmp_path)
    elapsed = time.monotonic() - t0
    print(f"\nprobe: {elapsed:.2f} s: {status.reason}")
    assert status.usable is False
    assert elapsed < 6.5
    assert "did not complete within" in status.reason
    assert "using TCG" in status.reason
    cached = json.loads((tmp_path / kvmprobe.CACHE_FILE).read_text())
    assert cached["usable"] is False
    # the cached verdict is answered at once
    t0 = time.monotonic()
    again = await kvmprobe.probe(tmp_path)
    assert again == status
    assert time.monotonic() - t0 < 0.1


async def test_missing_device(tmp_path: Path) -> None:
    status = await kvmprobe.check(dev=tmp_path / "kvm")
    assert status.usable is False
    assert "does not exist" in status.reason
