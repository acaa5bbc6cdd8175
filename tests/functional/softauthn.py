"""A software WebAuthn authenticator for tests: an EC P-256 key and the spec's byte layouts.

``register`` answers a ``navigator.credentials.create`` options object with a
``none``-attestation credential, ``assertion`` answers ``navigator.credentials.get``
with a signed assertion; both return the JSON a browser would POST (base64url
fields).  Nothing here trusts the server: the server verifies with py_webauthn.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

FLAG_UP = 0x01
FLAG_AT = 0x40


def b64u(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class SoftAuthenticator:
    def __init__(self, rp_id: str, origin: str) -> None:
        self.rp_id = rp_id
        self.origin = origin
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cred_id = os.urandom(32)
        self.count = 0

    def _cose_key(self) -> bytes:
        nums = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {1: 2, 3: -7, -1: 1, -2: nums.x.to_bytes(32, "big"), -3: nums.y.to_bytes(32, "big")}
        )

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        data = {"type": kind, "challenge": challenge, "origin": origin or self.origin}
        return json.dumps({**data, "crossOrigin": False}).encode()

    def _rp_hash(self, rp_id: str | None) -> bytes:
        return hashlib.sha256((rp_id or self.rp_id).encode()).digest()

    def register(self, options: dict[str, Any], *, origin: str | None = None) -> str:
        challenge = options["publicKey"]["challenge"]
        client_data = self._client_data("webauthn.create", challenge, origin)
        attested = bytes(16) + len(self.cred_id).to_bytes(2, "big") + self.cred_id
        auth_data = (
            self._rp_hash(None)
            + bytes([FLAG_UP | FLAG_AT])
            + self.count.to_bytes(4, "big")
            + attested
            + self._cose_key()
        )
        att = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return json.dumps(
            {
                "id": b64u(self.cred_id),
                "rawId": b64u(self.cred_id),
                "type": "public-key",
                "response": {"clientDataJSON": b64u(client_data), "attestationObject": b64u(att)},
            }
        )

    def assertion(
        self, options: dict[str, Any], *, rp_id: str | None = None, origin: str | None = None
    ) -> str:
        challenge = options["publicKey"]["challenge"]
        client_data = self._client_data("webauthn.get", challenge, origin)
        self.count += 1
        auth_data = self._rp_hash(rp_id) + bytes([FLAG_UP]) + self.count.to_bytes(4, "big")
        signed = auth_data + hashlib.sha256(client_data).digest()
        sig = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return json.dumps(
            {
                "id": b64u(self.cred_id),
                "rawId": b64u(self.cred_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64u(client_data),
                    "authenticatorData": b64u(auth_data),
                    "signature": b64u(sig),
                },
            }
        )
