"""Two-factor login: TOTP, recovery keys and WebAuthn, the TFA API, and bypass regressions.

Codes come from pyotp, WebAuthn answers from a software authenticator; the server
verifies with its real libraries.  The access clock is driven by the tests so that
TOTP windows and half-ticket lifetimes are deterministic.
"""

from __future__ import annotations

import json

import httpx
import pyotp
import pytest
from funchelp import ClientFactory, Sess, add_user, ticket_login
from softauthn import SoftAuthenticator
from tfahelp import (
    ORIGIN,
    PW,
    TICKET,
    Clock,
    challenge,
    get_half,
    install_clock,
    second_step,
    user_with_totp,
)

from pyxis.services import Services


@pytest.fixture
def clock(svc: Services) -> Clock:
    return install_clock(svc)


# --- TOTP -----------------------------------------------------------------------------


async def test_totp_login_two_steps(
    root_api: httpx.AsyncClient, new_client: ClientFactory, clock: Clock
) -> None:
    _, totp, _ = await user_with_totp(root_api, new_client, clock, "tina@pve")
    client = new_client()
    half = await get_half(client, "tina@pve")
    assert challenge(half) == {"totp": True}
    # the half ticket is no login
    client.cookies.set("PVEAuthCookie", half)
    assert (await client.get("/api2/json/access/users")).status_code == 401
    # the code used at enrolment is spent: replay within its window fails
    r = await second_step(client, "tina@pve", half, f"totp:{totp.at(clock.now)}")
    assert r.status_code == 401
    clock.now += 30
    r = await second_step(client, "tina@pve", half, f"totp:{totp.at(clock.now)}")
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["username"] == "tina@pve" and "NeedTFA" not in data
    assert data["ticket"].startswith("PVE:tina@pve:") and data["CSRFPreventionToken"]
    client.cookies.set("PVEAuthCookie", data["ticket"])
    assert (await client.get("/api2/json/access/users")).status_code == 200
    # the same code again (same window, fresh half ticket) is a replay
    half = await get_half(client, "tina@pve")
    r = await second_step(client, "tina@pve", half, f"totp:{totp.at(clock.now)}")
    assert r.status_code == 401
    # wrong code and wrong type
    clock.now += 30
    assert (await second_step(client, "tina@pve", half, "totp:000000")).status_code == 401
    r = await second_step(client, "tina@pve", half, f"recovery:{totp.at(clock.now)}")
    assert r.status_code == 401
    # the legacy single-step ``otp`` parameter
    r = await client.post(
        TICKET, data={"username": "tina@pve", "password": PW, "otp": totp.at(clock.now)}
    )
    assert r.status_code == 200 and "NeedTFA" not in r.json()["data"]


async def test_totp_enrolment_checks_code(
    root_api: httpx.AsyncClient, new_client: ClientFactory, clock: Clock
) -> None:
    await add_user(root_api, "ted@pve", PW)
    sess = await ticket_login(new_client(), "ted@pve", PW)
    uri = pyotp.TOTP(pyotp.random_base32()).provisioning_uri(name="ted")
    r = await sess.post(
        "/access/tfa/ted@pve",
        data={"type": "totp", "totp": uri, "value": "123456", "password": PW},
    )
    assert r.status_code == 400
    r = await sess.post("/access/tfa/ted@pve", data={"type": "totp", "totp": "otpauth://hotp/x"})
    assert r.status_code == 400  # no password
    r = await sess.get("/access/tfa/ted@pve")
    assert r.json()["data"] == []


# --- recovery keys --------------------------------------------------------------------------


async def test_recovery_keys_single_use(
    root_api: httpx.AsyncClient, new_client: ClientFactory, clock: Clock
) -> None:
    await add_user(root_api, "rita@pve", PW)
    sess = await ticket_login(new_client(), "rita@pve", PW)
    r = await sess.post("/access/tfa/rita@pve", data={"type": "recovery", "password": PW})
    assert r.status_code == 200, r.text
    keys = r.json()["data"]["recovery"]
    assert r.json()["data"]["id"] == "recovery" and len(keys) == 10 and len(set(keys)) == 10
    # shown once: a second generation is refused, listing shows no secrets
    r = await sess.post("/access/tfa/rita@pve", data={"type": "recovery", "password": PW})
    assert r.status_code == 400
    r = await sess.get("/access/tfa/rita@pve/recovery")
    assert r.json()["data"]["type"] == "recovery" and keys[0] not in r.text

    client = new_client()
    half = await get_half(client, "rita@pve")
    assert challenge(half) == {"recovery": list(range(10))}
    assert (await second_step(client, "rita@pve", half, f"recovery:{keys[3]}")).status_code == 200
    half = await get_half(client, "rita@pve")
    assert challenge(half)["recovery"] == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    assert (await second_step(client, "rita@pve", half, f"recovery:{keys[3]}")).status_code == 401
    r = await second_step(client, "rita@pve", half, "recovery:0000-0000-0000-0000")
    assert r.status_code == 401
    assert (await second_step(client, "rita@pve", half, f"recovery:{keys[4]}")).status_code == 200


# --- WebAuthn -----------------------------------------------------------------------------


async def _webauthn_config(root_api: httpx.AsyncClient) -> None:
    r = await root_api.put(
        "/api2/json/cluster/options",
        data={"webauthn": f"rp=Pyxis,origin={ORIGIN},id=testserver"},
    )
    assert r.status_code == 200, r.text


async def _register(sess: Sess, auth: SoftAuthenticator, userid: str) -> str:
    r = await sess.post(f"/access/tfa/{userid}", data={"type": "webauthn", "password": PW})
    assert r.status_code == 200, r.text
    challenge = r.json()["data"]["challenge"]
    options = json.loads(challenge)
    assert options["publicKey"]["rp"]["id"] == "testserver"
    r = await sess.post(
        f"/access/tfa/{userid}",
        data={
            "type": "webauthn",
            "challenge": challenge,
            "value": auth.register(options),
            "description": "soft key",
            "password": PW,
        },
    )
    assert r.status_code == 200, r.text
    entry_id: str = r.json()["data"]["id"]
    return entry_id


async def test_webauthn_register_and_login(
    root_api: httpx.AsyncClient, new_client: ClientFactory, clock: Clock
) -> None:
    await _webauthn_config(root_api)
    await add_user(root_api, "wendy@pve", PW)
    sess = await ticket_login(new_client(), "wendy@pve", PW)
    auth = SoftAuthenticator("testserver", ORIGIN)
    entry_id = await _register(sess, auth, "wendy@pve")
    r = await sess.get(f"/access/tfa/wendy@pve/{entry_id}")
    assert r.json()["data"]["description"] == "soft key"

    client = new_client()
    half = await get_half(client, "wendy@pve")
    options = challenge(half)["webauthn"]
    answer = auth.assertion(options)
    r = await second_step(client, "wendy@pve", half, f"webauthn:{answer}")
    assert r.status_code == 200, r.text
    # the challenge is spent: replaying the same assertion fails
    r = await second_step(client, "wendy@pve", half, f"webauthn:{answer}")
    assert r.status_code == 401
    # an assertion for another origin or relying party does not verify
    half = await get_half(client, "wendy@pve")
    options = challenge(half)["webauthn"]
    evil = auth.assertion(options, origin="https://evil.example")
    assert (await second_step(client, "wendy@pve", half, f"webauthn:{evil}")).status_code == 401
    half = await get_half(client, "wendy@pve")
    options = challenge(half)["webauthn"]
    other = SoftAuthenticator("testserver", ORIGIN).assertion(options)
    assert (await second_step(client, "wendy@pve", half, f"webauthn:{other}")).status_code == 401


async def test_webauthn_registration_rejects_bad_answer(
    root_api: httpx.AsyncClient, new_client: ClientFactory, clock: Clock
) -> None:
    await _webauthn_config(root_api)
    await add_user(root_api, "walt@pve", PW)
    sess = await ticket_login(new_client(), "walt@pve", PW)
    auth = SoftAuthenticator("testserver", "https://evil.example")
    r = await sess.post("/access/tfa/walt@pve", data={"type": "webauthn", "password": PW})
    challenge = r.json()["data"]["challenge"]
    r = await sess.post(
        "/access/tfa/walt@pve",
        data={
            "type": "webauthn",
            "challenge": challenge,
            "value": auth.register(json.loads(challenge)),
            "password": PW,
        },
    )
    assert r.status_code == 400
    assert (await sess.get("/access/tfa/walt@pve")).json()["data"] == []
