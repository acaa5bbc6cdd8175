"""The out-of-the-box NAT network, set up inside a private network namespace.

``pyxis network setup-default`` must create ``vmbr0`` with its address, a masquerade
rule and a DHCP server when the bridge is missing, and leave an existing ``vmbr0``
alone.  Running it in a fresh namespace keeps the host's own networking untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.system
VENV_BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"


def _ns(ns: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, check=check, timeout=60
    )


@pytest.fixture
def netns(tmp_path: Path) -> Iterator[str]:
    name = f"pyxis-t-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        _ns(name, "ip", "link", "set", "lo", "up")
        yield name
    finally:
        pidfile = tmp_path / "run" / "pyxis" / "dnsmasq-vmbr0.pid"
        if pidfile.exists():
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
        subprocess.run(["ip", "netns", "del", name], check=False)


def test_creates_bridge_nat_and_dhcp(netns: str, tmp_path: Path) -> None:
    out = _ns(netns, str(VENV_BIN / "pyxis"), "network", "setup-default", "--root", str(tmp_path))
    assert "vmbr0: created 10.239.0.0/24 with NAT and DHCP" in out.stdout
    addrs = json.loads(_ns(netns, "ip", "-j", "addr", "show", "vmbr0").stdout)
    assert {a["local"] for a in addrs[0]["addr_info"]} >= {"10.239.0.1"}
    link = json.loads(_ns(netns, "ip", "-j", "-d", "link", "show", "vmbr0").stdout)
    assert link[0]["linkinfo"]["info_kind"] == "bridge"
    rules = _ns(netns, "nft", "list", "table", "ip", "pyxis_nat").stdout
    assert "masquerade" in rules and "10.239.0.0/24" in rules
    pid = int((tmp_path / "run" / "pyxis" / "dnsmasq-vmbr0.pid").read_text().strip())
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert b"--interface=vmbr0" in cmdline
    # running it again keeps the bridge and restarts only our own dnsmasq
    again = _ns(netns, str(VENV_BIN / "pyxis"), "network", "setup-default", "--root", str(tmp_path))
    assert "vmbr0: kept" in again.stdout


def test_existing_bridge_is_left_alone(netns: str, tmp_path: Path) -> None:
    _ns(netns, "ip", "link", "add", "vmbr0", "type", "bridge")
    _ns(netns, "ip", "addr", "add", "192.0.2.1/24", "dev", "vmbr0")
    out = _ns(netns, str(VENV_BIN / "pyxis"), "network", "setup-default", "--root", str(tmp_path))
    assert "left untouched" in out.stdout
    addrs = json.loads(_ns(netns, "ip", "-j", "addr", "show", "vmbr0").stdout)
    assert {a["local"] for a in addrs[0]["addr_info"]} == {"192.0.2.1"}
    assert _ns(netns, "nft", "list", "table", "ip", "pyxis_nat", check=False).returncode != 0
