"""``pvecm status``/``nodes`` text output from the daemon's quorum answer."""

from __future__ import annotations

import pytest

from pyxis.cli import pvecm

QUORUM = {
    "cluster_name": "lab",
    "config_version": 4,
    "nodeid": 2,
    "quorate": True,
    "expected_votes": 3,
    "highest_expected": 3,
    "total_votes": 3,
    "quorum": 2,
    "node_votes": 1,
    "qdevice_votes": 1,
    "qdevice_name": "Qdevice",
    "flags": ["QUORATE", "QDEVICE_REGISTERED", "QDEVICE_ALIVE"],
    "members": [
        {"nodeid": 1, "name": "n1", "ring0_addr": "192.0.2.1", "votes": 1, "online": True},
        {
            "nodeid": 2,
            "name": "n2",
            "ring0_addr": "192.0.2.2",
            "votes": 1,
            "online": True,
            "local": True,
        },
        {"nodeid": 3, "name": "n3", "ring0_addr": "192.0.2.3", "votes": 1, "online": False},
    ],
}


def test_status_sections(capsys: pytest.CaptureFixture[str]) -> None:
    pvecm._status(QUORUM, "text")
    out = capsys.readouterr().out
    for line in (
        "Cluster information",
        "Name:             lab",
        "Config Version:   4",
        "Quorate:          Yes",
        "Expected votes:   3",
        "Quorum:           2",
        "Flags:            Quorate Qdevice",
        "0x00000002          1 192.0.2.2 (local)",
        "0x00000000          1 Qdevice",
    ):
        assert line in out
    assert "192.0.2.3" not in out  # offline members are not listed


def test_nodes_table(capsys: pytest.CaptureFixture[str]) -> None:
    pvecm._nodes(QUORUM, "text")
    lines = capsys.readouterr().out.splitlines()
    assert lines[2] == "    Nodeid      Votes Name"
    assert lines[3:5] == ["         1          1 n1", "         2          1 n2 (local)"]


def test_not_quorate_says_activity_blocked(capsys: pytest.CaptureFixture[str]) -> None:
    pvecm._status({**QUORUM, "quorate": False}, "text")
    assert "Activity blocked" in capsys.readouterr().out


def test_unattended_add_must_pin_the_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a terminal nobody can compare the fingerprint: refuse rather than trust
    whatever certificate answers (the password would go to it)."""
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("secret\n"))
    contacted: list[str] = []
    monkeypatch.setattr(pvecm, "peer_fingerprint", lambda addr: contacted.append(addr) or "AA")
    with pytest.raises(pvecm.UsageError, match="--fingerprint is required"):
        pvecm._prepare_add({"hostname": "192.0.2.1"}, None)  # type: ignore[arg-type]
    assert contacted == []
