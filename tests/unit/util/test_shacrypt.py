"""SHA-512 crypt: the pure-Python hash equals the C library's for the same salt."""

from __future__ import annotations

import warnings

import pytest

from pyxis.util.shacrypt import is_crypted, salt_from, sha512_crypt

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import crypt
    except ImportError:  # Python >= 3.13
        crypt = None  # type: ignore[assignment]

CASES = [
    # (password, salt, rounds)
    ("secret", "abcdefgh", 5000),
    ("", "saltsaltsaltsalt", 5000),
    ("x" * 100, "Zz./", 5000),
    ("pässwörd", "0123456789abcdef", 5000),
    ("a", "b", 10000),
]
# glibc's own test vectors (crypt-sha512 specification)
VECTORS = [
    ("Hello world!", "saltstring",
     "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJu"
     "esI68u4OTLiBFdcbYEdFCoEOfaS35inz1"),
]  # fmt: skip


@pytest.mark.parametrize(("password", "salt", "rounds"), CASES)
def test_matches_libc(password: str, salt: str, rounds: int) -> None:
    if crypt is None:
        pytest.skip("no crypt module")
    setting = f"$6${salt}" if rounds == 5000 else f"$6$rounds={rounds}${salt}"
    assert sha512_crypt(password, salt, rounds) == crypt.crypt(password, setting)


@pytest.mark.parametrize(("password", "salt", "expected"), VECTORS)
def test_vectors(password: str, salt: str, expected: str) -> None:
    assert sha512_crypt(password, salt) == expected


def test_salt_and_prefix() -> None:
    assert sha512_crypt("pw").startswith("$6$")
    assert sha512_crypt("pw") != sha512_crypt("pw")  # random salt
    assert salt_from(b"seed") == salt_from(b"seed")
    assert len(salt_from(b"seed")) == 16
    assert is_crypted("$6$abc$def") and is_crypted("$y$j9T$x")
    assert not is_crypted("plain-password")
