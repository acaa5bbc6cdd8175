"""UPID parsing, rendering and log-file placement, table-driven."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pyxis.errors import ParamError
from pyxis.tasks.upid import UPID, log_path

ROUND_TRIP = [
    {
        "description": "vm start",
        "input": "UPID:pve1:000A1B2C:0012D687:65F1A2B3:qmstart:100:root@pam:",
        "expected": UPID("pve1", 0xA1B2C, 0x12D687, 0x65F1A2B3, "qmstart", "100", "root@pam"),
    },
    {
        "description": "empty id, 9-digit pstart, token user",
        "input": "UPID:node-a:00000001:1000000AB:00000000:vzdump::alice@pve!ci:",
        "expected": UPID("node-a", 1, 0x1000000AB, 0, "vzdump", "", "alice@pve!ci"),
    },
    {
        "description": "id with slash and dash",
        "input": "UPID:n:FFFFFFFF:FFFFFFFF:FFFFFFFF:imgcopy:local/vm-1-disk-0:root@pam:",
        "expected": UPID(
            "n", 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, "imgcopy", "local/vm-1-disk-0", "root@pam"
        ),
    },
]

REJECT = [
    {"description": "empty", "input": ""},
    {"description": "no trailing colon", "input": "UPID:n:00000001:00000001:00000001:t:1:u"},
    {"description": "lowercase hex", "input": "UPID:n:0000000a:00000001:00000001:t:1:u:"},
    {"description": "short pid", "input": "UPID:n:0001:00000001:00000001:t:1:u:"},
    {"description": "10-digit pstart", "input": "UPID:n:00000001:0000000001:00000001:t:1:u:"},
    {"description": "empty type", "input": "UPID:n:00000001:00000001:00000001::1:u:"},
    {"description": "empty user", "input": "UPID:n:00000001:00000001:00000001:t:1::"},
    {"description": "extra field", "input": "UPID:n:00000001:00000001:00000001:t:1:u:x:"},
    {"description": "bad node", "input": "UPID:-n:00000001:00000001:00000001:t:1:u:"},
    {"description": "space in id", "input": "UPID:n:00000001:00000001:00000001:t:a b:u:"},
    {"description": "wrong prefix", "input": "upid:n:00000001:00000001:00000001:t:1:u:"},
    {"description": "trailing newline", "input": "UPID:n:00000001:00000001:00000001:t:1:u:\n"},
]

BAD_FIELDS = [
    {"description": "colon in type", "fields": {"type": "a:b"}, "param": "type"},
    {"description": "colon in id", "fields": {"id": "1:2"}, "param": "id"},
    {"description": "space in user", "fields": {"user": "a b"}, "param": "user"},
    {"description": "empty type", "fields": {"type": ""}, "param": "type"},
    {"description": "negative pid", "fields": {"pid": -1}, "param": "pid"},
    {"description": "starttime too big", "fields": {"starttime": 1 << 32}, "param": "starttime"},
    {"description": "pstart too big", "fields": {"pstart": 1 << 36}, "param": "pstart"},
    {"description": "bad node", "fields": {"node": "a_b"}, "param": "node"},
]


@pytest.mark.parametrize("case", ROUND_TRIP, ids=lambda c: c["description"])
def test_round_trip(case: dict[str, Any]) -> None:
    parsed = UPID.parse(str(case["input"]))
    assert parsed == case["expected"]
    assert str(parsed) == case["input"]


@pytest.mark.parametrize("case", REJECT, ids=lambda c: c["description"])
def test_reject(case: dict[str, Any]) -> None:
    with pytest.raises(ParamError) as exc:
        UPID.parse(case["input"])
    assert exc.value.errors == {"upid": f"unable to parse worker upid '{case['input']}'"}


@pytest.mark.parametrize("case", BAD_FIELDS, ids=lambda c: c["description"])
def test_constructor_validates(case: dict[str, Any]) -> None:
    fields: dict[str, Any] = {
        "node": "n",
        "pid": 1,
        "pstart": 1,
        "starttime": 1,
        "type": "t",
        "id": "",
        "user": "u",
    }
    fields.update(case["fields"])
    with pytest.raises(ParamError) as exc:
        UPID(**fields)
    assert list(exc.value.errors) == [case["param"]]


def test_str_pads_uppercase() -> None:
    u = UPID("pve", 0xAB, 0xCD, 0x1EF, "qmstart", "100", "root@pam")
    assert str(u) == "UPID:pve:000000AB:000000CD:000001EF:qmstart:100:root@pam:"


def test_to_dict() -> None:
    u = UPID("pve", 10, 20, 30, "qmstart", "100", "root@pam")
    assert u.to_dict() == {
        "upid": str(u),
        "node": "pve",
        "pid": 10,
        "pstart": 20,
        "starttime": 30,
        "type": "qmstart",
        "id": "100",
        "user": "root@pam",
    }


@pytest.mark.parametrize(
    ("starttime", "bucket"), [(0x65F1A2B3, "3"), (0x1000000A, "A"), (0x0F, "F"), (0x10, "0")]
)
def test_log_path_bucket(starttime: int, bucket: str) -> None:
    u = UPID("pve", 1, 1, starttime, "t", "", "u")
    assert log_path(Path("/t"), u) == Path("/t") / bucket / str(u)
    assert log_path(Path("/t"), str(u)) == Path("/t") / bucket / str(u)
