"""The command-line tools against a real pyxisd: pvesm, pveum, pvesh and pyxis.

Each tool is run as a subprocess with ``PYXIS_ROOT`` pointing at the daemon's root, as
an operator's shell would; exit codes, stdout and stderr are all part of the contract.
Success is 0, a rejected request 255 (upstream's exit code for a failed API call) and
a usage error 2.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from daemon import ADMIN, Daemon, run_cli

from pyxis.cli.client import LocalClient

pytestmark = pytest.mark.system

API_FAILED = 255
USAGE = 2


def fails(d: Daemon, *argv: str, code: int = API_FAILED, input: str | None = None) -> str:
    """Run a CLI that must fail with ``code``; return its stderr."""
    res = d.cli(*argv, input=input)
    assert res.returncode == code, (res.returncode, res.stdout, res.stderr)
    assert res.stderr.strip(), "a failure must say why on stderr"
    return res.stderr


def api(d: Daemon) -> LocalClient:
    """In-process client for checks whose subject is not the CLI (saves a process each)."""
    return LocalClient(str(d.root))


def table(text: str) -> list[dict[str, str]]:
    """Parse the CLIs' whitespace-aligned text tables (no empty cells in checked columns)."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    head = lines[0].split()
    return [dict(zip(head, ln.split(), strict=False)) for ln in lines[1:]]


# -- pvesm -----------------------------------------------------------------------------


def test_pvesm_add_set_remove(module_daemon: Daemon, tmp_path: Path) -> None:
    d = module_daemon
    path = tmp_path / "cli-store"
    assert d.ok("pvesm", "add", "dir", "clistore", "--path", str(path), "--content", "iso") == ""
    assert (path / "template" / "iso").is_dir()
    cfg = api(d).call("GET", "/storage/clistore")
    assert cfg["type"] == "dir"
    assert cfg["path"] == str(path)
    assert cfg["content"] == "iso"

    err = fails(d, "pvesm", "add", "dir", "clistore", "--path", str(path))
    assert "clistore" in err and "already" in err

    d.ok("pvesm", "set", "clistore", "--content", "iso,images", "--disable", "1")
    cfg = api(d).call("GET", "/storage/clistore")
    assert set(cfg["content"].split(",")) == {"iso", "images"}
    assert int(cfg["disable"]) == 1
    d.ok("pvesm", "set", "clistore", "--delete", "disable")
    cfg = api(d).call("GET", "/storage/clistore")
    assert "disable" not in cfg

    d.ok("pvesm", "remove", "clistore")
    storages = api(d).call("GET", "/storage")
    assert "clistore" not in {s["storage"] for s in storages}
    assert "clistore" in fails(d, "pvesm", "remove", "clistore")
    assert "does-not-exist" in fails(d, "pvesm", "set", "does-not-exist", "--content", "iso")


@pytest.mark.parametrize(
    ("argv", "param"),
    [
        (["add", "dir", "bad!id", "--path", "/tmp/x"], "storage"),
        (["add", "dir", "okid", "--path", "/tmp/x", "--bogus", "1"], "bogus"),
        (["add", "nosuchtype", "okid", "--path", "/tmp/x"], "type"),
        (["add", "dir", "okid", "--path", "/tmp/x", "--content", "nonsense"], "content"),
        (["set", "local", "--shared=maybe"], "shared"),
        (["alloc", "local", "100", "vm-101-disk-0", "1M"], "filename"),
        (["alloc", "local", "100", "vm-100-disk-0", "sixteen"], "size"),
        (["alloc", "local", "99", "vm-99-disk-0", "1M"], "vmid"),
        (["list", "local", "--content", "nonsense"], "content"),
    ],
    ids=lambda v: v if isinstance(v, str) else " ".join(v[:2]),
)
def test_pvesm_rejects_bad_input(module_daemon: Daemon, argv: list[str], param: str) -> None:
    err = fails(module_daemon, "pvesm", *argv)
    assert "Parameter verification failed." in err
    assert re.search(rf"^{re.escape(param)}: ", err, re.M), err


def test_pvesm_usage_errors(module_daemon: Daemon) -> None:
    d = module_daemon
    assert "missing argument" in fails(d, "pvesm", "alloc", "local", "100", code=USAGE)
    assert "unknown command" in fails(d, "pvesm", "frobnicate", code=USAGE)
    assert "volume ID" in fails(d, "pvesm", "path", "no-colon-here", code=USAGE)
    res = d.cli("pvesm", "help")
    assert res.returncode == 0
    for sub in ("add", "set", "remove", "status", "list", "alloc", "free", "path"):
        assert re.search(rf"^\s+{sub}$", res.stdout, re.M), sub


def test_pvesm_status(module_daemon: Daemon) -> None:
    d = module_daemon
    rows = {r["Name"]: r for r in table(d.ok("pvesm", "status"))}
    assert rows["local"]["Type"] == "dir"
    assert rows["local"]["Status"] == "active"
    assert int(rows["local"]["Total"]) > 0
    assert rows["local"]["%"].endswith("%")
    data = json.loads(d.ok("pvesm", "status", "--output-format", "json"))
    local = next(s for s in data if s["storage"] == "local")
    assert local["active"] == 1
    assert int(rows["local"]["Total"]) == local["total"] // 1024


def test_pvesm_alloc_list_path_free(module_daemon: Daemon) -> None:
    d = module_daemon
    out = d.ok("pvesm", "alloc", "local", "200", "vm-200-disk-0", "16M", "--format", "qcow2")
    volid = "local:200/vm-200-disk-0.qcow2"
    assert out.strip() == volid
    raw = d.ok("pvesm", "alloc", "local", "200", "vm-200-disk-1", "1M").strip()
    assert raw == "local:200/vm-200-disk-1.raw"
    err = fails(d, "pvesm", "alloc", "local", "200", "vm-200-disk-0", "16M", "--format", "qcow2")
    assert "already exists" in err

    rows = {r["Volid"]: r for r in table(d.ok("pvesm", "list", "local", "--vmid", "200"))}
    assert set(rows) == {volid, raw}
    assert rows[volid]["Format"] == "qcow2"
    assert rows[volid]["Type"] == "images"
    assert rows[volid]["Size"] == str(16 * 1024 * 1024)
    assert rows[volid]["VMID"] == "200"
    listed = json.loads(d.ok("pvesm", "list", "local", "--output-format", "json"))
    assert {volid, raw} <= {v["volid"] for v in listed}

    path = Path(d.ok("pvesm", "path", volid).strip())
    assert path == d.root / "var/lib/vz/images/200/vm-200-disk-0.qcow2"
    assert path.is_relative_to(d.root)
    assert path.is_file()

    # free follows its task to the end: the file is gone once the command returns
    d.ok("pvesm", "free", volid)
    assert not path.exists()
    assert fails(d, "pvesm", "path", volid)
    assert fails(d, "pvesm", "free", volid)
    d.ok("pvesm", "free", raw)
    assert not path.parent.exists()
    assert "VMID" not in d.ok("pvesm", "list", "local", "--vmid", "200")


# -- pveum -----------------------------------------------------------------------------


def test_pveum_user_lifecycle(module_daemon: Daemon) -> None:
    d = module_daemon
    d.ok(
        "pveum", "user", "add", "carol@pve", "--email", "carol@example.com", "--firstname", "Carol"
    )
    rows = {r["userid"]: r for r in table(d.ok("pveum", "user", "list"))}
    assert "root@pam" in rows
    assert rows["carol@pve"]["enable"] == "1"
    users = json.loads(d.ok("pveum", "user", "list", "--output-format", "json"))
    carol = next(u for u in users if u["userid"] == "carol@pve")
    assert carol["email"] == "carol@example.com"
    assert carol["firstname"] == "Carol"

    assert "carol@pve" in fails(d, "pveum", "user", "add", "carol@pve")
    assert "userid" in fails(d, "pveum", "user", "add", "no-realm")

    d.ok("pveum", "user", "modify", "carol@pve", "--email", "c2@example.com", "--enable", "0")
    users = api(d).call("GET", "/access/users")
    carol = next(u for u in users if u["userid"] == "carol@pve")
    assert carol["email"] == "c2@example.com"
    assert carol["enable"] == 0

    d.ok("pveum", "user", "delete", "carol@pve")
    users = api(d).call("GET", "/access/users")
    assert "carol@pve" not in {u["userid"] for u in users}
    assert "carol@pve" in fails(d, "pveum", "user", "delete", "carol@pve")


def test_pveum_passwd_reads_stdin(module_daemon: Daemon) -> None:
    d = module_daemon
    api(d).call("POST", "/access/users", {"userid": "dave@pve"})
    assert d.ok("pveum", "passwd", "dave@pve", input="dave-pw-12345\n") == ""
    tickets = d.cli(
        "pvesh",
        "create",
        "/access/ticket",
        "--username",
        "dave@pve",
        "--password",
        "dave-pw-12345",
        "--output-format",
        "json",
    )
    assert tickets.returncode == 0, tickets.stderr
    assert json.loads(tickets.stdout)["username"] == "dave@pve"
    wrong = d.cli("pvesh", "create", "/access/ticket", "--username", "dave@pve", "--password", "x")
    assert wrong.returncode == API_FAILED
    assert "password" in fails(d, "pveum", "passwd", "dave@pve", input="short\n")


def test_pveum_acl_and_roles(module_daemon: Daemon) -> None:
    d = module_daemon
    roles = {
        r["roleid"]: r for r in json.loads(d.ok("pveum", "role", "list", "--output-format", "json"))
    }
    assert {"Administrator", "NoAccess", "PVEAuditor", "PVEVMAdmin"} <= set(roles)
    assert "Datastore.Allocate" in roles["Administrator"]["privs"]
    assert "roleid" in d.ok("pveum", "role", "list").splitlines()[0]

    api(d).call("POST", "/access/users", {"userid": "erin@pve"})
    d.ok("pveum", "acl", "modify", "/storage/local", "--users", "erin@pve", "--roles", "PVEAuditor")
    acl = json.loads(d.ok("pveum", "acl", "list", "--output-format", "json"))
    mine = [a for a in acl if a["ugid"] == "erin@pve"]
    assert mine == [
        {
            "path": "/storage/local",
            "type": "user",
            "ugid": "erin@pve",
            "roleid": "PVEAuditor",
            "propagate": 1,
        }
    ]
    text = d.ok("pveum", "acl", "list")
    assert re.search(r"^/storage/local\s+user\s+erin@pve\s+PVEAuditor\s+1$", text, re.M)
    assert any(a["ugid"] == ADMIN and a["path"] == "/" for a in acl)

    assert "roles" in fails(
        d, "pveum", "acl", "modify", "/", "--users", "erin@pve", "--roles", "NoSuchRole"
    )
    d.ok("pveum", "acl", "delete", "/storage/local", "--users", "erin@pve", "--roles", "PVEAuditor")
    acl = api(d).call("GET", "/access/acl")
    assert not [a for a in acl if a["ugid"] == "erin@pve"]


def test_pveum_token_secret_shown_once(module_daemon: Daemon) -> None:
    d = module_daemon
    api(d).call("POST", "/access/users", {"userid": "frank@pve"})
    out = d.ok("pveum", "user", "token", "add", "frank@pve", "ci", "--privsep", "0")
    assert "full-tokenid: frank@pve!ci" in out
    secret = re.search(r"^value: (\S+)$", out, re.M)
    assert secret is not None
    uuid.UUID(secret.group(1))

    listed = d.ok("pveum", "user", "token", "list", "frank@pve", "--output-format", "json")
    assert secret.group(1) not in listed
    tokens = json.loads(listed)
    assert [t["tokenid"] for t in tokens] == ["ci"]
    assert tokens[0]["privsep"] == 0
    assert "ci" in fails(d, "pveum", "user", "token", "add", "frank@pve", "ci")
    d.ok("pveum", "user", "token", "remove", "frank@pve", "ci")
    assert api(d).call("GET", "/access/users/frank@pve/token") == []


# -- pvesh -----------------------------------------------------------------------------


def test_pvesh_get_formats(module_daemon: Daemon) -> None:
    d = module_daemon
    text = d.ok("pvesh", "get", "/version")
    assert re.search(r"^release\s+: \S+", text, re.M)
    assert re.search(r"^version\s+: \S+", text, re.M)

    nodes = json.loads(d.ok("pvesh", "get", "/nodes", "--output-format", "json"))
    assert [n["node"] for n in nodes] == [d.node]
    raw = d.ok("pvesh", "get", "/version", "--output-format", "json")
    assert "\n" not in raw.strip()
    pretty = d.ok("pvesh", "get", "/version", "--output-format", "json-pretty")
    assert pretty.startswith("{\n    ")
    assert json.loads(pretty) == json.loads(raw)
    assert "output format" in fails(
        d, "pvesh", "get", "/version", "--output-format", "yaml", code=USAGE
    )


def test_pvesh_create_set_delete(module_daemon: Daemon, tmp_path: Path) -> None:
    d = module_daemon
    path = tmp_path / "pvesh-store"
    args = ["--storage", "shstore", "--type", "dir", "--path", str(path), "--content", "iso"]
    out = d.ok("pvesh", "create", "/storage", *args)
    assert re.search(r"^storage\s+: shstore$", out, re.M)
    d.ok("pvesh", "set", "/storage/shstore", "--content", "images")
    cfg = api(d).call("GET", "/storage/shstore")
    assert cfg["content"] == "images"
    d.ok("pvesh", "delete", "/storage/shstore")
    assert "shstore" in fails(d, "pvesh", "get", "/storage/shstore")
    err = fails(d, "pvesh", "create", "/storage", "--storage", "b!d", "--type", "dir")
    assert "Parameter verification failed." in err
    assert re.search(r"^storage: ", err, re.M)


def test_pvesh_ls_and_usage(module_daemon: Daemon) -> None:
    d = module_daemon
    top = d.ok("pvesh", "ls", "/").split()
    assert {"access", "cluster", "nodes", "storage", "version"} <= set(top)
    assert d.ok("pvesh", "ls", "/nodes").split() == [d.node]
    assert {"storage", "tasks"} <= set(d.ok("pvesh", "ls", f"/nodes/{d.node}").split())
    assert "users" in d.ok("pvesh", "ls", "/access").split()
    assert "local" in d.ok("pvesh", "ls", "/storage").split()

    usage = d.ok("pvesh", "usage", "/storage")
    assert "GET /storage" in usage
    assert "POST /storage" in usage
    assert re.search(r"--storage <string>.* \(required\)", usage)
    assert re.search(r"--path <string>", usage)
    assert "/nope" in fails(d, "pvesh", "usage", "/nope", code=USAGE)


def test_pvesh_unknown_path(module_daemon: Daemon) -> None:
    err = fails(module_daemon, "pvesh", "get", "/nope")
    assert "not implemented" in err
    assert "/nope" in err
    fails(module_daemon, "pvesh", "get", "/storage/no-such-store")
    fails(module_daemon, "pvesh", "frob", "/version", code=USAGE)


def test_pyxis_version_and_api(module_daemon: Daemon) -> None:
    out = module_daemon.ok("pyxis", "version")
    assert re.fullmatch(r"pyxis \S+ \(API \d+\.\d+\)\n", out)
    api = json.loads(module_daemon.ok("pyxis", "api", "get", "/version", "--output-format", "json"))
    assert api["release"] in out


# -- no daemon -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["pvesh", "get", "/version"],
        ["pvesm", "status"],
        ["pveum", "user", "list"],
        ["pyxis", "api", "get", "/version"],
    ],
    ids=lambda argv: argv[0],
)
def test_cli_without_daemon_says_where_it_looked(tmp_path: Path, argv: list[str]) -> None:
    res = run_cli(tmp_path / "no-node-here", *argv)
    assert res.returncode != 0
    assert res.stdout == ""
    assert "PYXIS_ROOT" in res.stderr
    assert str(tmp_path / "no-node-here") in res.stderr
    assert "Traceback" not in res.stderr


def test_cli_root_option_overrides_environment(module_daemon: Daemon, tmp_path: Path) -> None:
    res = run_cli(tmp_path, "pvesh", "get", "/version", "--root", str(module_daemon.root))
    assert res.returncode == 0, res.stderr
    res = run_cli(tmp_path, "pvesm", "status", "--root", str(module_daemon.root))
    assert res.returncode == 0, res.stderr
    assert "local" in res.stdout
