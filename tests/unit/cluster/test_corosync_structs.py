"""Layouts of the ctypes mirrors of corosync's C structs, error mapping, state guards.

Sizes and offsets are those of the x86_64 headers (``corosync/cpg.h``, ``votequorum.h``,
``quorum.h``); no daemon is needed.
"""

from __future__ import annotations

import ctypes

import pytest

from pyxis.cluster.corosync import ConnState, CorosyncError, CsError, StateError
from pyxis.cluster.corosync._lib import check, cs_error_name
from pyxis.cluster.corosync.cpg import CpgAddress, CpgCallbacks, CpgClient, CpgName, IoVec
from pyxis.cluster.corosync.quorum import (
    QuorumCallbacks,
    RingId,
    VoteFlag,
    VoteInfo,
    VotequorumCallbacks,
    VotequorumInfoStruct,
    VotequorumNode,
)
from pyxis.errors import PyxisError

PTR = ctypes.sizeof(ctypes.c_void_p)

STRUCTS = [
    # (struct, size, {field: offset})
    (CpgName, 132, {"length": 0, "value": 4}),
    (CpgAddress, 12, {"nodeid": 0, "pid": 4, "reason": 8}),
    (IoVec, 2 * PTR, {"iov_base": 0, "iov_len": PTR}),
    (CpgCallbacks, 2 * PTR, {"deliver_fn": 0, "confchg_fn": PTR}),
    (
        VotequorumInfoStruct,
        292,
        {"node_id": 0, "total_votes": 20, "flags": 28, "qdevice_votes": 32, "qdevice_name": 36},
    ),
    (VotequorumNode, 8, {"nodeid": 0, "state": 4}),
    (RingId, 16, {"nodeid": 0, "seq": 8}),
    (VotequorumCallbacks, 3 * PTR, {"quorum_notify_fn": 0, "nodelist_notify_fn": 2 * PTR}),
    (QuorumCallbacks, PTR, {"quorum_notify_fn": 0}),
]


@pytest.mark.parametrize(
    ("struct", "size", "offsets"), STRUCTS, ids=lambda v: getattr(v, "__name__", "")
)
def test_struct_layout(struct: type[ctypes.Structure], size: int, offsets: dict[str, int]) -> None:
    assert ctypes.sizeof(struct) == size
    for field, off in offsets.items():
        assert getattr(struct, field).offset == off, field


ERRORS = [
    # (code, name, retryable)
    (2, "CS_ERR_LIBRARY", False),
    (6, "CS_ERR_TRY_AGAIN", True),
    (9, "CS_ERR_BAD_HANDLE", False),
    (12, "CS_ERR_NOT_EXIST", False),
    (30, "CS_ERR_TOO_MANY_GROUPS", False),
    (100, "CS_ERR_SECURITY", False),
    (29, "CS_ERR_UNKNOWN(29)", False),
]


@pytest.mark.parametrize(("code", "name", "retryable"), ERRORS)
def test_error_mapping(code: int, name: str, retryable: bool) -> None:
    assert cs_error_name(code) == name
    with pytest.raises(CorosyncError) as info:
        check(code, "cpg_join")
    err = info.value
    assert isinstance(err, PyxisError)
    assert (err.code, err.name, err.call, err.retryable) == (code, name, "cpg_join", retryable)
    assert name in str(err) and err.status == 500


def test_ok_does_not_raise() -> None:
    check(CsError.CS_OK, "anything")


def test_cpg_name() -> None:
    name = CpgName.of("pve_dcdb_v1")
    assert (name.length, name.text()) == (11, "pve_dcdb_v1")
    assert CpgName.of("x" * 128).text() == "x" * 128
    with pytest.raises(CorosyncError) as info:
        CpgName.of("x" * 129)
    assert info.value.name == "CS_ERR_NAME_TOO_LONG"


def test_vote_info_from_struct() -> None:
    s = VotequorumInfoStruct(
        node_id=2,
        node_state=1,
        node_votes=1,
        node_expected_votes=3,
        highest_expected=3,
        total_votes=3,
        quorum=2,
        flags=2,
        qdevice_votes=0,
        qdevice_name=b"",
    )
    info = VoteInfo.from_struct(s)
    assert info.quorate and info.flags == VoteFlag.QUORATE and info.total_votes == 3
    assert not VoteInfo.from_struct(VotequorumInfoStruct(flags=1)).quorate


def test_state_guards() -> None:
    client = CpgClient()
    assert client.state is ConnState.IDLE
    with pytest.raises(StateError) as info:
        client.join("g")
    assert (info.value.state, info.value.required) == (ConnState.IDLE, ConnState.CONNECTED)
    client.close()
    assert client.state is ConnState.CLOSED
    with pytest.raises(StateError):
        client.connect()
