"""The xterm.js console protocol spoken over a termproxy websocket (client -> server).

Upstream's termproxy reads the client's bytes as one stream (message boundaries of the
websocket do not matter) made of:

- the login line ``<authid>:<console ticket>\\n`` first, answered by ``OK``;
- ``0:<n>:<n bytes>`` — terminal input, ``n`` counting UTF-8 bytes;
- ``1:<cols>:<rows>:`` — the terminal was resized;
- ``2`` — a keep-alive ping.

Output towards the client is the raw terminal byte stream.  ``TermDecoder`` is the
incremental parser: ``feed`` returns the input bytes of every complete data message
and records resizes; a message split across websocket messages waits for its rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_LOGIN_LINE = 4096
# the longest length/size field the parser waits for before calling the input garbage
_MAX_NUMBER = 16


class ProtocolError(ValueError):
    """The client sent something that is not the xterm.js console protocol."""


def split_login(line: bytes) -> tuple[str, str]:
    """``b"user@realm:PVEVNC:...\\n"`` -> (authid, ticket)."""
    text = line.rstrip(b"\r\n").decode("utf-8", errors="replace")
    authid, sep, ticket = text.partition(":")
    if not sep or not authid or not ticket:
        raise ProtocolError("malformed login line")
    return authid, ticket


@dataclass
class TermDecoder:
    """Incremental parser of the client stream after the login line."""

    size: tuple[int, int] | None = None  # (cols, rows) of the last resize
    pings: int = 0
    _buf: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> bytes:
        """Consume ``data``; return the terminal input it completes (maybe empty)."""
        self._buf += data
        out = bytearray()
        while self._buf:
            kind = self._buf[0:1]
            if kind == b"2":
                del self._buf[0]
                self.pings += 1
                continue
            if kind == b"0":
                parsed = self._fields(1)
                if parsed is None:
                    break
                (length,), start = parsed
                if len(self._buf) < start + length:
                    break
                out += self._buf[start : start + length]
                del self._buf[: start + length]
                continue
            if kind == b"1":
                parsed = self._fields(2)
                if parsed is None:
                    break
                (cols, rows), start = parsed
                self.size = (cols, rows)
                del self._buf[:start]
                continue
            raise ProtocolError(f"unknown message type {bytes(kind)!r}")
        return bytes(out)

    def _fields(self, count: int) -> tuple[tuple[int, ...], int] | None:
        """Parse ``<type>:<n>:`` (``count`` numbers); None while incomplete.

        Returns the numbers and the offset just past the last ``:``.
        """
        pos = 1
        numbers: list[int] = []
        for _ in range(count):
            if len(self._buf) <= pos:
                return None
            if self._buf[pos : pos + 1] != b":":
                raise ProtocolError("expected ':'")
            end = self._buf.find(b":", pos + 1)
            if end < 0:
                if len(self._buf) - pos > _MAX_NUMBER:
                    raise ProtocolError("length field too long")
                return None
            digits = bytes(self._buf[pos + 1 : end])
            if not digits.isdigit() or len(digits) > _MAX_NUMBER:
                raise ProtocolError("bad number")
            numbers.append(int(digits))
            pos = end
        return tuple(numbers), pos + 1
