"""Finding the login ticket in a Cookie header (the API server's fast path)."""

from __future__ import annotations

import pytest

from pyxis.server.app import _cookie_ticket

TICKET = "PVE:admin@pve:6B080406::c2lnbmF0dXJl+/="
ESCAPED = "PVE%3Aadmin%40pve%3A6B080406%3A%3Ac2lnbmF0dXJl%2B%2F%3D"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"PVEAuthCookie={ESCAPED}", TICKET),
        (f"PVEAuthCookie={TICKET}", TICKET),
        (f"lang=en; PVEAuthCookie={ESCAPED}; other=1", TICKET),
        (f"lang=en;PVEAuthCookie={ESCAPED}", TICKET),
        (f'PVEAuthCookie="{ESCAPED}"', TICKET),
        (f"PVEAuthCookie={ESCAPED} ", TICKET),
        # another application's cookie the stdlib parser rejects does not hide ours
        (f'x={{"a": 1}}; PVEAuthCookie={ESCAPED}', TICKET),
        ("PVEAuthCookie=", ""),
        ("lang=en", None),
        (f"XPVEAuthCookie={ESCAPED}", None),
        ("", None),
    ],
)
def test_cookie_ticket(header: str, expected: str | None) -> None:
    assert _cookie_ticket(header) == expected
