"""WebAuthn second factors: registration and assertion, verified with ``py_webauthn``.

The relying party comes from ``datacenter.cfg`` (``webauthn: rp=<name>,origin=<url>,
id=<rp id>``), as upstream.  Challenges are generated here and handed to the caller
together with the options the browser needs; the caller keeps the challenge
server-side and passes it back for verification, so that each one is used once.
A stored credential is ``{credential_id, public_key, sign_count}`` (base64url).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import webauthn
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    UserVerificationRequirement,
)

from pyxis.cluster import datacenter
from pyxis.errors import ParamError

# the datacenter.cfg ``webauthn`` property string
CONFIG_FORMAT: dict[str, Any] = datacenter.OPTIONS["webauthn"]["format"]
TIMEOUT_MS = 60000


class WebAuthnError(ParamError):
    """A WebAuthn response did not verify (or WebAuthn is not configured)."""

    def __init__(self, msg: str) -> None:
        super().__init__({"value": msg}, msg)


@dataclass(frozen=True)
class RelyingParty:
    name: str
    origin: str
    id: str

    @classmethod
    def from_config(cls, cfg: dict[str, Any] | None) -> RelyingParty:
        if not cfg or not cfg.get("origin") or not cfg.get("id"):
            raise WebAuthnError("webauthn not configured (datacenter.cfg 'webauthn')")
        return cls(str(cfg.get("rp") or cfg["id"]), str(cfg["origin"]), str(cfg["id"]))


def _descriptors(creds: list[dict[str, Any]]) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(id=webauthn.base64url_to_bytes(c["credential_id"]))
        for c in creds
    ]


def registration_options(
    rp: RelyingParty, userid: str, existing: list[dict[str, Any]]
) -> tuple[str, str]:
    """(options JSON for the browser, challenge base64url to remember)."""
    opts = webauthn.generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_name=userid,
        user_id=userid.encode(),
        timeout=TIMEOUT_MS,
        exclude_credentials=_descriptors(existing),
        authenticator_selection=AuthenticatorSelectionCriteria(
            user_verification=UserVerificationRequirement.DISCOURAGED
        ),
    )
    public_key = json.loads(webauthn.options_to_json(opts))
    return json.dumps({"publicKey": public_key}), bytes_to_base64url(opts.challenge)


def verify_registration(rp: RelyingParty, challenge: str, response: str) -> dict[str, Any]:
    """Check an attestation response; return the credential record to store."""
    try:
        verified = webauthn.verify_registration_response(
            credential=response,
            expected_challenge=webauthn.base64url_to_bytes(challenge),
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as err:
        raise WebAuthnError(f"webauthn registration failed: {err}") from err
    return {
        "credential_id": bytes_to_base64url(verified.credential_id),
        "public_key": bytes_to_base64url(verified.credential_public_key),
        "sign_count": verified.sign_count,
    }


def authentication_options(
    rp: RelyingParty, creds: list[dict[str, Any]]
) -> tuple[dict[str, Any], str]:
    """(``{"publicKey": ...}`` request options, challenge base64url to remember)."""
    opts = webauthn.generate_authentication_options(
        rp_id=rp.id,
        timeout=TIMEOUT_MS,
        allow_credentials=_descriptors(creds),
        user_verification=UserVerificationRequirement.DISCOURAGED,
    )
    public_key = json.loads(webauthn.options_to_json(opts))
    return {"publicKey": public_key}, bytes_to_base64url(opts.challenge)


def verify_assertion(
    rp: RelyingParty, challenge: str, creds: list[dict[str, Any]], response: str
) -> tuple[str, int] | None:
    """Verify an assertion against one of ``creds``: (credential id, new sign count)."""
    try:
        raw_id = str(json.loads(response).get("rawId") or json.loads(response).get("id"))
    except (ValueError, AttributeError):
        return None
    cred = next((c for c in creds if c["credential_id"] == raw_id.rstrip("=")), None)
    if cred is None:
        return None
    try:
        verified = webauthn.verify_authentication_response(
            credential=response,
            expected_challenge=webauthn.base64url_to_bytes(challenge),
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=webauthn.base64url_to_bytes(cred["public_key"]),
            credential_current_sign_count=int(cred.get("sign_count", 0)),
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        return None
    return cred["credential_id"], verified.new_sign_count
