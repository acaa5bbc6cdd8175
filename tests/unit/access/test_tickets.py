"""Tickets, TFA half tickets, key rotation, CSRF tokens and API-token headers."""

from __future__ import annotations

import re

import pytest

from pyxis.access import tickets
from pyxis.access.tickets import TicketSigner
from pyxis.errors import AuthError

NOW = 1_700_000_000


@pytest.fixture(scope="module")
def signer() -> TicketSigner:
    return TicketSigner.generate(NOW - 3600)


@pytest.fixture(scope="module")
def other_signer() -> TicketSigner:
    return TicketSigner.generate(NOW - 3600)


def test_ticket_format(signer: TicketSigner) -> None:
    ticket = signer.create_ticket("root@pam", NOW)
    assert re.fullmatch(r"PVE:root@pam:[0-9A-F]{8}::[A-Za-z0-9+/]+=*", ticket)
    assert ticket.split(":")[2] == f"{NOW:08X}"


def test_data_colons_are_escaped(signer: TicketSigner) -> None:
    ticket = signer.create_ticket("a:b@pve", NOW)
    assert ticket.startswith("PVE:a%3Ab@pve:")
    assert signer.verify_data(ticket, NOW) == ("a:b@pve", 0)


@pytest.mark.parametrize(
    ("offset", "ok"),
    [
        (-301, False),  # too far in the future even with clock skew
        (-299, True),
        (0, True),
        (3600, True),
        (7199, True),
        (7200, False),  # lifetime is exclusive
        (100_000, False),
    ],
)
def test_ticket_age_window(signer: TicketSigner, offset: int, ok: bool) -> None:
    ticket = signer.create_ticket("joe@pve", NOW)
    if ok:
        assert signer.verify_ticket(ticket, NOW + offset) == ("joe@pve", offset)
    else:
        with pytest.raises(AuthError, match="ticket expired"):
            signer.verify_ticket(ticket, NOW + offset)


def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


@pytest.mark.parametrize(
    ("description", "mangle"),
    [
        ("signature byte", lambda t: _flip(t, len(t) - 5)),
        ("other user", lambda t: t.replace("joe@pve", "root@pam")),
        ("other time", lambda t: t.replace(f"{NOW:08X}", f"{NOW + 60:08X}")),
        ("other prefix", lambda t: "PMG" + t[3:]),
        ("no signature", lambda t: t.split("::")[0]),
        ("empty", lambda t: ""),
        ("garbage", lambda t: "not a ticket"),
        ("lowercase hex time", lambda t: t.replace(f"{NOW:08X}", f"{NOW:08x}")),
        ("empty data", lambda t: "PVE::" + t.split(":", 2)[2]),
    ],
)
def test_tampered_tickets_are_invalid(signer: TicketSigner, description: str, mangle) -> None:
    ticket = mangle(signer.create_ticket("joe@pve", NOW))
    with pytest.raises(AuthError, match="invalid ticket"):
        signer.verify_ticket(ticket, NOW + 1)


def test_foreign_key_is_invalid(signer: TicketSigner, other_signer: TicketSigner) -> None:
    ticket = other_signer.create_ticket("joe@pve", NOW)
    with pytest.raises(AuthError, match="invalid ticket"):
        signer.verify_ticket(ticket, NOW)


def test_aad_must_match(signer: TicketSigner) -> None:
    ticket = signer.create_ticket("joe@pve", NOW, aad="secret")
    assert signer.verify_ticket(ticket, NOW, aad="secret")[0] == "joe@pve"
    for aad in (None, "other"):
        with pytest.raises(AuthError):
            signer.verify_ticket(ticket, NOW, aad=aad)


def test_verify_ticket_rejects_non_userid_data(signer: TicketSigner) -> None:
    with pytest.raises(AuthError):
        signer.verify_ticket(signer.create_ticket("nouser", NOW), NOW)
    with pytest.raises(AuthError):
        signer.verify_ticket(signer.create_ticket(None, NOW), NOW)


def test_tfa_half_ticket(signer: TicketSigner) -> None:
    challenge = '{"totp":true,"recovery":[0,1]}'
    half = signer.create_tfa_ticket(challenge, "joe@pve", NOW)
    assert "joe@pve" not in half
    assert signer.verify_tfa_ticket(half, "joe@pve", NOW + 30) == challenge
    with pytest.raises(AuthError):
        signer.verify_tfa_ticket(half, "eve@pve", NOW + 30)
    # a half ticket never counts as a login, with or without the AAD
    for aad in (None, "joe@pve"):
        with pytest.raises(AuthError):
            signer.verify_ticket(half, NOW + 30, aad=aad)
    with pytest.raises(AuthError):
        signer.verify_tfa_ticket(
            signer.create_ticket("joe@pve", NOW, aad="joe@pve"), "joe@pve", NOW
        )


def test_create_without_private_key(signer: TicketSigner) -> None:
    verifier = TicketSigner(None, signer.pub_pem)
    ticket = signer.create_ticket("joe@pve", NOW)
    assert verifier.verify_ticket(ticket, NOW)[0] == "joe@pve"
    with pytest.raises(AuthError):
        verifier.create_ticket("joe@pve", NOW)


def test_rotation_keeps_previous_key_only() -> None:
    first = TicketSigner.generate(NOW)
    t1 = first.create_ticket("joe@pve", NOW + 1000)
    second = first.rotated(NOW + 2000)
    t2 = second.create_ticket("joe@pve", NOW + 2100)
    assert second.verify_ticket(t1, NOW + 2200)[0] == "joe@pve"  # previous key still OK
    assert second.verify_ticket(t2, NOW + 2200)[0] == "joe@pve"
    third = second.rotated(NOW + 2300)
    with pytest.raises(AuthError, match="invalid ticket"):
        third.verify_ticket(t1, NOW + 2400)  # signed two keys ago
    assert third.verify_ticket(t2, NOW + 2400)[0] == "joe@pve"


def test_retired_key_cannot_mint_new_tickets() -> None:
    first = TicketSigner.generate(NOW)
    second = first.rotated(NOW + 1000)
    late = first.create_ticket("joe@pve", NOW + 1500)  # signed after the rotation
    with pytest.raises(AuthError, match="expired"):
        second.verify_ticket(late, NOW + 1600)
    within_grace = first.create_ticket("joe@pve", NOW + 1200)
    assert second.verify_ticket(within_grace, NOW + 1300)[0] == "joe@pve"


def test_ticket_cannot_predate_its_key() -> None:
    priv, pub = tickets.generate_keypair()
    signer = TicketSigner(priv, pub, pub_mtime=NOW)
    with pytest.raises(AuthError, match="expired"):
        signer.verify_ticket(signer.create_ticket("joe@pve", NOW - 1000), NOW + 10)
    assert signer.verify_ticket(signer.create_ticket("joe@pve", NOW - 200), NOW + 10)[1] == 210


@pytest.mark.parametrize(
    ("mtime", "expected"),
    [
        (None, True),
        (NOW - 86_399, False),
        (NOW - 86_400, True),
        (NOW + 300, False),
        (NOW + 301, True),  # created by a node whose clock ran ahead
    ],
)
def test_needs_rotation(mtime: int | None, expected: bool) -> None:
    assert tickets.needs_rotation(mtime, NOW) is expected


def test_cache_still_enforces_expiry(monkeypatch: pytest.MonkeyPatch) -> None:
    signer = TicketSigner.generate(NOW - 3600)
    ticket = signer.create_ticket("joe@pve", NOW)
    assert signer.verify_ticket(ticket, NOW + 10)[1] == 10
    calls: list[int] = []
    original = signer._match_key
    monkeypatch.setattr(signer, "_match_key", lambda *a: calls.append(1) or original(*a))
    assert signer.verify_ticket(ticket, NOW + 20)[1] == 20
    assert calls == []  # served from the cache
    with pytest.raises(AuthError, match="expired"):
        signer.verify_ticket(ticket, NOW + 7300)


def test_cache_is_bounded() -> None:
    signer = TicketSigner.generate(NOW - 3600)
    signer._cache_size = 2
    for i in range(5):
        signer.verify_ticket(signer.create_ticket("joe@pve", NOW + i), NOW + 10)
    assert len(signer._cache) == 2


# -- CSRF ---------------------------------------------------------------------------------

SECRET = tickets.csrf_secret(b"-----BEGIN RSA PRIVATE KEY-----\nabc\n")


def test_csrf_format() -> None:
    assert re.fullmatch(r"[A-Za-z0-9+/]{43}", SECRET.decode())
    token = tickets.create_csrf("joe@pve", SECRET, NOW)
    assert re.fullmatch(rf"{NOW:08X}:[A-Za-z0-9+/]{{43}}", token)


@pytest.mark.parametrize(
    ("userid", "secret", "offset", "ok"),
    [
        ("joe@pve", SECRET, 0, True),
        ("joe@pve", SECRET, 7199, True),
        ("joe@pve", SECRET, 7200, False),
        ("joe@pve", SECRET, -299, True),
        ("joe@pve", SECRET, -300, False),
        ("eve@pve", SECRET, 0, False),
        ("joe@pve", b"other", 0, False),
    ],
)
def test_csrf_verify(userid: str, secret: bytes, offset: int, ok: bool) -> None:
    token = tickets.create_csrf("joe@pve", SECRET, NOW)
    assert tickets.verify_csrf(token, userid, secret, NOW + offset) is ok


@pytest.mark.parametrize("token", ["", "abc", f"{NOW:08x}:xyz", f"{NOW:08X}:", "zz:zz"])
def test_csrf_malformed(token: str) -> None:
    assert not tickets.verify_csrf(token, "joe@pve", SECRET, NOW)


# -- API token header -------------------------------------------------------------------------

UUID = "0b1f36b2-7e43-4a19-9c55-5c3c0e6a1f2d"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"PVEAPIToken=root@pam!ci={UUID}", ("root@pam!ci", UUID)),
        (f"PVEAPIToken root@pam!ci={UUID}", ("root@pam!ci", UUID)),
        (f"PVEAPIToken   joe@my-ldap!deploy.1={UUID}", ("joe@my-ldap!deploy.1", UUID)),
        (f"  PVEAPIToken=joe@pve!tk={UUID}  ", ("joe@pve!tk", UUID)),
    ],
)
def test_parse_token_header(header: str, expected: tuple[str, str]) -> None:
    assert tickets.parse_token_header(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {UUID}",
        f"PVEAPIToken=root@pam={UUID}",  # no token name
        "PVEAPIToken=root@pam!ci",  # no secret
        "PVEAPIToken=root@pam!ci=",
        f"PVEAPITokenroot@pam!ci={UUID}",
        f"PVEAPIToken=root@pam!1ci={UUID}",  # token names start with a letter
        f"PVEAPIToken=root!ci={UUID}",  # no realm
        f"PVEAPIToken=root@pam!t={UUID}",  # token names have two characters at least
        f"pveapitoken=root@pam!ci={UUID}",
        f"PVEAPIToken=root@pam!ci={UUID} extra",
    ],
)
def test_parse_token_header_rejects(header: str) -> None:
    with pytest.raises(AuthError):
        tickets.parse_token_header(header)


def test_split_tokenid_and_secret_compare() -> None:
    assert tickets.split_tokenid("joe@pve!ci") == ("joe@pve", "ci")
    with pytest.raises(ValueError):
        tickets.split_tokenid("joe@pve")
    assert tickets.token_secret_matches(UUID, UUID)
    assert not tickets.token_secret_matches(UUID, UUID[:-1] + "0")
