"""Password hashing and the /etc/shadow check behind the pam realm."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyxis.access import passwords

needs_crypt = pytest.mark.skipif(passwords._crypt is None, reason="no crypt module")

# published SHA-crypt test vector
VECTOR = (
    "Hello world!",
    "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68"
    "u4OTLiBFdcbYEdFCoEOfaS35inz1",
)


@needs_crypt
def test_hash_is_sha512_crypt() -> None:
    hashed = passwords.hash_password("s3cret")
    assert hashed.startswith("$6$")
    assert hashed != passwords.hash_password("s3cret")  # salted


@needs_crypt
def test_known_vector() -> None:
    assert passwords.verify_password(*VECTOR)
    assert not passwords.verify_password("Hello world", VECTOR[1])


@pytest.mark.parametrize("use_crypt", [True, False])
@pytest.mark.parametrize(
    ("password", "attempt", "ok"),
    [
        ("s3cret", "s3cret", True),
        ("s3cret", "S3cret", False),
        ("s3cret", "", False),
        ("", "", True),
        ("pässwörd:with:colons", "pässwörd:with:colons", True),
    ],
)
def test_verify(
    monkeypatch: pytest.MonkeyPatch, use_crypt: bool, password: str, attempt: str, ok: bool
) -> None:
    if use_crypt and passwords._crypt is None:
        pytest.skip("no crypt module")
    if not use_crypt:
        monkeypatch.setattr(passwords, "_crypt", None)
    hashed = passwords.hash_password(password)
    assert hashed.startswith("$6$" if use_crypt else "$scrypt$")
    assert passwords.verify_password(attempt, hashed) is ok


def test_scrypt_hash_is_read_even_with_crypt(monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as m:
        m.setattr(passwords, "_crypt", None)
        hashed = passwords.hash_password("pw")
    assert passwords.verify_password("pw", hashed)


@pytest.mark.parametrize(
    "hashed",
    [
        "",
        "!",
        "*",
        "!$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl",  # locked account
        "$scrypt$n=16384,r=8,p=1$broken",
        "$scrypt$n=99999999,r=8,p=1$AAAA$AAAA",  # absurd cost from a tampered file
        "$scrypt$x=1$AAAA$AAAA",
    ],
)
def test_unusable_hashes_never_match(hashed: str) -> None:
    assert not passwords.verify_password("", hashed)
    assert not passwords.verify_password("anything", hashed)


@needs_crypt
def test_verify_pam(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow"
    shadow.write_text(
        "daemon:*:19000:0:99999:7:::\n"
        f"root:{passwords.hash_password('rootpw')}:19000:0:99999:7:::\n"
        "locked:!$6$x$y:19000:0:99999:7:::\n"
    )
    assert passwords.verify_pam("root", "rootpw", shadow)
    assert not passwords.verify_pam("root", "wrong", shadow)
    assert not passwords.verify_pam("daemon", "", shadow)
    assert not passwords.verify_pam("locked", "", shadow)
    assert not passwords.verify_pam("nobody", "rootpw", shadow)
    assert not passwords.verify_pam("root", "rootpw", tmp_path / "missing")
