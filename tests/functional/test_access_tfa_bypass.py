"""Regressions for upstream's 2023 TFA bypass classes and the TFA API's own checks.

(a) The second step cannot stand in for the password: a half ticket is only issued
after the password checked out, is bound to its user, expires quickly and cannot be
forged, and is never accepted as a login ticket.  (b) Disabled factors never turn TFA
off where other factors exist or the realm enforces TFA.
"""

from __future__ import annotations

import httpx
import pyotp
import pytest
from funchelp import ClientFactory, add_user, ticket_login
from tfahelp import (
    PW,
    TICKET,
    Clock,
    challenge,
    first_step,
    get_half,
    install_clock,
    second_step,
    user_with_totp,
)

from pyxis.access.service import TFA_TICKET_LIFETIME
from pyxis.services import Services


@pytest.fixture
def clock(svc: Services) -> Clock:
    return install_clock(svc)


async def test_no_half_ticket_without_password(
    root_api: httpx.AsyncClient, new_client: ClientFactory, clock: Clock
) -> None:
    _, totp, _ = await user_with_totp(root_api, new_client, clock, "ann@pve")
    client = new_client()
    r = await first_step(client, "ann@pve", "wrong-password")
    assert r.status_code == 401 and "ticket" not in r.text
    # a TOTP code in place of the password, with or without a challenge, gets nothing
    clock.now += 30
    r = await first_step(client, "ann@pve", f"totp:{totp.at(clock.now)}")
    assert r.status_code == 401
    r = await client.post(
        TICKET, data={"username": "ann@pve", "password": "x", "otp": totp.at(clock.now)}
    )
    assert r.status_code == 401
    for bogus in ("", "garbage", "PVE:!tfa!%7B%22totp%22%3Atrue%7D:00000000::AAAA"):
        r = await second_step(client, "ann@pve", bogus, f"totp:{totp.at(clock.now)}")
        assert r.status_code == 401, bogus


async def test_half_ticket_forgery_and_reuse(
    svc: Services, root_api: httpx.AsyncClient, new_client: ClientFactory, clock: Clock
) -> None:
    _, totp_a, _ = await user_with_totp(root_api, new_client, clock, "ann@pve")
    _, totp_b, _ = await user_with_totp(root_api, new_client, clock, "bob@pve")
    client = new_client()
    half_a = await get_half(client, "ann@pve")
    clock.now += 30
    # bound to its user: ann's half ticket does not let anyone answer for bob
    r = await second_step(client, "bob@pve", half_a, f"totp:{totp_b.at(clock.now)}")
    assert r.status_code == 401
    # the challenge inside is signed: widening it (adding recovery) breaks the signature
    plain, _, sig = half_a.partition("::")
    forged = plain.replace("%7D", "%2C%22recovery%22%3A%5B0%5D%7D", 1) + "::" + sig
    assert challenge(forged) == {"totp": True, "recovery": [0]}
    r = await second_step(client, "ann@pve", forged, "recovery:0000-0000-0000-0000")
    assert r.status_code == 401
    # a half ticket signed for another time is a different ticket
    stamp = plain.rsplit(":", 1)[1]
    moved = plain[: -len(stamp)] + f"{int(stamp, 16) + 60:08X}" + "::" + sig
    assert (
        await second_step(client, "ann@pve", moved, f"totp:{totp_a.at(clock.now)}")
    ).status_code == 401
    # neither a login ticket nor a renewal credential
    for use in ("cookie", "renew"):
        c = new_client()
        if use == "cookie":
            c.cookies.set("PVEAuthCookie", half_a)
            assert (await c.get("/api2/json/access/users")).status_code == 401
        else:
            assert (await first_step(c, "ann@pve", half_a)).status_code == 401
    # a full ticket is no half ticket
    full = svc.access.signer().create_ticket("ann@pve", int(clock.now))
    assert (
        await second_step(client, "ann@pve", full, f"totp:{totp_a.at(clock.now)}")
    ).status_code == 401
    # expired: older than the half-ticket lifetime
    clock.now += TFA_TICKET_LIFETIME + 1
    r = await second_step(client, "ann@pve", half_a, f"totp:{totp_a.at(clock.now)}")
    assert r.status_code == 401
    # fresh one works
    half_a = await get_half(client, "ann@pve")
    r = await second_step(client, "ann@pve", half_a, f"totp:{totp_a.at(clock.now)}")
    assert r.status_code == 200


async def test_disabled_user_cannot_finish(
    root_api: httpx.AsyncClient, new_client: ClientFactory, clock: Clock
) -> None:
    _, totp, _ = await user_with_totp(root_api, new_client, clock, "dan@pve")
    client = new_client()
    half = await get_half(client, "dan@pve")
    r = await root_api.put("/api2/json/access/users/dan@pve", data={"enable": "0"})
    assert r.status_code == 200
    clock.now += 30
    assert (
        await second_step(client, "dan@pve", half, f"totp:{totp.at(clock.now)}")
    ).status_code == 401


async def test_disabled_factor_does_not_skip_other_factors(
    root_api: httpx.AsyncClient, new_client: ClientFactory, clock: Clock
) -> None:
    sess, totp, totp_id = await user_with_totp(root_api, new_client, clock, "eve@pve")
    r = await sess.post("/access/tfa/eve@pve", data={"type": "recovery", "password": PW})
    keys = r.json()["data"]["recovery"]
    r = await sess.put(f"/access/tfa/eve@pve/{totp_id}", data={"enable": "0", "password": PW})
    assert r.status_code == 200, r.text
    entries = (await sess.get("/access/tfa/eve@pve")).json()["data"]
    assert {e["type"]: e["enable"] for e in entries} == {"totp": 0, "recovery": 1}
    client = new_client()
    half = await get_half(client, "eve@pve")  # still a challenge, not a ticket
    assert challenge(half) == {"recovery": list(range(10))}
    clock.now += 30
    # the disabled TOTP entry cannot answer it
    assert (
        await second_step(client, "eve@pve", half, f"totp:{totp.at(clock.now)}")
    ).status_code == 401
    assert (await second_step(client, "eve@pve", half, f"recovery:{keys[0]}")).status_code == 200
    # disabling after the challenge was issued also counts
    r = await sess.put(f"/access/tfa/eve@pve/{totp_id}", data={"enable": "1", "password": PW})
    half = await get_half(client, "eve@pve")
    await sess.put(f"/access/tfa/eve@pve/{totp_id}", data={"enable": "0", "password": PW})
    clock.now += 30
    assert (
        await second_step(client, "eve@pve", half, f"totp:{totp.at(clock.now)}")
    ).status_code == 401


async def test_realm_enforced_tfa_never_silently_granted(
    root_api: httpx.AsyncClient, new_client: ClientFactory, clock: Clock
) -> None:
    sess, _totp, totp_id = await user_with_totp(root_api, new_client, clock, "fay@pve")
    await add_user(root_api, "gus@pve", PW)  # no factors at all
    r = await root_api.put("/api2/json/access/domains/pve", data={"tfa": "type=oath"})
    assert r.status_code == 200, r.text
    client = new_client()
    assert (await first_step(client, "gus@pve")).status_code == 401
    r = await sess.put(f"/access/tfa/fay@pve/{totp_id}", data={"enable": "0", "password": PW})
    assert r.status_code == 200, r.text
    r = await first_step(client, "fay@pve")
    assert r.status_code == 401 and "ticket" not in r.text
    # without enforcement, a user whose every factor is disabled logs in with the password
    r = await root_api.put("/api2/json/access/domains/pve", data={"delete": "tfa"})
    assert r.status_code == 200, r.text
    r = await first_step(client, "fay@pve")
    assert r.status_code == 200 and "NeedTFA" not in r.json()["data"]


async def test_tfa_api_permissions(
    root_api: httpx.AsyncClient, new_client: ClientFactory, clock: Clock
) -> None:
    sess, _totp, totp_id = await user_with_totp(root_api, new_client, clock, "hal@pve")
    await add_user(root_api, "ivy@pve", PW)
    ivy = await ticket_login(new_client(), "ivy@pve", PW)
    uri = pyotp.TOTP(pyotp.random_base32()).provisioning_uri(name="x")
    r = await ivy.post("/access/tfa/hal@pve", data={"type": "recovery", "password": PW})
    assert r.status_code == 403
    assert (await ivy.get("/access/tfa/hal@pve")).status_code == 403
    assert (
        await ivy.delete(f"/access/tfa/hal@pve/{totp_id}", params={"password": PW})
    ).status_code == 403
    assert (
        await ivy.post("/access/tfa/root@pam", data={"type": "recovery", "password": PW})
    ).status_code == 403
    # own changes need the caller's password
    r = await sess.delete(f"/access/tfa/hal@pve/{totp_id}")
    assert r.status_code == 400
    r = await sess.delete(f"/access/tfa/hal@pve/{totp_id}", params={"password": "wrong-pass"})
    assert r.status_code == 403
    assert (await ivy.get("/access/tfa")).json()["data"] == []
    listing = (await root_api.get("/api2/json/access/tfa")).json()["data"]
    assert [u["userid"] for u in listing] == ["hal@pve"]
    r = await root_api.get("/api2/json/access/users/hal@pve/tfa", params={"multiple": "1"})
    assert r.json()["data"] == {"types": ["totp"]}
    r = await root_api.put(
        f"/api2/json/access/tfa/hal@pve/{totp_id}", data={"description": "phone"}
    )
    assert r.status_code == 200
    assert (await sess.get(f"/access/tfa/hal@pve/{totp_id}")).json()["data"][
        "description"
    ] == "phone"
    r = await sess.delete(f"/access/tfa/hal@pve/{totp_id}", params={"password": PW})
    assert r.status_code == 200, r.text
    assert (await sess.get("/access/tfa/hal@pve")).json()["data"] == []
    assert (await sess.get(f"/access/tfa/hal@pve/{totp_id}")).status_code == 404
    del uri
    r = await first_step(new_client(), "hal@pve")
    assert r.status_code == 200 and "NeedTFA" not in r.json()["data"]
