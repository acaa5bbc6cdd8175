"""The realm registry, ``domains.cfg`` parsing/rendering and the realm edit functions."""

from __future__ import annotations

from typing import Any

import pytest

from pyxis.access import realms, realmstore
from pyxis.errors import ParamError

BASE = "pam: pam\n\tcomment Linux PAM\n\npve: pve\n\tcomment local\n\tdefault 1\n\n"


@pytest.mark.parametrize(
    ("text", "expected", "warned"),
    [
        (
            "",
            {
                "pam": {"type": "pam", "comment": realms.REALM_TYPES["pam"].description},
                "pve": {"type": "pve", "comment": realms.REALM_TYPES["pve"].description},
            },
            0,
        ),
        (
            BASE,
            {
                "pam": {"type": "pam", "comment": "Linux PAM"},
                "pve": {"type": "pve", "comment": "local", "default": 1},
            },
            0,
        ),
        (BASE + "pve: other\n\tcomment x\n", None, 1),
        (BASE.replace("default 1", "default maybe"), None, 1),
        (BASE + "pam: pam2\n", None, 1),
        (BASE + "weird: w1\n\tfoo bar\n", None, 1),
    ],
    ids=["empty", "builtins", "second-pve", "bad-bool", "misnamed-singleton", "unknown-type"],
)
def test_parse_domains(text: str, expected: dict[str, Any] | None, warned: int) -> None:
    warnings: list[str] = []
    cfg = realms.parse_domains(text, warnings=warnings)
    assert len(warnings) == warned, warnings
    assert {"pam", "pve"} <= set(cfg.ids)
    if expected is not None:
        assert cfg.ids == expected
    assert cfg.order[:2] == ["pam", "pve"]


def test_unknown_type_survives_a_round_trip() -> None:
    text = BASE + "weird: w1\n\tfoo bar\n\n"
    assert realms.render_domains(realms.parse_domains(text)) == text


def test_render_round_trip() -> None:
    cfg = realms.parse_domains(BASE)
    assert realms.render_domains(cfg) == BASE


def test_registry_rejects_unknown_options_and_types() -> None:
    with pytest.raises(ValueError, match="not part of the API"):
        realms.register_type(realms.RealmType("kerberos", realms.common_options()))
    with pytest.raises(ValueError, match="not in PROPERTIES"):
        realms.register_type(realms.RealmType("ldap", realms.common_options(bogus=realms.Option())))
    with pytest.raises(ParamError):
        realms.realm_type("nope")


@pytest.fixture
def fake_type() -> Any:
    """A temporary 'ad' type with a required, a fixed, a secret and a transient option."""
    saved = realms.REALM_TYPES.get("ad")
    realms.register_type(
        realms.RealmType(
            "ad",
            realms.common_options(
                server1=realms.Option(optional=False),
                domain=realms.Option(fixed=True),
                password=realms.Option(secret=True),
                port=realms.Option(),
                **{"check-connection": realms.Option(transient=True)},
            ),
        )
    )
    yield
    if saved is None:
        del realms.REALM_TYPES["ad"]
    else:
        realms.REALM_TYPES["ad"] = saved


def test_create_update_delete(fake_type: Any) -> None:
    cfg = realms.parse_domains(BASE)
    edit = realmstore.create_realm(
        cfg,
        "corp",
        "ad",
        {
            "server1": "dc1",
            "domain": "corp.example",
            "password": "pw",
            "default": 1,
            "check-connection": 1,
        },
    )
    assert edit.secrets == {"password": "pw"} and edit.transient == {"check-connection": 1}
    assert cfg.ids["corp"] == {
        "type": "ad",
        "server1": "dc1",
        "domain": "corp.example",
        "default": 1,
    }
    assert "default" not in cfg.ids["pve"]
    assert "password" not in realms.render_domains(cfg)
    edit = realmstore.update_realm(cfg, "corp", {"port": 636}, ["password"])
    assert edit.secrets == {"password": None} and cfg.ids["corp"]["port"] == 636
    realmstore.delete_realm(cfg, "corp")
    assert "corp" not in cfg.ids


@pytest.mark.parametrize(
    ("op", "field"),
    [
        (lambda c: realmstore.create_realm(c, "corp", "ad", {"domain": "x"}), "server1"),
        (lambda c: realmstore.create_realm(c, "pve", "ad", {"server1": "a"}), "realm"),
        (lambda c: realmstore.create_realm(c, "p2", "pam", {}), "type"),
        (
            lambda c: realmstore.create_realm(c, "corp", "ad", {"server1": "a", "filter": "x"}),
            "filter",
        ),
        (lambda c: realmstore.update_realm(c, "pve", {"server1": "x"}, []), "server1"),
        (lambda c: realmstore.update_realm(c, "nope", {}, []), "realm"),
        (lambda c: realmstore.update_realm(c, "pve", {"comment": "a"}, ["comment"]), "comment"),
        (lambda c: realmstore.delete_realm(c, "pam"), "realm"),
    ],
    ids=[
        "missing-required",
        "exists",
        "singleton",
        "foreign-option",
        "update-foreign",
        "update-missing",
        "set-and-delete",
        "delete-builtin",
    ],
)
def test_edit_errors(fake_type: Any, op: Any, field: str) -> None:
    cfg = realms.parse_domains(BASE)
    before = realms.render_domains(cfg)
    with pytest.raises(ParamError) as exc:
        op(cfg)
    assert field in exc.value.errors
    assert realms.render_domains(cfg) == before


def test_fixed_option_cannot_change(fake_type: Any) -> None:
    cfg = realms.parse_domains(BASE)
    realmstore.create_realm(cfg, "corp", "ad", {"server1": "a", "domain": "d"})
    with pytest.raises(ParamError) as exc:
        realmstore.update_realm(cfg, "corp", {"domain": "other"}, [])
    assert "domain" in exc.value.errors


def test_tfa_format() -> None:
    rec = realms.realm_record("pve", {"type": "pve", "tfa": "type=oath,step=30"})
    assert rec == {"realm": "pve", "type": "pve", "tfa": "oath"}
