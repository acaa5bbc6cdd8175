"""Login tickets, TFA half tickets, CSRF tokens and API-token headers.

A ticket is ``<prefix>:<data>:<8 hex digits unix time>::<base64 RSA signature>``; the
signature (PKCS#1 v1.5, SHA-256) covers the part before ``::`` plus, when given, a
``:<aad>`` suffix that is never transmitted.  ``TicketSigner`` holds the cluster key pair
and the previous public key so that tickets survive one daily rotation; the age window a
key accepts depends on when it was created or retired, mirroring upstream so that a
rotation neither revives old tickets nor kills fresh ones.  Verification is cached
because every API request carries a ticket; the cache only remembers which key matched,
so expiry is still judged against the caller's ``now``.  All functions take ``now``
explicitly and perform no I/O: loading and storing the PEM files is the caller's job.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import unquote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from pyxis.errors import AuthError
from pyxis.schema import formats

TICKET_LIFETIME = 7200
AUTH_GRACE = 300
AUTHKEY_LIFETIME = 24 * 3600
TFA_MARK = "!tfa!"
API_TOKEN_SCHEME = "PVEAPIToken"  # noqa: S105 - a header scheme name, not a secret

_HEX_TIME_RE = re.compile(r"^[0-9A-F]{8}\Z")
_SIG_RE = re.compile(r"^[A-Za-z0-9+/=]+\Z")
_DATA_RE = re.compile(r"^[^\s:]+\Z")
_TOKEN_HEADER_RE = re.compile(rf"^{API_TOKEN_SCHEME}(?:=|\s+)(\S+)$")


def generate_keypair() -> tuple[bytes, bytes]:
    """A fresh RSA-2048 pair as (private PEM, public PEM) in the layouts upstream writes."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    priv = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    pub = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return priv, pub


def needs_rotation(key_mtime: int | None, now: int) -> bool:
    """True when the key pair is missing, a day old, or dated in the future.

    A key stamped more than the grace period ahead came from a node with a wrong
    clock; tickets signed with it would be rejected everywhere, so replace it.
    """
    if key_mtime is None:
        return True
    return now - key_mtime >= AUTHKEY_LIFETIME or key_mtime > now + AUTH_GRACE


@dataclass(frozen=True)
class _PubKey:
    key: rsa.RSAPublicKey
    mtime: int | None
    retired: bool

    def window(self, now: int, min_age: int, max_age: int) -> tuple[int, int] | None:
        """Accepted ticket ages for this key, or None if it can accept nothing now."""
        if self.mtime is None:
            return min_age, max_age
        key_age = max(0, now - self.mtime)
        lo, hi = min_age, max_age
        if self.retired:
            # the previous key's mtime is the rotation time: only tickets signed
            # before the rotation (plus clock grace) may still use it
            lo = max(lo, key_age - AUTH_GRACE)
        else:
            if key_age > AUTHKEY_LIFETIME:
                # a rotation is overdue; do not keep extending the key's reach
                lo = max(lo, key_age - AUTHKEY_LIFETIME)
            if key_age < max_age:
                # no valid ticket can be older than the key that signed it
                hi = min(hi, key_age + AUTH_GRACE)
        if lo > max_age:
            return None
        return lo, hi


def _load_pub(pem: bytes) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("auth key is not an RSA public key")
    return key


class TicketSigner:
    """Signs and verifies tickets with the current key; verifies with the previous one too.

    Instances are immutable with respect to keys: ``rotated`` returns a new signer.
    ``pub_mtime``/``prev_mtime`` are the file times of ``authkey.pub`` and
    ``authkey.pub.old``; without them only the plain ``min_age..max_age`` window applies.
    """

    def __init__(
        self,
        priv_pem: bytes | None,
        pub_pem: bytes,
        prev_pub_pem: bytes | None = None,
        *,
        pub_mtime: int | None = None,
        prev_mtime: int | None = None,
        cache_size: int = 1024,
    ) -> None:
        self.priv_pem = priv_pem
        self.pub_pem = pub_pem
        self.prev_pub_pem = prev_pub_pem
        self.pub_mtime = pub_mtime
        self.prev_mtime = prev_mtime
        self._priv: rsa.RSAPrivateKey | None = None
        if priv_pem is not None:
            priv = serialization.load_pem_private_key(priv_pem, password=None)
            if not isinstance(priv, rsa.RSAPrivateKey):
                raise ValueError("auth key is not an RSA private key")
            self._priv = priv
        keys = [_PubKey(_load_pub(pub_pem), pub_mtime, retired=False)]
        if prev_pub_pem is not None:
            keys.append(_PubKey(_load_pub(prev_pub_pem), prev_mtime, retired=True))
        self._keys = tuple(keys)
        self._cache: OrderedDict[tuple[str, str, str | None], int] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @classmethod
    def generate(cls, now: int) -> TicketSigner:
        priv, pub = generate_keypair()
        return cls(priv, pub, pub_mtime=now)

    def rotated(self, now: int) -> TicketSigner:
        """A signer with a new key pair; the current public key becomes the previous one."""
        priv, pub = generate_keypair()
        return TicketSigner(
            priv, pub, self.pub_pem, pub_mtime=now, prev_mtime=now, cache_size=self._cache_size
        )

    # -- generic tickets -------------------------------------------------------------

    def create_ticket(
        self, data: str | None, now: int, prefix: str = "PVE", aad: str | None = None
    ) -> str:
        """Sign ``data`` (usually a userid; ':' is escaped) issued at ``now``."""
        if self._priv is None:
            raise AuthError("no private auth key available")
        plain = f"{prefix}:"
        if data is not None:
            plain += data.replace(":", "%3A") + ":"
        plain += f"{now & 0xFFFFFFFF:08X}"
        signed = plain if aad is None else f"{plain}:{aad}"
        sig = self._priv.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{plain}::{base64.b64encode(sig).decode()}"

    def verify_data(
        self,
        ticket: str,
        now: int,
        prefix: str = "PVE",
        aad: str | None = None,
        min_age: int = -AUTH_GRACE,
        max_age: int = TICKET_LIFETIME,
    ) -> tuple[str | None, int]:
        """Check signature and age; return the unescaped data part and the age in seconds."""
        plain, sep, sig = ticket.partition("::")
        head = prefix + ":"
        if not sep or not plain.startswith(head) or not _SIG_RE.match(sig):
            raise AuthError("invalid ticket")
        body = plain[len(head) :]
        raw_data, colon, stamp = body.rpartition(":")
        if not _HEX_TIME_RE.match(stamp) or (colon and not _DATA_RE.match(raw_data)):
            raise AuthError("invalid ticket")
        data = unquote(raw_data) if colon else None
        slot = self._cached_slot(ticket, prefix, aad)
        if slot is None:
            slot = self._match_key(plain, sig, aad)
            if slot is None:
                raise AuthError("invalid ticket")
            self._remember(ticket, prefix, aad, slot)
        # a cache hit only proves the signature; expiry is judged against this call's clock
        age = now - int(stamp, 16)
        window = self._keys[slot].window(now, min_age, max_age)
        if window is None or not window[0] < age < window[1]:
            raise AuthError("ticket expired")
        return data, age

    def _signed_by(self, slot: int, plain: str, sig: str, aad: str | None) -> bool:
        signed = plain if aad is None else f"{plain}:{aad}"
        try:
            raw = base64.b64decode(sig, validate=True)
            self._keys[slot].key.verify(raw, signed.encode(), padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return False
        return True

    def _match_key(self, plain: str, sig: str, aad: str | None) -> int | None:
        for slot in range(len(self._keys)):
            if self._signed_by(slot, plain, sig, aad):
                return slot
        return None

    def _cached_slot(self, ticket: str, prefix: str, aad: str | None) -> int | None:
        with self._lock:
            slot = self._cache.get((ticket, prefix, aad))
            if slot is not None:
                self._cache.move_to_end((ticket, prefix, aad))
            return slot

    def _remember(self, ticket: str, prefix: str, aad: str | None, slot: int) -> None:
        # only successful signature checks are cached, so garbage cannot evict much
        with self._lock:
            self._cache[(ticket, prefix, aad)] = slot
            self._cache.move_to_end((ticket, prefix, aad))
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    # -- login tickets -----------------------------------------------------------------

    def verify_ticket(
        self,
        ticket: str,
        now: int,
        prefix: str = "PVE",
        aad: str | None = None,
        min_age: int = -AUTH_GRACE,
        max_age: int = TICKET_LIFETIME,
    ) -> tuple[str, int]:
        """Verify a full login ticket; return (userid, age).  TFA half tickets are refused."""
        data, age = self.verify_data(ticket, now, prefix, aad, min_age, max_age)
        if data is None or data.startswith(TFA_MARK):
            raise AuthError("invalid ticket")
        try:
            formats.userid(data)
        except ValueError as err:
            raise AuthError("invalid ticket") from err
        return data, age

    def create_tfa_ticket(self, challenge: str, userid: str, now: int) -> str:
        """Half ticket for the second factor: the userid is bound as AAD, not shown."""
        return self.create_ticket(TFA_MARK + challenge, now, aad=userid)

    def verify_tfa_ticket(self, ticket: str, userid: str, now: int) -> str:
        """Return the challenge carried by a half ticket issued to ``userid``."""
        data, _age = self.verify_data(ticket, now, aad=userid)
        if data is None or not data.startswith(TFA_MARK):
            raise AuthError("invalid ticket")
        return data[len(TFA_MARK) :]


# -- CSRF prevention tokens ---------------------------------------------------------------


def _b64_nopad(raw: bytes) -> str:
    return base64.b64encode(raw).decode().rstrip("=")


def csrf_secret(www_key: bytes) -> bytes:
    """Derive the CSRF HMAC key from the contents of ``pve-www.key`` as upstream does."""
    return _b64_nopad(hmac.new(b"", www_key, hashlib.sha256).digest()).encode()


def _csrf_digest(stamp: str, userid: str, secret: bytes) -> str:
    return _b64_nopad(hmac.new(secret, f"{stamp}:{userid}".encode(), hashlib.sha256).digest())


def create_csrf(userid: str, secret: bytes, now: int) -> str:
    stamp = f"{now & 0xFFFFFFFF:08X}"
    return f"{stamp}:{_csrf_digest(stamp, userid, secret)}"


def verify_csrf(
    token: str,
    userid: str,
    secret: bytes,
    now: int,
    min_age: int = -AUTH_GRACE,
    max_age: int = TICKET_LIFETIME,
) -> bool:
    stamp, sep, digest = token.partition(":")
    if not sep or not _HEX_TIME_RE.match(stamp) or not digest:
        return False
    expected = _csrf_digest(stamp, userid, secret)
    if not hmac.compare_digest(expected.encode(), digest.encode()):
        return False
    age = now - int(stamp, 16)
    return min_age < age < max_age


# -- API tokens ---------------------------------------------------------------------------


def split_tokenid(full_tokenid: str) -> tuple[str, str]:
    """``user@realm!name`` -> (``user@realm``, ``name``); ValueError if malformed."""
    formats.full_tokenid(full_tokenid)
    userid, _, name = full_tokenid.partition("!")
    return userid, name


def parse_token_header(value: str) -> tuple[str, str]:
    """Parse ``PVEAPIToken=USER@REALM!NAME=SECRET`` (``=`` or blanks after the scheme).

    The secret is everything after the last ``=``, as upstream splits; returns
    (full token id, secret) or raises AuthError.
    """
    match = _TOKEN_HEADER_RE.match(value.strip())
    if match is None:
        raise AuthError("invalid API token header")
    tokenid, sep, secret = match.group(1).rpartition("=")
    if not sep or not tokenid or not secret:
        raise AuthError("invalid API token header")
    try:
        split_tokenid(tokenid)
    except ValueError as err:
        raise AuthError("invalid API token id") from err
    return tokenid, secret


def token_secret_matches(expected: str, given: str) -> bool:
    """Constant-time comparison of a stored token secret with the presented one."""
    return hmac.compare_digest(expected.encode(), given.encode())
