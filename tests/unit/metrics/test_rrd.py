"""Round-robin archives: consolidation, gaps, wraparound and persistence of ``RrdFile``."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from pyxis.metrics.rrd import STEP, TIMEFRAMES, RrdError, RrdFile

# aligned to every row width (the decade row is 8 weeks), so row 0 starts at T0
T0 = 4_838_400 * 350
MIN = STEP


def feed(rf: RrdFile, samples: list[tuple[float, float | None]], metric: str = "x") -> None:
    for offset, value in samples:
        rf.update(T0 + offset, {metric: value})


def per_minute(values: list[float | None], start: int = 0) -> list[tuple[float, float | None]]:
    """One sample in the middle of each minute from ``start``."""
    return [((start + i) * MIN + 30, v) for i, v in enumerate(values)]


def column(rf: RrdFile, tf: str, cf: str, now: float, metric: str = "x") -> dict[int, float | None]:
    """Row start (offset from T0) -> value, for the rows at or after T0."""
    return {int(p["time"] - T0): p[metric] for p in rf.fetch(tf, cf, T0 + now) if p["time"] >= T0}


CASES = [
    (
        "hour: samples within a minute are averaged into one point",
        [(0, 1.0), (10, 3.0), (20, 5.0), (60, 7.0)],
        ("hour", "AVERAGE", 60),
        {0: 3.0, 60: 7.0},
    ),
    (
        "hour: MAX consolidates points, so one point per row equals its average",
        [(0, 1.0), (10, 3.0), (20, 5.0), (60, 7.0)],
        ("hour", "MAX", 60),
        {0: 3.0, 60: 7.0},
    ),
    (
        "day: a 30-minute row averages its 30 points",
        per_minute([float(i) for i in range(31)]),
        ("day", "AVERAGE", 30 * MIN + 30),
        {0: 14.5, 1800: 30.0},
    ),
    (
        "day: MAX keeps the largest point of the row",
        per_minute([float(i % 7) for i in range(31)]),
        ("day", "MAX", 30 * MIN + 30),
        {0: 6.0, 1800: 2.0},
    ),
    (
        "hour: minutes without samples are gaps",
        [(30, 1.0), (5 * MIN + 30, 2.0)],
        ("hour", "AVERAGE", 5 * MIN + 30),
        {0: 1.0, 60: None, 120: None, 180: None, 240: None, 300: 2.0},
    ),
    (
        "hour: an unknown value is a gap, not a zero",
        [(0, 4.0), (30, None), (MIN, None), (2 * MIN, 1.0)],
        ("hour", "AVERAGE", 2 * MIN),
        {0: 4.0, 60: None, 120: 1.0},
    ),
    (
        "day: a row with fewer than half of its points known is unknown",
        per_minute([1.0] * 14 + [None] * 16 + [5.0]),
        ("day", "AVERAGE", 30 * MIN + 30),
        {0: None, 1800: 5.0},
    ),
    (
        "day: a row with half of its points known is known",
        per_minute([1.0] * 15 + [None] * 15 + [5.0]),
        ("day", "AVERAGE", 30 * MIN + 30),
        {0: 1.0, 1800: 5.0},
    ),
    (
        "day: the open row shows the points so far",
        per_minute([2.0, 4.0, 6.0]),
        ("day", "AVERAGE", 2 * MIN + 40),
        {0: 4.0},
    ),
    (
        "week: 3-hour rows consolidate 180 points",
        per_minute([1.0] * 180 + [3.0] * 180 + [9.0]),
        ("week", "AVERAGE", 360 * MIN + 30),
        {0: 1.0, 10800: 3.0, 21600: 9.0},
    ),
]


@pytest.mark.parametrize(
    ("samples", "query", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_consolidation(
    samples: list[tuple[float, float | None]],
    query: tuple[str, str, float],
    expected: dict[int, float | None],
) -> None:
    rf = RrdFile(["x"])
    feed(rf, samples)
    tf, cf, now = query
    assert column(rf, tf, cf, now) == pytest.approx(expected)


@pytest.mark.parametrize("tf", list(TIMEFRAMES))
def test_every_timeframe_answers_its_rows_ending_now(tf: str) -> None:
    rf = RrdFile(["x", "y"])
    rf.update(T0 + 1, {"x": 1.0})
    width = TIMEFRAMES[tf].seconds
    rows = rf.fetch(tf, "AVERAGE", T0 + 1)
    assert len(rows) == 70
    assert rows[-1]["time"] == T0 and rows[0]["time"] == T0 - 69 * width
    assert [r["time"] - rows[0]["time"] for r in rows] == [i * width for i in range(70)]
    assert set(rows[-1]) == {"time", "x", "y"}
    assert rows[-1]["x"] == 1.0 and rows[-1]["y"] is None


def test_wraparound_keeps_the_newest_rows() -> None:
    rf = RrdFile(["x"])
    feed(rf, per_minute([float(i) for i in range(200)]))
    rows = rf.fetch("hour", "AVERAGE", T0 + 199 * MIN + 30)
    assert [r["time"] - T0 for r in rows] == [m * MIN for m in range(130, 200)]
    assert [r["x"] for r in rows] == [float(m) for m in range(130, 200)]


def test_rows_older_than_the_archive_are_gaps_after_a_long_pause() -> None:
    rf = RrdFile(["x"])
    feed(rf, per_minute([1.0] * 5))
    started = time.monotonic()
    feed(rf, [(20 * 86400 + 30, 2.0), (20 * 86400 + 90, 3.0)])  # 20 days later
    assert time.monotonic() - started < 0.5
    now = 20 * 86400 + 90
    hour = column(rf, "hour", "AVERAGE", now)
    assert hour[20 * 86400] == 2.0 and hour[20 * 86400 + 60] == 3.0
    assert sum(v is not None for v in hour.values()) == 2
    # month rows are 12 h wide: the first samples are still in the archive
    month = column(rf, "month", "AVERAGE", now)
    assert month[0] is None  # 5 of 720 points known
    assert all(v is None for k, v in month.items() if 0 < k < 20 * 86400)


def test_a_sample_not_newer_than_the_last_is_dropped() -> None:
    rf = RrdFile(["x"])
    rf.update(T0 + 10, {"x": 1.0})
    assert rf.update(T0 + 10, {"x": 100.0}) is False
    assert rf.update(T0 + 5, {"x": 100.0}) is False
    assert column(rf, "hour", "AVERAGE", 10) == {0: 1.0}


def test_update_reports_a_completed_point() -> None:
    rf = RrdFile(["x"])
    assert [rf.update(T0 + t, {"x": 1.0}) for t in (0, 30, 59, 60, 61, 185)] == [
        False,
        False,
        False,
        True,
        False,
        True,
    ]


def test_unknown_archive_is_an_error() -> None:
    with pytest.raises(RrdError):
        RrdFile(["x"]).fetch("century", "AVERAGE", T0)
    with pytest.raises(RrdError):
        RrdFile(["x"]).fetch("hour", "MIN", T0)


# --- persistence ----------------------------------------------------------------------


def test_reload_continues_where_it_stopped(tmp_path: Path) -> None:
    samples = per_minute([float(i % 11) for i in range(100)])
    before, after = [*samples[:57], (57 * MIN + 5, 3.0)], samples[57:]
    whole = RrdFile(["x", "y"])
    feed(whole, before + after)
    split = RrdFile(["x", "y"])
    feed(split, before)  # stops in the middle of a minute
    split.save(tmp_path / "f")
    again = RrdFile.load(tmp_path / "f")
    assert again.metrics == ("x", "y")
    feed(again, after)
    now = T0 + 100 * MIN
    for tf in TIMEFRAMES:
        for cf in ("AVERAGE", "MAX"):
            assert again.fetch(tf, cf, now) == whole.fetch(tf, cf, now), (tf, cf)


def test_reload_matches_columns_by_name() -> None:
    old = RrdFile(["a", "b"])
    for i in range(3):
        old.update(T0 + i * MIN + 1, {"a": 1.0, "b": 2.0})
    new = RrdFile.loads(old.dumps(), metrics=["b", "c"])
    rows = new.fetch("hour", "AVERAGE", T0 + 2 * MIN + 1)[-3:]
    assert [(r["b"], r["c"]) for r in rows] == [(2.0, None)] * 3
    assert "a" not in rows[0]


def test_file_is_replaced_atomically(tmp_path: Path) -> None:
    rf = RrdFile(["x"])
    rf.update(T0, {"x": 1.0})
    rf.save(tmp_path / "f")
    rf.update(T0 + MIN, {"x": 2.0})
    rf.save(tmp_path / "f")
    assert [p.name for p in tmp_path.iterdir()] == ["f"]
    size = len(rf.dumps())
    # rings: 6 timeframes x 2 functions x 70 rows x 1 metric, 8 bytes each
    assert size > 6 * 2 * 70 * 8


@pytest.mark.parametrize(
    ("desc", "data"),
    [
        ("empty", b""),
        ("wrong magic", b"RRD\x00" * 10),
        ("truncated header", RrdFile(["x"]).dumps()[:20]),
        ("truncated rings", RrdFile(["x"]).dumps()[:-8]),
    ],
)
def test_broken_files_are_refused(desc: str, data: bytes) -> None:
    with pytest.raises(RrdError):
        RrdFile.loads(data)


def test_nan_never_leaks_into_fetch() -> None:
    rf = RrdFile(["x"])
    rf.update(T0, {"x": math.nan})
    rf.update(T0 + MIN, {"x": 1.0})
    assert column(rf, "hour", "AVERAGE", MIN) == {0: None, 60: 1.0}
