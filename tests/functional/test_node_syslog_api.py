"""``/nodes/{node}/syslog`` and ``/journal`` over the API, from both log sources.

The journal source runs against a fake command runner (canned ``journalctl``
output, argv recorded); the file source reads a syslog file in the test's directory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from funchelp import NODE, UserFactory

from pyxis.host import syslog
from pyxis.util import run as runmod

BASE = f"/api2/json/nodes/{NODE}"
LINES = [
    "2026-01-31T10:00:00.000000+00:00 host1 sshd[10]: Accepted publickey for root",
    "2026-01-31T11:00:00.000000+00:00 host1 pyxisd[20]: started",
    "2026-01-31T12:00:00.000000+00:00 host1 sshd[11]: Disconnected",
]


@pytest.fixture
def fake_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """journald "runs"; ``journalctl`` answers from LINES; returns the recorded argv."""
    (tmp_path / "journal").mkdir()
    monkeypatch.setattr(syslog, "JOURNAL_RUN_DIR", tmp_path / "journal")
    calls: list[list[str]] = []

    async def fake(argv: list[str], timeout: float | None, stdin: bytes | None) -> runmod.Result:
        calls.append(argv)
        if "json" in argv:
            entries = [
                {
                    "__CURSOR": f"c{i}",
                    "__REALTIME_TIMESTAMP": str(1_769_860_800_000_000 + i * 1_000_000),
                    "_HOSTNAME": "host1",
                    "SYSLOG_IDENTIFIER": "sshd",
                    "_PID": str(10 + i),
                    "MESSAGE": f"message {i}",
                }
                for i in range(3)
            ]
            if "--reverse" in argv:
                entries.reverse()
            out = "".join(json.dumps(e) + "\n" for e in entries)
        else:
            out = "".join(line + "\n" for line in LINES)
        return runmod.Result(argv, 0, out, "")

    runmod.set_runner(fake)
    try:
        yield calls
    finally:
        runmod.set_runner(None)


@pytest.fixture
def syslog_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No journald; a plain syslog file with LINES."""
    monkeypatch.setattr(syslog, "JOURNAL_RUN_DIR", tmp_path / "no-journal")
    path = tmp_path / "syslog"
    path.write_text("".join(line + "\n" for line in LINES))
    monkeypatch.setattr(syslog, "SYSTEM_LOGS", (path,))
    return path


async def test_syslog_from_journal(
    root_api: httpx.AsyncClient, fake_journal: list[list[str]]
) -> None:
    r = await root_api.get(
        f"{BASE}/syslog",
        params={"start": 1, "limit": 1, "since": "2026-01-31", "service": "ssh.service"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"] == [{"n": 2, "t": LINES[1]}] and body["total"] == 3
    argv = fake_journal[-1]
    assert argv[0] == "journalctl" and "--unit" in argv and "ssh.service" in argv
    assert argv[argv.index("--since") + 1] == "2026-01-31"


async def test_journal_from_journal(
    root_api: httpx.AsyncClient, fake_journal: list[list[str]]
) -> None:
    r = await root_api.get(f"{BASE}/journal", params={"lastentries": 3})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data[0] == "c0" and data[-1] == "c2" and len(data) == 5
    assert data[1].endswith("host1 sshd[10]: message 0")
    assert fake_journal[-1][-2:] == ["--lines", "3"]
    # older entries: backwards from the first cursor, in order again
    data = (await root_api.get(f"{BASE}/journal", params={"endcursor": "c9"})).json()["data"]
    assert data[0] == "c0" and data[-1] == "c2"
    argv = fake_journal[-1]
    assert "--reverse" in argv and argv[argv.index("--after-cursor") + 1] == "c9"
    r = await root_api.get(f"{BASE}/journal", params={"since": 1769860800, "until": 1769860900})
    argv = fake_journal[-1]
    assert argv[argv.index("--since") + 1] == "@1769860800" and argv[-2:] == ["--lines", "50000"]


async def test_syslog_from_file(root_api: httpx.AsyncClient, syslog_file: Path) -> None:
    r = await root_api.get(f"{BASE}/syslog")
    body = r.json()
    assert [x["t"] for x in body["data"]] == LINES and body["total"] == 3
    assert [x["n"] for x in body["data"]] == [1, 2, 3]
    body = (await root_api.get(f"{BASE}/syslog", params={"service": "sshd"})).json()
    assert [x["n"] for x in body["data"]] == [1, 2] and body["total"] == 2
    body = (await root_api.get(f"{BASE}/syslog", params={"since": "2027-01-01 00:00"})).json()
    assert body["data"] == [{"n": 1, "t": "no content"}]


async def test_journal_from_file_follows_cursors(
    root_api: httpx.AsyncClient, syslog_file: Path
) -> None:
    data = (await root_api.get(f"{BASE}/journal", params={"lastentries": 2})).json()["data"]
    assert data[1:-1] == LINES[1:]
    first, last = data[0], data[-1]
    older = (await root_api.get(f"{BASE}/journal", params={"endcursor": first})).json()["data"]
    assert older[1:-1] == LINES[:1]
    # nothing new yet: the cursor comes back unchanged
    newer = (await root_api.get(f"{BASE}/journal", params={"startcursor": last})).json()["data"]
    assert newer == [last, last]
    with syslog_file.open("a") as fh:
        fh.write("2026-01-31T13:00:00+00:00 host1 cron[5]: tick\n")
    newer = (await root_api.get(f"{BASE}/journal", params={"startcursor": last})).json()["data"]
    assert newer[1:-1] == ["2026-01-31T13:00:00+00:00 host1 cron[5]: tick"]
    assert newer[0] == last


@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        ("syslog", {"since": "yesterday"}, "since"),
        ("syslog", {"until": "2026-01-31T10:00"}, "until"),
        ("syslog", {"limit": "-1"}, "limit"),
        ("syslog", {"service": "x" * 129}, "service"),
        ("journal", {"since": "-5"}, "since"),
        ("journal", {"lastentries": "many"}, "lastentries"),
        ("journal", {"bogus": "1"}, "bogus"),
    ],
)
async def test_validation(
    root_api: httpx.AsyncClient, path: str, params: dict[str, str], param: str
) -> None:
    r = await root_api.get(f"{BASE}/{path}", params=params)
    assert r.status_code == 400, r.text
    assert param in r.json()["errors"]


async def test_needs_sys_syslog(user_session: UserFactory, syslog_file: Path) -> None:
    auditor = await user_session("carol@pve", role="PVEAuditor", path="/")
    for path in ("syslog", "journal"):
        r = await auditor.get(f"/nodes/{NODE}/{path}")
        assert r.status_code == 403, r.text
        assert "Sys.Syslog" in r.json()["message"]
    admin = await user_session("dave@pve", role="PVESysAdmin", path=f"/nodes/{NODE}")
    assert (await admin.get(f"/nodes/{NODE}/syslog")).status_code == 200
