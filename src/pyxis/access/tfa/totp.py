"""TOTP second factors (RFC 6238) as ``otpauth://totp/...`` URIs, checked with ``pyotp``.

An entry stores the URI the client generated (secret, digits, period, algorithm) and
the last time step that was accepted: a code is valid for the current step and one step
either side (clock drift), and a step at or before the last accepted one is refused so
that an observed code cannot be replayed within its window.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qs, urlparse

import pyotp

from pyxis.errors import ParamError

DRIFT_STEPS = 1
_DIGESTS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


def parse_uri(uri: str) -> pyotp.TOTP:
    """A TOTP generator from an ``otpauth://totp/`` URI; ParamError if it is not one."""
    parsed = urlparse(uri)
    if parsed.scheme != "otpauth" or parsed.netloc != "totp":
        raise ParamError.one("totp", "not an otpauth://totp/ URI")
    query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    secret = query.get("secret", "")
    algorithm = query.get("algorithm", "SHA1").upper()
    try:
        digits = int(query.get("digits", "6"))
        period = int(query.get("period", "30"))
        totp = pyotp.TOTP(secret, digits=digits, interval=period, digest=_DIGESTS[algorithm])
        totp.byte_secret()
    except (KeyError, ValueError, TypeError) as err:
        raise ParamError.one("totp", f"invalid TOTP URI: {err}") from err
    if not 6 <= digits <= 8 or not 10 <= period <= 300 or len(totp.byte_secret()) < 10:
        raise ParamError.one("totp", "TOTP URI: secret too short or bad digits/period")
    return totp


def match_step(uri: str, code: str, now: int, last_step: int | None) -> int | None:
    """The time step ``code`` belongs to, if valid now and newer than ``last_step``."""
    totp = parse_uri(uri)
    code = code.strip()
    if not code.isdigit() or len(code) != totp.digits:
        return None
    current = now // totp.interval
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue
        expected = totp.generate_otp(step)
        if hmac.compare_digest(expected.encode(), code.encode()):
            return step
    return None
