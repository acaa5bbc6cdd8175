"""The xterm.js console protocol parser: messages in any split, resizes, pings, garbage."""

from __future__ import annotations

import pytest

from pyxis.guests.termproto import ProtocolError, TermDecoder, split_login

CASES = [
    # (description, chunks fed in turn, input returned per chunk, last size, pings)
    ("one data message", [b"0:3:abc"], [b"abc"], None, 0),
    ("two in one chunk", [b"0:1:a0:2:bc"], [b"abc"], None, 0),
    ("split in the length", [b"0:1", b"0:abcdefghij"], [b"", b"abcdefghij"], None, 0),
    ("split in the data", [b"0:4:ab", b"cd"], [b"", b"abcd"], None, 0),
    ("split after the type", [b"0", b":2:x", b"y"], [b"", b"", b"xy"], None, 0),
    ("utf-8 byte count", ["0:3:h\u00e9".encode()], ["h\u00e9".encode()], None, 0),
    ("data may hold colons", [b"0:3:a:b"], [b"a:b"], None, 0),
    ("empty data", [b"0:0:"], [b""], None, 0),
    ("resize", [b"1:80:24:"], [b""], (80, 24), 0),
    ("resize split", [b"1:132:", b"43:0:1:z"], [b"", b"z"], (132, 43), 0),
    ("pings between data", [b"20:1:x22"], [b"x"], None, 3),
]


@pytest.mark.parametrize(
    ("chunks", "outputs", "size", "pings"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_decoder(
    chunks: list[bytes], outputs: list[bytes], size: tuple[int, int] | None, pings: int
) -> None:
    dec = TermDecoder()
    assert [dec.feed(chunk) for chunk in chunks] == outputs
    assert dec.size == size
    assert dec.pings == pings


@pytest.mark.parametrize(
    "garbage", [b"x", b"0;3:abc", b"0:a:b", b"1:80:x:", b"0:" + b"9" * 40], ids=repr
)
def test_decoder_rejects_garbage(garbage: bytes) -> None:
    with pytest.raises(ProtocolError):
        TermDecoder().feed(garbage)


def test_split_login() -> None:
    assert split_login(b"root@pam:PVEVNC:6A1B2C3D::c2ln\n") == ("root@pam", "PVEVNC:6A1B2C3D::c2ln")
    for bad in (b"\n", b"root@pam\n", b":ticket\n", b"root@pam:\n"):
        with pytest.raises(ProtocolError):
            split_login(bad)
