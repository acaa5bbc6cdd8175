"""In-container setup files: host name, hosts, resolv.conf, interfaces and the
init-agnostic network script, per flavour; no value can add a line."""

from __future__ import annotations

import pytest

from pyxis.guests.lxc.setup import (
    NET_SCRIPT,
    file_mode,
    hostnames,
    interfaces_file,
    os_setup_files,
    resolv_conf,
)

STATIC = {
    "hostname": "web1",
    "searchdomain": "example.com",
    "nameserver": "10.0.0.53 1.1.1.1",
    "net0": "name=eth0,bridge=vmbr0,ip=10.0.0.5/24,gw=10.0.0.1,ip6=fd00::5/64,gw6=fd00::1",
    "net1": "name=eth1,bridge=vmbr1,ip=dhcp,ip6=auto",
    "net2": "name=eth2,bridge=vmbr2,ip=manual",
    "net3": "name=eth3,bridge=vmbr3",
}


def test_debian_files() -> None:
    files = os_setup_files(STATIC, "debian", vmid=100)
    assert sorted(files) == [
        "etc/hostname",
        "etc/hosts",
        "etc/network/interfaces",
        "etc/pyxis/net.sh",
        "etc/resolv.conf",
    ]
    assert files["etc/hostname"] == "web1\n"
    assert files["etc/hosts"].endswith("10.0.0.5 web1.example.com web1\n")
    assert (
        files["etc/resolv.conf"] == "search example.com\nnameserver 10.0.0.53\nnameserver 1.1.1.1\n"
    )
    assert files["etc/network/interfaces"] == (
        "auto lo\niface lo inet loopback\n\n"
        "auto eth0\niface eth0 inet static\n        address 10.0.0.5/24\n"
        "        gateway 10.0.0.1\niface eth0 inet6 static\n        address fd00::5/64\n"
        "        gateway fd00::1\n\n"
        "auto eth1\niface eth1 inet dhcp\niface eth1 inet6 auto\n\n"
        "auto eth2\niface eth2 inet manual\n"
    )


def test_net_script() -> None:
    script = os_setup_files(STATIC, "busybox")[NET_SCRIPT]
    assert script.startswith("#!/bin/sh\n")
    for line in (
        "ip addr add 10.0.0.5/24 dev eth0",
        "ip route add default via 10.0.0.1 dev eth0",
        "ip -6 addr add fd00::5/64 dev eth0",
        "udhcpc -b -q -i eth1 >/dev/null 2>&1 || true",
        "ip link set eth3 up",
    ):
        assert line in script.splitlines()
    assert file_mode(NET_SCRIPT) == 0o755
    assert file_mode("etc/hosts") == 0o644


@pytest.mark.parametrize(
    ("ostype", "expected"),
    [("debian", True), ("ubuntu", True), ("busybox", True), ("alpine", False), ("centos", False)],
)
def test_interfaces_only_for_ifupdown_flavours(ostype: str, expected: bool) -> None:
    assert ("etc/network/interfaces" in os_setup_files(STATIC, ostype)) is expected


def test_unmanaged_and_unknown() -> None:
    assert os_setup_files(STATIC, "unmanaged") == {}
    with pytest.raises(ValueError, match="unknown ostype"):
        os_setup_files(STATIC, "windows")


def test_defaults() -> None:
    files = os_setup_files({}, "busybox", vmid=321)
    assert files["etc/hostname"] == "CT321\n"
    assert files["etc/hosts"].endswith("127.0.1.1 CT321\n")
    assert "etc/resolv.conf" not in files
    assert resolv_conf({"searchdomain": "a.example"}) == "search a.example\n"
    assert hostnames({"hostname": "db.example.org"}, None) == ("db.example.org", "db")
    assert interfaces_file({}) == "auto lo\niface lo inet loopback\n"


def test_timezone() -> None:
    assert (
        os_setup_files({"timezone": "Europe/Vienna"}, "debian")["etc/timezone"] == "Europe/Vienna\n"
    )
    assert "etc/timezone" not in os_setup_files({"timezone": "host"}, "debian")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("hostname", "web1\n10.6.6.6 bank.example"),
        ("hostname", "a;reboot"),
        ("nameserver", "1.1.1.1\nnameserver 6.6.6.6"),
        ("searchdomain", "a.example\nnameserver x"),
        ("net0", "name=eth0,ip=10.0.0.5/24\nup rm -rf /"),
        ("net0", "name=eth0;reboot,ip=dhcp"),
    ],
)
def test_values_cannot_inject(key: str, value: str) -> None:
    with pytest.raises(ValueError):
        os_setup_files({key: value}, "debian")
