"""The plain-file log reader: stamps, tags, and reading lines backwards in blocks."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pyxis.host import logfile
from pyxis.host.journalctl import format_entry, journal_argv
from pyxis.host.syslog import JournalQuery


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("2026-01-31T10:00:00.5+00:00 h sshd[1]: x", "2026-01-31 10:00:00"),
        ("Jan 31 10:00:00 h sshd[1]: x", "2026 Jan 31 10:00:00"),
        ("Feb  3 01:02:03 h kernel: x", "2026 Feb 3 01:02:03"),
        ("  continuation", None),
    ],
)
def test_line_time(line: str, expected: str | None) -> None:
    got = logfile.line_time(line, year=2026)
    if expected is None:
        assert got is None
    else:
        fmt = "%Y-%m-%d %H:%M:%S" if "-" in expected else "%Y %b %d %H:%M:%S"
        assert got == time.mktime(time.strptime(expected, fmt))


@pytest.mark.parametrize(
    ("line", "tag"),
    [
        ("2026-01-31T10:00:00+00:00 host sshd[10]: hello", "sshd"),
        ("Jan 31 10:00:00 host pvedaemon: hello", "pvedaemon"),
        ("Jan  1 10:00:00 host kernel: [ 1.0] x", "kernel"),
        ("garbage", None),
    ],
)
def test_line_tag(line: str, tag: str | None) -> None:
    assert logfile.line_tag(line) == tag


@pytest.mark.parametrize("block", [1, 3, 7, 64 * 1024])
def test_backward_matches_forward(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(logfile, "BLOCK", block)
    path = tmp_path / "log"
    path.write_bytes(b"one\n\ntwo two\nthree\npartial")
    forward = list(logfile._forward(path))
    assert [t for _s, _e, t in forward] == ["one", "", "two two", "three"]
    backward = list(logfile._backward(path, path.stat().st_size))
    assert backward == forward[::-1]
    # from the middle (the start of "three")
    assert list(logfile._backward(path, forward[3][0])) == forward[:3][::-1]


def test_cursor_roundtrip() -> None:
    assert logfile.parse_cursor("file:42") == 42
    assert logfile.parse_cursor("s=abc") is None
    assert logfile.parse_cursor(None) is None


def test_journal_argv_modes() -> None:
    assert journal_argv(JournalQuery())[-2:] == ["--lines", "50"]
    argv = journal_argv(JournalQuery(startcursor="c1"))
    assert argv[argv.index("--after-cursor") + 1] == "c1" and argv[-2:] == ["--lines", "50000"]
    assert journal_argv(JournalQuery(lastentries=10**9))[-2:] == ["--lines", "50000"]
    argv = journal_argv(JournalQuery(endcursor="c1", lastentries=5))
    assert "--reverse" in argv and "--lines" not in argv


def test_format_entry_handles_binary_and_multiline() -> None:
    line = format_entry({"__REALTIME_TIMESTAMP": "0", "MESSAGE": [104, 105, 10, 33], "_COMM": "x"})
    assert line.endswith("localhost x: hi !")
