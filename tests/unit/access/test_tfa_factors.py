"""TOTP step matching (drift, replay) and recovery keys, table-driven."""

from __future__ import annotations

import pyotp
import pytest

from pyxis.access.tfa import recovery, totp
from pyxis.errors import ParamError

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
URI = f"otpauth://totp/x?secret={SECRET}&period=30&digits=6"
NOW = 1_700_000_010
STEP = NOW // 30


@pytest.mark.parametrize(
    ("desc", "code_at", "last_step", "expected"),
    [
        ("current step", NOW, None, STEP),
        ("one step behind (drift)", NOW - 30, None, STEP - 1),
        ("one step ahead (drift)", NOW + 30, None, STEP + 1),
        ("two steps behind", NOW - 60, None, None),
        ("replay of the last accepted step", NOW, STEP, None),
        ("older than the last accepted step", NOW - 30, STEP - 1, None),
        ("newer than the last accepted step", NOW, STEP - 1, STEP),
    ],
)
def test_match_step(desc: str, code_at: int, last_step: int | None, expected: int | None) -> None:
    code = pyotp.TOTP(SECRET).at(code_at)
    assert totp.match_step(URI, code, NOW, last_step) == expected, desc


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", " 12 34 "])
def test_match_step_rejects_malformed(code: str) -> None:
    assert totp.match_step(URI, code, NOW, None) is None


@pytest.mark.parametrize(
    "uri",
    [
        "https://example.com/",
        "otpauth://hotp/x?secret=" + SECRET,
        "otpauth://totp/x?secret=ABC",
        f"otpauth://totp/x?secret={SECRET}&digits=4",
        f"otpauth://totp/x?secret={SECRET}&algorithm=MD5",
    ],
)
def test_parse_uri_rejects(uri: str) -> None:
    with pytest.raises(ParamError):
        totp.parse_uri(uri)


def test_recovery_keys_are_single_use() -> None:
    record, keys = recovery.generate(NOW)
    assert len(keys) == recovery.COUNT and len(set(keys)) == recovery.COUNT
    assert all(k not in str(record) for k in keys)
    assert recovery.consume(record, keys[2].upper())
    assert not recovery.consume(record, keys[2])
    assert recovery.available(record) == [i for i in range(recovery.COUNT) if i != 2]
    assert not recovery.consume(record, "0000-0000-0000-0000")
