"""Parsers of the host's network facts: resolv.conf and /proc/net/dev."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pyxis.host import netinfo

_ZEROS = " 0" * 6
NET_DEV = "\n".join(
    [
        "Inter-|   Receive |  Transmit",
        " face |bytes packets errs drop fifo frame compressed multicast|bytes packets ...",
        f"    lo: 100 1{_ZEROS} 100 1{_ZEROS}",
        f"tap100i0: 2000 20{_ZEROS} 3000 30{_ZEROS}",
        f"veth101i1:  5 1{_ZEROS} 7 1{_ZEROS}",
    ]
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        (
            "search example.org lab\nnameserver 10.0.0.1\nnameserver 10.0.0.2 # x\n",
            {"search": "example.org lab", "dns1": "10.0.0.1", "dns2": "10.0.0.2"},
        ),
        (
            "domain a\n" + "".join(f"nameserver 10.0.0.{i}\n" for i in range(5)),
            {"search": "a", "dns1": "10.0.0.0", "dns2": "10.0.0.1", "dns3": "10.0.0.2"},
        ),
        ("# nameserver 1.1.1.1\nnameserver\n", {}),
    ],
)
def test_parse_resolv(text: str, expected: dict[str, str]) -> None:
    assert netinfo.parse_resolv(text) == expected


def test_parse_net_dev_lists_guest_devices_from_the_guest_side() -> None:
    assert netinfo.parse_net_dev(NET_DEV) == [
        {"dev": "tap100i0", "vmid": "100", "in": 3000, "out": 2000},
        {"dev": "veth101i1", "vmid": "101", "in": 7, "out": 5},
    ]


def test_hosts_file_digest(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    path.write_text("127.0.0.1 localhost\n")
    got = netinfo.hosts_file(path)
    assert got["data"] == "127.0.0.1 localhost\n"
    assert got["digest"] == hashlib.sha1(b"127.0.0.1 localhost\n").hexdigest()
