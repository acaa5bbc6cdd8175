"""Password hashing for the ``pve`` realm and password checks for the ``pam`` realm.

New hashes are crypt(3) SHA-512 (``$6$...``), the format ``shadow.cfg`` and
``/etc/shadow`` share, so that files move between Pyxis and upstream nodes.  Python
deprecates the ``crypt`` module and later releases drop it; where it is missing we
hash with scrypt under a ``$scrypt$`` prefix, which only Pyxis can read but keeps the
realm working.  The ``pam`` realm is served from ``/etc/shadow`` directly (the daemon
runs as root); that is the one piece of I/O in this package.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import warnings
from pathlib import Path
from types import ModuleType

SHADOW_PATH = Path("/etc/shadow")
_SCRYPT_PREFIX = "$scrypt$"
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def _load_crypt() -> ModuleType | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import crypt
        except ImportError:
            return None
    return crypt


_crypt = _load_crypt()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=128 * r * (n + p + 2)
    )


def hash_password(password: str) -> str:
    """A salted hash of ``password``: ``$6$`` crypt where available, else ``$scrypt$``."""
    if _crypt is not None:
        salt = _crypt.mksalt(_crypt.METHOD_SHA512)
        result = _crypt.crypt(password, salt)
        if isinstance(result, str) and result.startswith("$6$"):
            return result
    salt_bytes = secrets.token_bytes(16)
    digest = _scrypt(password, salt_bytes, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    params = f"n={_SCRYPT_N},r={_SCRYPT_R},p={_SCRYPT_P}"
    return f"{_SCRYPT_PREFIX}{params}${_b64(salt_bytes)}${_b64(digest)}"


def verify_password(password: str, hashed: str) -> bool:
    """Constant-time check of ``password`` against a crypt or scrypt hash.

    Locked or empty hashes (``!``, ``*``, ``""``) never match: an account without a
    usable hash must not accept any password, including the empty one.
    """
    if not hashed or hashed[0] in "!*":
        return False
    if hashed.startswith(_SCRYPT_PREFIX):
        return _verify_scrypt(password, hashed)
    if _crypt is None:
        return False
    candidate = _crypt.crypt(password, hashed)
    if not isinstance(candidate, str):
        return False
    return hmac.compare_digest(candidate.encode(), hashed.encode())


def _verify_scrypt(password: str, hashed: str) -> bool:
    try:
        params_text, salt_text, digest_text = hashed[len(_SCRYPT_PREFIX) :].split("$")
        params = dict(item.split("=", 1) for item in params_text.split(","))
        n, r, p = int(params["n"]), int(params["r"]), int(params["p"])
        salt, expected = _unb64(salt_text), _unb64(digest_text)
        # refuse absurd cost parameters from a tampered file instead of hanging
        if n > 2**20 or r > 32 or p > 16:
            return False
        actual = _scrypt(password, salt, n, r, p)
    except (ValueError, KeyError):
        return False
    return hmac.compare_digest(actual, expected)


def shadow_hash(username: str, shadow_text: str) -> str | None:
    """The password field for ``username`` in ``/etc/shadow`` content, if present."""
    for line in shadow_text.splitlines():
        fields = line.split(":")
        if len(fields) >= 2 and fields[0] == username:
            return fields[1]
    return None


def verify_pam(username: str, password: str, shadow_path: Path = SHADOW_PATH) -> bool:
    """Check a ``pam`` realm login (``username`` without ``@pam``) against ``/etc/shadow``."""
    try:
        text = shadow_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    hashed = shadow_hash(username, text)
    return hashed is not None and verify_password(password, hashed)
