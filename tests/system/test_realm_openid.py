"""OpenID Connect realms against a real provider (npm ``oidc-provider``, run locally).

The test follows the authorization-code flow as a browser would, with ``requests``:
the URL from ``/access/openid/auth-url`` leads through the provider's (auto-approved)
login and consent to a redirect carrying ``code`` and ``state``, which
``/access/openid/login`` turns into a Pyxis ticket.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlparse

import httpx
import oidc_provider
import pytest
import requests

from pyxis.services import Services

REDIRECT = "https://pyxis.test:8006/"
DOMAINS = "/api2/json/access/domains"
AUTH_URL = "/api2/json/access/openid/auth-url"
LOGIN = "/api2/json/access/openid/login"

pytestmark = pytest.mark.skipif(not oidc_provider.available(), reason="node/npm missing")


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[oidc_provider.OidcProvider]:
    prov = oidc_provider.OidcProvider(REDIRECT, Path(tmp_path_factory.mktemp("oidc")))
    prov.start()
    try:
        yield prov
    finally:
        prov.stop()


def _browser(url: str) -> dict[str, str]:
    """Follow the provider's redirects until it sends the browser back to Pyxis."""
    with requests.Session() as session:
        for _ in range(12):
            r = session.get(url, allow_redirects=False, timeout=10)
            assert r.status_code in (302, 303), r.text
            url = urljoin(url, r.headers["location"])
            if url.startswith(REDIRECT):
                query = parse_qs(urlparse(url).query)
                return {k: v[0] for k, v in query.items()}
    raise AssertionError("no redirect back to Pyxis")


async def _realm(
    root_api: httpx.AsyncClient, prov: oidc_provider.OidcProvider, name: str, **extra: str
) -> None:
    data = {
        "realm": name,
        "type": "openid",
        "issuer-url": prov.issuer,
        "client-id": oidc_provider.CLIENT_ID,
        "client-key": oidc_provider.CLIENT_SECRET,
        **extra,
    }
    r = await root_api.post(DOMAINS, data=data)
    assert r.status_code == 200, r.text


async def _authorize(api: httpx.AsyncClient, realm: str) -> dict[str, str]:
    r = await api.post(AUTH_URL, data={"realm": realm, "redirect-url": REDIRECT})
    assert r.status_code == 200, r.text
    url = r.json()["data"]
    query = parse_qs(urlparse(url).query)
    assert query["client_id"] == [oidc_provider.CLIENT_ID] and query["redirect_uri"] == [REDIRECT]
    assert "openid" in query["scope"][0].split() and query["nonce"] and query["state"]
    assert query["code_challenge_method"] == ["S256"]
    return await asyncio.to_thread(_browser, url)


async def test_openid_login_autocreate(
    svc: Services,
    root_api: httpx.AsyncClient,
    api: httpx.AsyncClient,
    provider: oidc_provider.OidcProvider,
) -> None:
    await _realm(root_api, provider, "oidc", autocreate="1")
    back = await _authorize(api, "oidc")
    assert "code" in back, back
    params = {"code": back["code"], "state": back["state"], "redirect-url": REDIRECT}
    r = await api.post(LOGIN, data=params)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    userid = f"{oidc_provider.ACCOUNT}@oidc"
    assert data["username"] == userid
    assert data["ticket"].startswith(f"PVE:{userid}:") and data["CSRFPreventionToken"]
    user = svc.access.cfg().users[userid]
    assert user.email == "oidc-user@pyxis.test" and user.firstname == "Olive"
    # the ticket is a real login
    api.cookies.set("PVEAuthCookie", data["ticket"])
    r = await api.get(f"/api2/json/access/users/{userid}/tfa")
    assert r.status_code == 200, r.text
    # state and code are single-use
    r = await api.post(LOGIN, data=params)
    assert r.status_code == 401


async def test_openid_rejects_bad_state_and_unknown_user(
    root_api: httpx.AsyncClient,
    api: httpx.AsyncClient,
    provider: oidc_provider.OidcProvider,
) -> None:
    await _realm(root_api, provider, "corp", **{"username-claim": "email"})
    back = await _authorize(api, "corp")
    # a forged state, and a redirect URL other than the one the state was issued for
    r = await api.post(
        LOGIN, data={"code": back["code"], "state": "forged", "redirect-url": REDIRECT}
    )
    assert r.status_code == 401
    r = await api.post(
        LOGIN,
        data={
            "code": back["code"],
            "state": back["state"],
            "redirect-url": "https://evil.example/",
        },
    )
    assert r.status_code == 401
    # without autocreate, the user must exist
    back = await _authorize(api, "corp")
    params = {"code": back["code"], "state": back["state"], "redirect-url": REDIRECT}
    assert (await api.post(LOGIN, data=params)).status_code == 401
    r = await root_api.post("/api2/json/access/users", data={"userid": "oidc-user@pyxis.test@corp"})
    assert r.status_code == 200, r.text
    back = await _authorize(api, "corp")
    params = {"code": back["code"], "state": back["state"], "redirect-url": REDIRECT}
    r = await api.post(LOGIN, data=params)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["username"] == "oidc-user@pyxis.test@corp"
    # only OpenID realms hand out authorization URLs
    r = await api.post(AUTH_URL, data={"realm": "pve", "redirect-url": REDIRECT})
    assert r.status_code == 400
