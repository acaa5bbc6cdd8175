"""SHA-512 crypt (``$6$``), in pure Python.

The password hash format of glibc's crypt(3) (Ulrich Drepper's "Unix crypt using
SHA-256 and SHA-512" specification), which cloud-init writes to ``/etc/shadow`` as it
is.  Python's ``crypt`` module is deprecated and gone in 3.13, so the algorithm lives
here; it is checked against the C library in the unit tests.
"""

from __future__ import annotations

import hashlib
import secrets

ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ROUNDS_DEFAULT = 5000
SALT_MAX = 16
CRYPTED_PREFIXES = ("$1$", "$2a$", "$2b$", "$2y$", "$5$", "$6$", "$y$", "$7$")


def is_crypted(text: str) -> bool:
    """Whether ``text`` already is a crypt(3) hash (then it is used as it is)."""
    return text.startswith(CRYPTED_PREFIXES)


def make_salt(length: int = SALT_MAX) -> str:
    return "".join(secrets.choice(ITOA64) for _ in range(length))


def salt_from(seed: bytes, length: int = SALT_MAX) -> str:
    """A salt derived from ``seed``: the same input gives the same hash."""
    digest = hashlib.sha256(seed).digest()
    return "".join(ITOA64[b % 64] for b in digest[:length])


def _repeat(data: bytes, length: int) -> bytes:
    return (data * (length // len(data) + 1))[:length] if data else b""


def _encode(final: bytes) -> str:
    out = []
    for i in range(21):
        a, b, c = i, i + 21, i + 42
        order = ((a, b, c), (b, c, a), (c, a, b))[i % 3]
        w = (final[order[0]] << 16) | (final[order[1]] << 8) | final[order[2]]
        for _ in range(4):
            out.append(ITOA64[w & 0x3F])
            w >>= 6
    w = final[63]
    for _ in range(2):
        out.append(ITOA64[w & 0x3F])
        w >>= 6
    return "".join(out)


def sha512_crypt(password: str, salt: str | None = None, rounds: int = ROUNDS_DEFAULT) -> str:
    """``$6$<salt>$<hash>`` (``$6$rounds=N$...`` when ``rounds`` is not the default)."""
    key = password.encode()
    salt_b = (make_salt() if salt is None else salt).encode()[:SALT_MAX]
    rounds = max(1000, min(rounds, 999_999_999))
    alt = hashlib.sha512(key + salt_b + key).digest()
    ctx = hashlib.sha512(key + salt_b)
    ctx.update(_repeat(alt, len(key)))
    n = len(key)
    while n > 0:
        ctx.update(alt if n & 1 else key)
        n >>= 1
    result = ctx.digest()
    p_bytes = _repeat(hashlib.sha512(key * len(key)).digest(), len(key))
    s_bytes = _repeat(hashlib.sha512(salt_b * (16 + result[0])).digest(), len(salt_b))
    for i in range(rounds):
        step = hashlib.sha512(p_bytes if i & 1 else result)
        if i % 3:
            step.update(s_bytes)
        if i % 7:
            step.update(p_bytes)
        step.update(result if i & 1 else p_bytes)
        result = step.digest()
    head = "$6$" if rounds == ROUNDS_DEFAULT else f"$6$rounds={rounds}$"
    return f"{head}{salt_b.decode()}${_encode(result)}"
