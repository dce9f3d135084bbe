"""A perpetual's funding lines in a capture (docs/CAPTURE.md, "Funding"): read with the trades, written only as
the reader reads them back, refused naming file:line when malformed, never a book event."""

from __future__ import annotations

from pathlib import Path

import pytest

from arb.errors import CaptureFormatError
from arb.marketdata.capture import CaptureFunding, CaptureWriter, read_capture

SNAPSHOT = '{"ts":1,"venue":"binanceusdm","symbol":"ETH/USDT","type":"snapshot","bids":[["99","1"]],"asks":[["100","1"]]}'
FUNDING = ('{"ts":2,"venue":"binanceusdm","symbol":"ETH/USDT","type":"funding","mark":"2680.51000000",'
           '"rate":"-0.00012345","funding_ts":28800000,"index":"2680.1","exchange_ts":2}')


def _capture(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_funding_line_is_read_with_the_trades_and_written_back_byte_for_byte(tmp_path: Path) -> None:
    path = _capture(tmp_path, SNAPSHOT, FUNDING)
    assert [e.type for e in read_capture(path)] == ["snapshot"]  # book readers never see it
    events = list(read_capture(path, trades=True))
    assert events[1] == CaptureFunding(2, "binanceusdm", "ETH/USDT", "2680.51000000", "-0.00012345", 28_800_000,
                                       "2680.1", 2)
    out = tmp_path / "out.jsonl"
    with CaptureWriter(out) as w:
        w.write_all(events)
    assert out.read_text() == path.read_text()


@pytest.mark.parametrize(("old", "new", "problem"), [
    ('"rate":"-0.00012345"', '"rate":"1e-4"', "'rate' must be a signed decimal string between -1 and 1"),
    ('"rate":"-0.00012345"', '"rate":"1.5"', "'rate' must be a signed decimal string between -1 and 1"),
    ('"mark":"2680.51000000"', '"mark":"-1"', "'mark' must be a positive plain decimal string"),
    ('"funding_ts":28800000', '"funding_ts":"soon"', "'funding_ts' must be a non-negative integer"),
    ('"index":"2680.1"', '"index":2680.1', "'index' must be a plain decimal string"),
    (',"exchange_ts":2', ',"next":3', "unknown field(s) of a funding line: next"),
])
def test_a_malformed_funding_line_is_refused_naming_its_line(tmp_path: Path, old: str, new: str, problem: str) -> None:
    path = _capture(tmp_path, SNAPSHOT, FUNDING.replace(old, new))
    with pytest.raises(CaptureFormatError) as caught:
        list(read_capture(path, trades=True))
    assert f"{path}:2" in str(caught.value) and problem in str(caught.value), str(caught.value)
