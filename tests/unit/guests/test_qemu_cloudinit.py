"""Cloud-init data generation (table-driven) and the drive's ISO image (read back)."""

from __future__ import annotations

import io
import json
from typing import Any

import pycdlib
import pytest

from pyxis.guests.qemu import cloudinit
from pyxis.guests.qemu.cloudinit_drive import build_iso, drive_key, pending, snapshot
from pyxis.guests.qemu.config import VmConfig
from pyxis.util.shacrypt import sha512_crypt

MAC = "BC:24:11:2C:69:EC"
NO_HOST_DNS: cloudinit.HostDns = lambda: ([], [])  # noqa: E731
HOST_DNS: cloudinit.HostDns = lambda: (["host.lan"], ["192.0.2.53"])  # noqa: E731

USER_CASES: list[tuple[str, dict[str, str], str]] = [
    (
        "minimal: host name from the vmid, default user, upgrades on",
        {},
        "#cloud-config\nhostname: VM100\nmanage_etc_hosts: true\n"
        "chpasswd:\n  expire: False\nusers:\n  - default\npackage_upgrade: true\n",
    ),
    (
        "name with searchdomain gives an fqdn; user, hashed password, ssh keys",
        {
            "name": "web",
            "searchdomain": "example.com",
            "ciuser": "alice",
            "cipassword": "$6$abc$hash",
            "sshkeys": "ssh-ed25519%20AAAA%20a%40b%0Assh-rsa%20BBBB%20c%40d%0A",
            "ciupgrade": "0",
        },
        "#cloud-config\nhostname: web\nmanage_etc_hosts: true\nfqdn: web.example.com\n"
        "user: alice\npassword: $6$abc$hash\nssh_authorized_keys:\n"
        "  - ssh-ed25519 AAAA a@b\n  - ssh-rsa BBBB c@d\n"
        "chpasswd:\n  expire: False\nusers:\n  - default\n",
    ),
    (
        "a dotted name is the fqdn; root keeps root login and no default user",
        {"name": "db.corp.example", "ciuser": "root"},
        "#cloud-config\nhostname: db\nmanage_etc_hosts: true\nfqdn: db.corp.example\n"
        "user: root\ndisable_root: False\nchpasswd:\n  expire: False\n"
        "package_upgrade: true\n",
    ),
]


@pytest.mark.parametrize(("desc", "conf", "expected"), USER_CASES, ids=[c[0] for c in USER_CASES])
def test_user_data(desc: str, conf: dict[str, str], expected: str) -> None:
    assert cloudinit.user_data(conf, 100) == expected


def test_clear_password_is_hashed_stably() -> None:
    conf = {"cipassword": "hunter22"}
    line = next(x for x in cloudinit.user_data(conf, 100).splitlines() if x.startswith("password"))
    hashed = line.split(": ", 1)[1]
    assert hashed.startswith("$6$")
    salt = hashed.split("$")[2]
    assert sha512_crypt("hunter22", salt) == hashed
    assert cloudinit.user_data(conf, 100) == cloudinit.user_data(conf, 100)
    # Windows (cloudbase-init) gets the password as it is
    assert "password: hunter22" in cloudinit.user_data({**conf, "ostype": "win11"}, 100)


NET_CASES: list[tuple[str, dict[str, str], cloudinit.HostDns, str]] = [
    (
        "static v4 with gateway, dhcp6, explicit DNS",
        {
            "net0": f"virtio={MAC},bridge=vmbr0",
            "ipconfig0": "ip=192.0.2.10/24,gw=192.0.2.1,ip6=dhcp",
            "nameserver": "1.1.1.1 9.9.9.9",
            "searchdomain": "example.com",
        },
        NO_HOST_DNS,
        "version: 1\nconfig:\n"
        "    - type: physical\n      name: eth0\n      mac_address: 'bc:24:11:2c:69:ec'\n"
        "      subnets:\n      - type: static\n        address: '192.0.2.10'\n"
        "        netmask: '255.255.255.0'\n        gateway: '192.0.2.1'\n"
        "      - type: dhcp6\n"
        "    - type: nameserver\n      address:\n      - '1.1.1.1'\n      - '9.9.9.9'\n"
        "      search:\n      - 'example.com'\n",
    ),
    (
        "dhcp v4 + static v6 on net1; net0 without ipconfig is left out; host DNS",
        {
            "net0": f"e1000={MAC},bridge=vmbr0",
            "net1": "virtio=BC:24:11:00:00:01,bridge=vmbr1",
            "ipconfig1": "ip=dhcp,ip6=2001:db8::5/64,gw6=2001:db8::1",
        },
        HOST_DNS,
        "version: 1\nconfig:\n"
        "    - type: physical\n      name: eth1\n      mac_address: 'bc:24:11:00:00:01'\n"
        "      subnets:\n      - type: dhcp4\n      - type: static6\n"
        "        address: '2001:db8::5/64'\n        gateway: '2001:db8::1'\n"
        "    - type: nameserver\n      address:\n      - '192.0.2.53'\n"
        "      search:\n      - 'host.lan'\n",
    ),
    (
        "SLAAC only, no DNS anywhere",
        {"net0": f"virtio={MAC}", "ipconfig0": "ip6=auto"},
        NO_HOST_DNS,
        "version: 1\nconfig:\n"
        "    - type: physical\n      name: eth0\n      mac_address: 'bc:24:11:2c:69:ec'\n"
        "      subnets:\n      - type: ipv6_slaac\n",
    ),
]


@pytest.mark.parametrize(
    ("desc", "conf", "dns", "expected"), NET_CASES, ids=[c[0] for c in NET_CASES]
)
def test_nocloud_network(
    desc: str, conf: dict[str, str], dns: cloudinit.HostDns, expected: str
) -> None:
    assert cloudinit.nocloud_network(conf, dns) == expected


CITYPE_CASES = [
    ({}, "nocloud"),
    ({"ostype": "l26"}, "nocloud"),
    ({"ostype": "win10"}, "configdrive2"),
    ({"ostype": "win10", "citype": "nocloud"}, "nocloud"),
    ({"citype": "configdrive2"}, "configdrive2"),
]


@pytest.mark.parametrize(("conf", "expected"), CITYPE_CASES)
def test_citype(conf: dict[str, str], expected: str) -> None:
    assert cloudinit.citype(conf) == expected


def test_nocloud_meta_and_instance_id() -> None:
    conf = {"name": "a", "net0": f"virtio={MAC}", "ipconfig0": "ip=dhcp"}
    one = cloudinit.generate(100, conf, fallback=NO_HOST_DNS)
    assert one.meta == f"instance-id: {one.instance_id}\n"
    assert len(one.instance_id) == 40
    assert set(one.files) == {"user-data", "meta-data", "network-config", "vendor-data"}
    same = cloudinit.generate(100, conf, fallback=NO_HOST_DNS)
    changed = cloudinit.generate(100, {**conf, "name": "b"}, fallback=NO_HOST_DNS)
    assert same.instance_id == one.instance_id != changed.instance_id


def test_cicustom_replaces_parts() -> None:
    custom = {"user": "#cloud-config\nruncmd: [true]\n", "meta": "instance-id: fixed\n"}
    data = cloudinit.generate(100, {}, custom, fallback=NO_HOST_DNS)
    assert data.user == custom["user"]
    assert data.meta == "instance-id: fixed\n"
    assert data.network == "version: 1\nconfig:\n"


def test_configdrive2_files() -> None:
    conf = {
        "ostype": "win11",
        "name": "win",
        "cipassword": "Clear-Pass1",
        "net0": f"virtio={MAC}",
        "ipconfig0": "ip=192.0.2.10/24,gw=192.0.2.1",
        "nameserver": "192.0.2.53",
    }
    data = cloudinit.generate(100, conf, fallback=NO_HOST_DNS)
    assert data.citype == "configdrive2"
    assert set(data.files) == {
        "openstack/latest/user_data",
        "openstack/latest/meta_data.json",
        "openstack/latest/network_data.json",
        "openstack/content/0000",
    }
    meta = json.loads(data.files["openstack/latest/meta_data.json"])
    assert meta["uuid"] == data.instance_id
    assert meta["network_config"] == {"content_path": "/content/0000"}
    assert meta["admin_pass"] == "Clear-Pass1"
    eni = data.files["openstack/content/0000"]
    assert "iface eth0 inet static\n        address 192.0.2.10\n" in eni
    assert "        netmask 255.255.255.0\n        gateway 192.0.2.1\n" in eni
    assert "dns_nameservers 192.0.2.53" in eni
    netdata = json.loads(data.files["openstack/latest/network_data.json"])
    assert netdata["links"] == [{"id": "eth0", "type": "phy", "ethernet_mac_address": MAC.lower()}]
    assert netdata["networks"][0]["ip_address"] == "192.0.2.10"
    assert netdata["services"] == [{"type": "dns", "address": "192.0.2.53"}]


def test_nic_without_mac_is_an_error() -> None:
    with pytest.raises(ValueError, match="no MAC"):
        cloudinit.generate(100, {"net0": "virtio", "ipconfig0": "ip=dhcp"})


def _read_iso(image: bytes) -> tuple[str, dict[str, bytes]]:
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(image))
    try:
        label = iso.pvd.volume_identifier.decode().strip()
        files: dict[str, bytes] = {}
        for dirname, _dirs, names in iso.walk(rr_path="/"):
            for name in names:
                path = f"{dirname.rstrip('/')}/{name}"
                out = io.BytesIO()
                iso.get_file_from_iso_fp(out, rr_path=path)
                files[path.lstrip("/")] = out.getvalue()
        joliet = {
            c.file_identifier().decode("utf-16-be") for c in iso.list_children(joliet_path="/")
        }
        assert joliet >= {n.split("/")[0] for n in files}
        return label, files
    finally:
        iso.close()


@pytest.mark.parametrize("kind", ["nocloud", "configdrive2"])
def test_iso_image(kind: str) -> None:
    conf = {"citype": kind, "net0": f"virtio={MAC}", "ipconfig0": "ip=dhcp"}
    data = cloudinit.generate(100, conf, fallback=NO_HOST_DNS)
    label = {"nocloud": "cidata", "configdrive2": "config-2"}[kind]
    got_label, files = _read_iso(build_iso(label, data.files))
    assert got_label == label
    assert files == {path: text.encode() for path, text in data.files.items()}


def test_drive_key_and_pending() -> None:
    conf = {
        "ide0": "local:iso/x.iso,media=cdrom",
        "ide2": "local:100/vm-100-cloudinit.qcow2,media=cdrom",
        "ciuser": "alice",
        "ipconfig0": "ip=dhcp",
        "cipassword": "x",
    }
    assert drive_key(conf) == "ide2"
    assert drive_key({"ide2": "local:iso/x.iso,media=cdrom"}) is None
    cfg = VmConfig(main=dict(conf))
    cfg.special["cloudinit"] = snapshot(conf)
    cfg.main["ciuser"] = "bob"
    cfg.main["nameserver"] = "192.0.2.53"
    del cfg.main["ipconfig0"]
    got: list[dict[str, Any]] = pending(cfg)
    assert got == [
        {"key": "cipassword", "value": "**********"},
        {"key": "ciuser", "value": "alice", "pending": "bob"},
        {"key": "ipconfig0", "delete": 1},
        {"key": "nameserver", "pending": "192.0.2.53"},
    ]
