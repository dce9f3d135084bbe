"""Many capture files read as one timeline (``arb/marketdata/timeline.py``): the bundled real capture split
into day-files reads back as the whole file; files out of time order, or naming nothing, are one error."""

from __future__ import annotations

from pathlib import Path

import pytest

from arb.errors import CaptureFormatError
from arb.marketdata.capture import CaptureEvent, CaptureWriter, read_capture
from arb.marketdata.timeline import capture_files, read_timeline

BUNDLED = Path(__file__).resolve().parents[2] / "arb/data/linkusdt-binance-huobi-2021-08-20.jsonl.gz"
FIRST_20_MIN = 20 * 60 * 1000


def _window() -> list[CaptureEvent]:
    events = read_capture(BUNDLED)
    first = next(events)
    out = [first]
    for event in events:
        if event.ts >= first.ts + FIRST_20_MIN:
            break
        out.append(event)
    return out


def _write(path: Path, events: list[CaptureEvent]) -> Path:
    with CaptureWriter(path) as writer:
        writer.write_all(events)
    return path


def _snapshot(ts: int, venue: str = "binance") -> CaptureEvent:
    return CaptureEvent(ts, venue, "LINK/USDT", "snapshot", (("10", "1"),), (("11", "1"),))


def test_day_files_read_as_the_whole_capture(tmp_path: Path) -> None:
    whole = _window()
    cut = whole[len(whole) // 3].ts
    first = [e for e in whole if e.ts < cut]
    second = [e for e in whole if e.ts >= cut]
    days = tmp_path / "days"
    days.mkdir()
    # Named so that name order is time order; written out of that order, and a file that is not a capture.
    _write(days / "2021-08-20b.jsonl.gz", second)
    _write(days / "2021-08-20a.jsonl", first)
    (days / "notes.txt").write_text("not a capture")
    assert [p.name for p in capture_files(days)] == ["2021-08-20a.jsonl", "2021-08-20b.jsonl.gz"]
    assert capture_files(days / "*.jsonl*") == capture_files(days)
    assert list(read_timeline(days)) == whole
    assert list(read_timeline(days / "*.jsonl*")) == whole
    assert list(read_timeline(days / "2021-08-20a.jsonl")) == first  # one file is a timeline of one


def test_a_file_starting_before_the_previous_one_ends_is_one_error_naming_both(tmp_path: Path) -> None:
    later = _write(tmp_path / "day-1.jsonl", [_snapshot(2_000), _snapshot(5_000)])
    earlier = _write(tmp_path / "day-2.jsonl", [_snapshot(4_999), _snapshot(9_000)])
    with pytest.raises(CaptureFormatError) as caught:
        list(read_timeline(tmp_path / "day-*.jsonl"))
    assert str(caught.value) == (
        f"{earlier}:1: starts at ts 4999, before {later} ends (ts 5000): the files of one timeline must "
        "follow each other in time, in name order")


def test_a_file_may_start_at_the_instant_the_previous_one_ends(tmp_path: Path) -> None:
    _write(tmp_path / "a.jsonl", [_snapshot(1_000), _snapshot(5_000)])
    _write(tmp_path / "b.jsonl", [_snapshot(5_000, "huobi"), _snapshot(6_000)])
    assert [e.ts for e in read_timeline(tmp_path)] == [1_000, 5_000, 5_000, 6_000]


def test_a_book_snapshotted_in_one_file_takes_deltas_in_the_next(tmp_path: Path) -> None:
    delta = CaptureEvent(2_000, "binance", "LINK/USDT", "delta", (("10", "2"),), ())
    _write(tmp_path / "a.jsonl", [_snapshot(1_000)])
    _write(tmp_path / "b.jsonl", [delta])
    assert list(read_timeline(tmp_path)) == [_snapshot(1_000), delta]
    with pytest.raises(CaptureFormatError, match="delta for binance LINK/USDT before any snapshot"):
        list(read_capture(tmp_path / "b.jsonl"))  # alone, the same file is refused


def test_a_delta_for_a_book_no_file_snapshotted_is_still_refused(tmp_path: Path) -> None:
    _write(tmp_path / "a.jsonl", [_snapshot(1_000, "binance")])
    delta = CaptureEvent(2_000, "huobi", "LINK/USDT", "delta", (("10", "2"),), ())
    second = _write(tmp_path / "b.jsonl", [delta])
    with pytest.raises(CaptureFormatError, match=rf"^{second}:1: delta for huobi LINK/USDT before any snapshot$"):
        list(read_timeline(tmp_path))


@pytest.mark.parametrize("name", ["empty-dir", "nothing-*.jsonl.gz", "missing.jsonl.gz"])
def test_a_path_naming_no_capture_is_one_error(tmp_path: Path, name: str) -> None:
    (tmp_path / "empty-dir").mkdir()
    (tmp_path / "nothing-here.txt").write_text("")
    path = tmp_path / name
    assert capture_files(path) == ()
    with pytest.raises(CaptureFormatError, match=r"no capture there \(a capture file, a directory of"):
        list(read_timeline(path))
