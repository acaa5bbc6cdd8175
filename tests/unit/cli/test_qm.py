"""``qm``'s pure parts: upstream's text formats, option splitting, terminal helpers.

Table-driven: each case is (description, input, expected).  The subcommands
themselves run against a real daemon in ``tests/system/test_qm_cli.py``.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from pyxis.cli import qm
from pyxis.cli.client import ApiError
from pyxis.cli.common import UsageError
from pyxis.cli.qm_terminal import escape_byte, pick_iface


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain text", "plain text"),
        ("two\nlines", "two%0Alines"),
        ("key: value", "key%3A value"),
        ("100%", "100%25"),
        ("tab\there", "tab%09here"),
        ("grüße", "gr%C3%BC%C3%9Fe"),
    ],
)
def test_encode_text(text: str, expected: str) -> None:
    assert qm.encode_text(text) == expected


PENDING_CASES: list[tuple[str, list[dict[str, Any]], list[str]]] = [
    ("current only", [{"key": "memory", "value": "64"}], ["cur memory: 64"]),
    (
        "changed",
        [{"key": "memory", "value": "64", "pending": "128"}],
        ["cur memory: 64", "new memory: 128"],
    ),
    ("new key", [{"key": "name", "pending": "web"}], ["new name: web"]),
    ("deleted", [{"key": "name", "value": "web", "delete": 1}], ["del name: web"]),
    ("delete of a missing key prints nothing", [{"key": "tags", "delete": 1}], []),
    (
        "sorted, digest skipped, description escaped",
        [
            {"key": "name", "value": "b"},
            {"key": "digest", "value": "x"},
            {"key": "description", "value": "a\nb"},
        ],
        ["cur description: a%0Ab", "cur name: b"],
    ),
]


@pytest.mark.parametrize(
    ("data", "expected"), [pytest.param(c[1], c[2], id=c[0]) for c in PENDING_CASES]
)
def test_format_pending(
    data: list[dict[str, Any]], expected: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    qm.format_pending(data, "text")
    assert capsys.readouterr().out.splitlines() == expected


def test_snapshot_tree(capsys: pytest.CaptureFixture[str]) -> None:
    """Upstream: printf("%s %-${len}s %-23s %s", prefix, name, time, first line), len 30-prefix."""
    stamp = {t: time.strftime("%F %H:%M:%S", time.localtime(t)) for t in (1700000000, 1700000100)}
    data = [
        {"name": "current", "parent": "second", "description": "You are here!"},
        {"name": "second", "parent": "first", "snaptime": 1700000100, "description": ""},
        {"name": "first", "snaptime": 1700000000, "description": "base\nmore"},
    ]
    qm.snapshot_tree(data, "text")
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"`-> {'first':<27} {stamp[1700000000]:<23} base",
        f" `-> {'second':<26} {stamp[1700000100]:<23} no-description",
        f"  `-> {'current':<25} {'':<23} You are here!",
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"result": {}}, ""),
        ({"result": "text\n"}, "text\n"),
        ({"result": {"b": 1, "a": [1]}}, '{\n   "a" : [\n      1\n   ],\n   "b" : 1\n}\n'),
        ({"exitcode": 0, "exited": 1}, '{\n   "exitcode" : 0,\n   "exited" : 1\n}\n'),
    ],
)
def test_agent_result(data: Any, expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    qm.agent_result(data, "text")
    assert capsys.readouterr().out == expected


def test_list_format(capsys: pytest.CaptureFixture[str]) -> None:
    qm._list(
        [
            {"vmid": 101, "name": "b", "status": "stopped", "maxmem": 512 << 20},
            {"vmid": 100, "name": "a", "status": "running", "qmpstatus": "paused",
             "maxmem": 256 << 20, "maxdisk": 3 << 29, "pid": 42},
        ],
        "text",
    )  # fmt: skip
    assert capsys.readouterr().out.splitlines() == [
        "      VMID NAME                 STATUS     MEM(MB)    BOOTDISK(GB) PID       ",
        "       100 a                    paused     256                1.50 42        ",
        "       101 b                    stopped    512                0.00 0         ",
    ]


def test_pretty_cmdline() -> None:
    argv = ["/usr/bin/qemu", "-name", "a b", "-S", "-m", "64"]
    assert qm.pretty_cmdline(argv) == "/usr/bin/qemu \\\n  -name 'a b' \\\n  -S \\\n  -m 64"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["100"], (["100"], {}, [])),
        (["100", "--verbose"], (["100"], {"verbose": "1"}, [])),
        (["100", "--verbose", "0"], (["100"], {"verbose": "0"}, [])),
        (["--timeout=5", "100"], (["100"], {"timeout": "5"}, [])),
        (
            ["100", "--timeout", "5", "--", "ls", "--all"],
            (["100"], {"timeout": "5"}, ["ls", "--all"]),
        ),
        (["100", "ls", "-l"], (["100", "ls", "-l"], {}, [])),
    ],
)
def test_local_options(args: list[str], expected: Any) -> None:
    assert qm.local_options(args, {"verbose"}, {"timeout"}, stop_at_dashes=True) == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--bogus"], "unknown option"), (["--timeout"], "needs a value")],
)
def test_local_options_errors(args: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        qm.local_options(args, set(), {"timeout"})


@pytest.mark.parametrize(
    ("spec", "expected"), [("^O", 0x0F), ("^c", 0x03), ("q", ord("q")), ("0", None)]
)
def test_escape_byte(spec: str, expected: int | None) -> None:
    assert escape_byte(spec) == expected


def test_escape_byte_rejects_junk() -> None:
    with pytest.raises(UsageError):
        escape_byte("^^x")


@pytest.mark.parametrize(
    ("conf", "iface", "expected"),
    [
        ({"serial1": "socket"}, None, "serial1"),
        ({"serial0": "/dev/ttyS0", "serial2": "socket"}, None, "serial2"),
        ({"serial0": "socket"}, "serial0", "serial0"),
        ({}, None, "unable to find a serial interface"),
        ({}, "serial1", "serial interface 'serial1' is not configured"),
        ({"serial0": "/dev/ttyS0"}, "serial0", "wrong serial type on interface 'serial0'"),
    ],
)
def test_pick_iface(conf: dict[str, object], iface: str | None, expected: str) -> None:
    if expected.startswith("serial") and " " not in expected:
        assert pick_iface(conf, iface) == expected
    else:
        with pytest.raises(ApiError, match=expected):
            pick_iface(conf, iface)


def test_every_table_path_is_upstream_or_extension() -> None:
    import json
    from importlib import resources

    upstream = json.loads(resources.files("pyxis.data").joinpath("schema.json").read_text())
    for name, cmd in qm.TABLE.items():
        assert cmd.http in upstream.get(cmd.path, {}), f"qm {name}: {cmd.http} {cmd.path}"
