"""user.cfg, token.cfg and shadow.cfg parsing and rendering."""

from __future__ import annotations

import pytest

from pyxis.access import usercfg
from pyxis.access.usercfg import PathAcl, Token, User, UserCfg

CANONICAL = """\
user:alice@pve:1:0:Alice:M%C3%BCller:alice@example.com:ops%3A on call:x:
token:alice@pve!ci:1893456000:1:pipeline token:
token:alice@pve!full:0:0::
user:bob@pve:0:1700000000::::::
user:carol@ldap:1:0:Carol::carol@example.com:50%25 time::
user:root@pam:1:0:::root@example.com:::

group:admins:root@pam::
group:ops:alice@pve,bob@pve:Operations team:

pool:dev:Development:100,101,102:local,nfs-iso:
pool:prod::200::

role:Backup-Operator:Datastore.AllocateSpace,Datastore.Audit,VM.Audit,VM.Backup:
role:NoPriv::

acl:0:/:carol@ldap:PVEAuditor:
acl:1:/:@admins:Administrator:
acl:1:/pool/dev:@ops,alice@pve!ci:PVEVMAdmin:
acl:1:/storage/local:alice@pve,bob@pve:Backup-Operator,PVEDatastoreUser:
acl:1:/vms/100:bob@pve:NoAccess:
"""


def test_round_trip_is_identical() -> None:
    cfg = usercfg.parse_user_cfg(CANONICAL)
    assert cfg.warnings == []
    assert usercfg.render_user_cfg(cfg) == CANONICAL


def test_parsed_content() -> None:
    cfg = usercfg.parse_user_cfg(CANONICAL)
    alice = cfg.users["alice@pve"]
    assert alice == User(
        enable=True,
        expire=0,
        firstname="Alice",
        lastname="Müller",
        email="alice@example.com",
        comment="ops: on call",
        keys="x",
        tokens={"ci": Token(1893456000, True, "pipeline token"), "full": Token(0, False, "")},
    )
    assert cfg.users["bob@pve"].enable is False
    assert cfg.users["carol@ldap"].comment == "50% time"
    assert cfg.groups["ops"].users == {"alice@pve", "bob@pve"}
    assert cfg.groups_of("alice@pve") == {"ops"}
    assert cfg.roles == {
        "Backup-Operator": {"Datastore.AllocateSpace", "Datastore.Audit", "VM.Audit", "VM.Backup"},
        "NoPriv": set(),
    }
    assert cfg.pools["dev"].vms == {100, 101, 102}
    assert cfg.pools["dev"].storage == {"local", "nfs-iso"}
    assert cfg.pool_of_vm(200) == "prod"
    assert cfg.pools_of_storage("local") == ["dev"]
    assert cfg.acls["/"] == PathAcl(
        users={"carol@ldap": {"PVEAuditor": False}}, groups={"admins": {"Administrator": True}}
    )
    assert cfg.acls["/pool/dev"].tokens == {"alice@pve!ci": {"PVEVMAdmin": True}}
    assert cfg.acls["/storage/local"].users["bob@pve"] == {
        "Backup-Operator": True,
        "PVEDatastoreUser": True,
    }


UPSTREAM_STYLE = """\
# written by hand, records out of order
acl:1:/vms/100/:alice@pve:PVEVMUser:
acl:1://vms//101:@ops:PVEVMUser:
acl:1:/:ghost@pve:PVEAdmin:
acl:1:/:alice@pve:NoSuchRole:
acl:1:/:alice@pve!nosuch:PVEAdmin:
acl:1:bad path!:alice@pve:PVEAdmin:
group:ops:alice@pve,ghost@pve:team:
user:alice@pve:1:0::::::
token:ghost@pve!t1:0:1::
role:PVEAdmin:VM.Audit:
role:Custom:VM.Audit,VM.Monitor:
pool:a::100:::
pool:b::100,abc:::
frobnicate:x:
"""


def test_lenient_parse_warns_and_drops() -> None:
    cfg = usercfg.parse_user_cfg(UPSTREAM_STYLE)
    assert set(cfg.users) == {"alice@pve", "root@pam"}  # root@pam is always present
    assert cfg.groups["ops"].users == {"alice@pve"}
    assert sorted(cfg.acls) == ["/vms/100", "/vms/101"]
    assert cfg.acls["/vms/100"].users == {"alice@pve": {"PVEVMUser": True}}
    assert "PVEAdmin" not in cfg.roles  # built-in names cannot be redefined
    assert cfg.roles["Custom"] == {"VM.Audit"}  # VM.Monitor no longer exists
    assert cfg.pools["a"].vms == {100}
    assert cfg.pools["b"].vms == set()  # a VM belongs to one pool only
    text = "\n".join(cfg.warnings)
    for needle in (
        "ghost@pve",
        "NoSuchRole",
        "alice@pve!nosuch",
        "bad path!",
        "PVEAdmin",
        "VM.Monitor",
        "already belongs",
        "abc",
        "frobnicate",
    ):
        assert needle in text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/", "/"),
        ("", None),
        ("//", "/"),
        ("/vms/100/", "/vms/100"),
        ("vms//100", "/vms/100"),
        ("/storage/local-lvm", "/storage/local-lvm"),
        ("/vms/10 0", None),
        ("/pool/a:b", None),
    ],
)
def test_normalize_path(raw: str, expected: str | None) -> None:
    assert usercfg.normalize_path(raw) == expected


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ("plain text", "plain text"),
        ("a:b", "a%3Ab"),
        ("100%", "100%25"),
        ("Grüße", "Gr%C3%BC%C3%9Fe"),
        ("line\nbreak", "line%0Abreak"),
    ],
)
def test_text_encoding(text: str, encoded: str) -> None:
    assert usercfg.encode_text(text) == encoded
    assert usercfg.decode_text(encoded) == text


def test_user_and_token_validity() -> None:
    cfg = usercfg.parse_user_cfg(CANONICAL)
    now = 1_750_000_000
    assert cfg.user_enabled("alice@pve", now)
    assert not cfg.user_enabled("bob@pve", now)  # disabled (and expired)
    assert not cfg.user_enabled("nobody@pve", now)
    assert cfg.token_valid("alice@pve!ci", now)
    assert not cfg.token_valid("alice@pve!ci", 1893456001)  # token expired
    assert not cfg.token_valid("alice@pve!nope", now)


def test_deletions_keep_references_consistent() -> None:
    cfg = usercfg.parse_user_cfg(CANONICAL)
    cfg.delete_user("alice@pve")
    assert "alice@pve" not in cfg.groups["ops"].users
    assert "/pool/dev" in cfg.acls and cfg.acls["/pool/dev"].tokens == {}
    cfg.delete_group("ops")
    assert "/pool/dev" not in cfg.acls
    cfg.delete_role("Backup-Operator")
    assert cfg.acls["/storage/local"].users == {"bob@pve": {"PVEDatastoreUser": True}}
    cfg.delete_pool("dev")
    assert "dev" not in cfg.pools
    cfg.delete_token("nobody@pve!x")  # unknown ids are ignored
    reparsed = usercfg.parse_user_cfg(usercfg.render_user_cfg(cfg))
    assert reparsed.warnings == []
    assert usercfg.render_user_cfg(reparsed) == usercfg.render_user_cfg(cfg)


def test_built_model_renders() -> None:
    cfg = UserCfg()
    cfg.users["root@pam"] = User()
    cfg.users["dave@pve"] = User(comment="new")
    cfg.acl("/vms/300").users["dave@pve"] = {"PVEVMUser": True, "PVEAuditor": False}
    text = usercfg.render_user_cfg(cfg)
    assert "acl:0:/vms/300:dave@pve:PVEAuditor:\nacl:1:/vms/300:dave@pve:PVEVMUser:\n" in text
    assert usercfg.render_user_cfg(usercfg.parse_user_cfg(text)) == text


TOKEN_CFG = """\
alice@pve!ci 0b1f36b2-7e43-4a19-9c55-5c3c0e6a1f2d
root@pam!automation 5d7c1e2e-0000-4a19-9c55-5c3c0e6a1f2d
"""


def test_token_cfg_round_trip() -> None:
    secrets = usercfg.parse_token_cfg(TOKEN_CFG + "garbage line here\nnot-a-token x\n")
    assert secrets == {
        "alice@pve!ci": "0b1f36b2-7e43-4a19-9c55-5c3c0e6a1f2d",
        "root@pam!automation": "5d7c1e2e-0000-4a19-9c55-5c3c0e6a1f2d",
    }
    assert usercfg.render_token_cfg(secrets) == TOKEN_CFG


SHADOW_CFG = """\
alice@pve:$6$salt$hash:
bob@pve:$5$abc$def:
"""


def test_shadow_cfg_round_trip() -> None:
    hashes = usercfg.parse_shadow_cfg(SHADOW_CFG + "\nbroken\n")
    assert hashes == {"alice@pve": "$6$salt$hash", "bob@pve": "$5$abc$def"}
    assert usercfg.render_shadow_cfg(hashes) == SHADOW_CFG
