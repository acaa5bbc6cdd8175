"""OpenID Connect realms: the authorization-code flow against the realm's issuer.

``auth_url`` discovers the provider (``<issuer-url>/.well-known/openid-configuration``),
remembers a random ``state`` with its ``nonce``, PKCE verifier, realm and redirect URL
in ``priv/openid-state.json`` (ten minutes, one use) and returns the provider's
authorization URL.  ``login`` takes that state back, exchanges the code at the token
endpoint (``authlib``'s OAuth2 client with the realm's ``client-id``/``client-key``),
validates the ID token against the provider's JWKS (``joserfc``: signature, ``iss``,
``aud``, ``exp``, ``nonce``) and maps ``username-claim`` (default ``sub``) to
``<claim>@<realm>``.  Unknown users are created only when the realm has ``autocreate``.
HTTP calls are synchronous library calls and run in worker threads.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from pyxis.access import realms
from pyxis.access.realms import Option, RealmType
from pyxis.access.tfa.store import StateFile
from pyxis.access.usercfg import User, UserCfg
from pyxis.errors import AuthError, ParamError, PyxisError

if TYPE_CHECKING:
    from pyxis.services import Services

STATE_PATH = "priv/openid-state.json"
STATE_LIFETIME = 600
HTTP_TIMEOUT = 10
CLAIM_ALIASES = {"subject": "sub", "username": "preferred_username"}


class OpenIdError(PyxisError):
    """The provider could not be reached or answered nonsense (500)."""


def _get_json(url: str) -> dict[str, Any]:
    try:
        resp = requests.get(url, timeout=HTTP_TIMEOUT)
        resp.raise_for_status()
        data: dict[str, Any] = resp.json()
    except (requests.RequestException, ValueError) as err:
        raise OpenIdError(f"OpenID provider request '{url}' failed: {err}") from err
    return data


def discover(issuer: str) -> dict[str, Any]:
    meta = _get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
    if meta.get("issuer", "").rstrip("/") != issuer.rstrip("/"):
        raise OpenIdError("OpenID discovery: issuer mismatch")
    return meta


def _realm_cfg(svc: Services, realm: str) -> dict[str, Any]:
    cfg = svc.realms.get(realm)
    if cfg is None or cfg.get("type") != "openid":
        raise ParamError.one("realm", f"realm '{realm}' is not an OpenID realm")
    return cfg


def _session(cfg: Mapping[str, Any], redirect_url: str) -> OAuth2Session:
    scopes = " ".join(["openid", *str(cfg.get("scopes") or "email profile").split()])
    return OAuth2Session(
        client_id=str(cfg["client-id"]),
        client_secret=cfg.get("client-key"),
        scope=scopes,
        redirect_uri=redirect_url,
        code_challenge_method="S256",
    )


def _state_store(svc: Services) -> StateFile:
    return StateFile(svc.store, STATE_PATH, svc.node)


async def auth_url(svc: Services, realm: str, redirect_url: str, now: int) -> str:
    """The provider URL to send the browser to."""
    cfg = _realm_cfg(svc, realm)
    meta = await asyncio.to_thread(discover, str(cfg["issuer-url"]))
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    verifier = secrets.token_urlsafe(48)
    extra: dict[str, str] = {"nonce": nonce}
    if cfg.get("prompt"):
        extra["prompt"] = str(cfg["prompt"])
    if cfg.get("acr-values"):
        extra["acr_values"] = str(cfg["acr-values"])
    with _session(cfg, redirect_url) as client:
        url, _ = client.create_authorization_url(
            meta["authorization_endpoint"], state=state, code_verifier=verifier, **extra
        )
    record = {"realm": realm, "nonce": nonce, "verifier": verifier, "redirect": redirect_url}
    await _state_store(svc).put(state, record, now, STATE_LIFETIME)
    return str(url)


def _exchange(
    cfg: Mapping[str, Any], record: Mapping[str, Any], code: str, now: int
) -> dict[str, Any]:
    """Token exchange and ID-token validation; the verified claims."""
    meta = discover(str(cfg["issuer-url"]))
    with _session(cfg, str(record["redirect"])) as client:
        try:
            token = client.fetch_token(
                meta["token_endpoint"],
                code=code,
                code_verifier=record["verifier"],
                timeout=HTTP_TIMEOUT,
            )
        except Exception as err:  # authlib raises OAuthError and requests errors alike
            raise AuthError(f"OpenID token exchange failed: {err}") from err
        id_token = token.get("id_token")
        if not id_token:
            raise AuthError("OpenID provider returned no ID token")
        keys = KeySet.import_key_set(_get_json(meta["jwks_uri"]))  # type: ignore[arg-type]
        try:
            decoded = jwt.decode(id_token, keys)
            jwt.JWTClaimsRegistry(
                now=now,
                leeway=60,
                iss={"essential": True, "value": meta["issuer"]},
                aud={"essential": True, "value": str(cfg["client-id"])},
                exp={"essential": True},
                nonce={"essential": True, "value": record["nonce"]},
                sub={"essential": True},
            ).validate(decoded.claims)
        except (JoseError, ValueError) as err:
            raise AuthError(f"OpenID ID token rejected: {err}") from err
        claims: dict[str, Any] = dict(decoded.claims)
        if cfg.get("query-userinfo", 1) and meta.get("userinfo_endpoint"):
            resp = client.get(meta["userinfo_endpoint"], timeout=HTTP_TIMEOUT)
            if resp.ok and resp.json().get("sub") == claims["sub"]:
                claims = {**resp.json(), **claims}
    return claims


def userid_from_claims(cfg: Mapping[str, Any], realm: str, claims: Mapping[str, Any]) -> str:
    claim = str(cfg.get("username-claim") or "sub")
    value = claims.get(CLAIM_ALIASES.get(claim, claim))
    if not isinstance(value, str) or not value or any(c in value for c in " :/"):
        raise AuthError(f"OpenID claim '{claim}' unusable as a user name")
    return f"{value}@{realm}"


async def login(svc: Services, code: str, state: str, redirect_url: str, now: int) -> str:
    """Complete the flow; the logged-in (possibly auto-created) user id."""
    record = await _state_store(svc).take(state, now)
    if record is None or record.get("redirect") != redirect_url:
        raise AuthError("authentication failure")
    realm = str(record["realm"])
    cfg = _realm_cfg(svc, realm)
    claims = await asyncio.to_thread(_exchange, cfg, record, code, now)
    userid = userid_from_claims(cfg, realm, claims)
    if userid not in svc.access.cfg().users:
        if not cfg.get("autocreate"):
            raise AuthError(f"user '{userid}' does not exist")

        def create(ucfg: UserCfg) -> None:
            ucfg.users.setdefault(
                userid,
                User(
                    email=str(claims.get("email") or ""),
                    firstname=str(claims.get("given_name") or ""),
                    lastname=str(claims.get("family_name") or ""),
                ),
            )

        await svc.access.modify(create)
    return userid


realms.register_type(
    RealmType(
        "openid",
        realms.common_options(
            **{"issuer-url": Option(optional=False), "client-id": Option(optional=False)},
            **{"client-key": Option(), "autocreate": Option(), "scopes": Option()},
            **{"username-claim": Option(fixed=True), "prompt": Option()},
            **{"acr-values": Option(), "query-userinfo": Option()},
            **{"groups-claim": Option(), "groups-autocreate": Option()},
            **{"groups-overwrite": Option()},
        ),
        description="OpenID Connect provider",
    )
)
