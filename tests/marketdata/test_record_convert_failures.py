"""`arb record` and `arb convert` fail fast and honestly (issue 13, part 5).

`record` gives up after a bounded time when no venue can be reached and never leaves an empty capture (or
clobbers an earlier one); `convert` checks its inputs' format and symbol and writes nothing unusable.
Nothing here reaches a real exchange: Gate is pointed at a loopback port nothing listens on, and the
other feeds are hand-written fakes.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arb.cli import main
from arb.errors import CaptureFormatError, TransientVenueError, UsageError
from arb.marketdata.books import BookStore
from arb.marketdata.capture import read_capture
from arb.marketdata.recorder import partial_path, record
from arb.venues.binance.convert import raw_events as binance_raw_events
from arb.venues.gate.convert import gate_ws_sample_events

from .conftest import BINANCE_SPOT, GATE_HTTP, GATE_WS

NOWHERE = ["--endpoint", "gate=http://127.0.0.1:1/api/v4,ws://127.0.0.1:1/ws/v4/"]


class OneSnapshotFeed:
    """Delivers one book snapshot, then stays connected and silent (a fake venue)."""

    venue = "fake"

    def __init__(self, store: BookStore, fail_after: bool = False) -> None:
        self.store, self.fail_after = store, fail_after

    async def run(self) -> None:
        self.store.snapshot(self.venue, "LINK/USDT", [("27.1", "1")], [("27.2", "1")], ts=1, seq=1)
        if self.fail_after:
            raise TransientVenueError(self.venue, "connection lost for good")
        await asyncio.Event().wait()


class SilentFeed:
    """Never delivers anything (a venue that cannot be reached, retrying quietly)."""

    venue = "silent"

    async def run(self) -> None:
        await asyncio.Event().wait()


def test_record_with_no_reachable_venue_gives_up_with_one_line_and_no_file(tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl.gz"
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "arb.cli", "record", "--venues", "gate", "--symbols", "LINK/USDT",
                           "--out", str(out), "--connect-timeout", "1", *NOWHERE],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert time.monotonic() - started < 30
    errors = [line for line in proc.stderr.splitlines() if line.startswith("arb: error:")]
    assert len(errors) == 1 and errors[0].startswith("arb: error: gate: no book data received in 1 s"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []  # neither the capture nor its partial file


async def test_a_failed_recording_keeps_an_earlier_capture(tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    out.write_text("earlier capture\n")
    with pytest.raises(TransientVenueError, match="silent: no book data received"):
        await record([SilentFeed()], BookStore(), out, duration_s=5, connect_timeout_s=0.2)
    assert out.read_text() == "earlier capture\n"
    assert not partial_path(out).exists()


async def test_with_a_duration_and_nothing_received_no_empty_file_is_left(tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl.gz"
    with pytest.raises(TransientVenueError, match="nothing recorded"):
        await record([SilentFeed()], BookStore(), out, duration_s=0.2)
    assert list(tmp_path.iterdir()) == []


async def test_what_was_recorded_is_kept_and_a_silent_venue_does_not_stop_the_others(tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl.gz"
    store = BookStore()
    count = await record([OneSnapshotFeed(store), SilentFeed()], store, out, duration_s=0.3, connect_timeout_s=0.1)
    assert count == 1 and [e.venue for e in read_capture(out)] == ["fake"]
    assert list(tmp_path.iterdir()) == [out]


async def test_a_feed_that_fails_after_delivering_keeps_what_it_delivered(tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    store = BookStore()
    with pytest.raises(TransientVenueError, match="connection lost"):
        await record([OneSnapshotFeed(store, fail_after=True)], store, out, duration_s=5)
    assert len(list(read_capture(out))) == 1 and not partial_path(out).exists()


@pytest.mark.parametrize("depth", ["0", "5001", "1000000000", str(10**30)])
def test_record_depth_out_of_bounds_is_one_line_before_anything(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                depth: str) -> None:
    """``--depth`` is bounded by the deepest snapshot a venue serves (issue #47: 10^9 was a MemoryError, 10^7
    peaked at 2.5 GB): one line, exit 2, nothing connected or created."""
    out = tmp_path / "x.jsonl"
    assert main(["record", "--venues", "gate", "--symbols", "BTC/USDT", "--depth", depth, "--out", str(out),
                 *NOWHERE]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--depth" in err and "5000" in err, err
    assert list(tmp_path.iterdir()) == []


def test_failed_convert_removes_its_partial_output_and_keeps_an_earlier_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "g.jsonl"
    out.write_text("earlier\n")
    # the two inputs swapped: used to print "wrote 0 events" and exit 0
    assert main(["convert", "gate", str(GATE_HTTP), str(GATE_WS), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "gateio-http-0.0.txt:1: not a Gate WebSocket recording line" in err
    assert out.read_text() == "earlier\n" and list(tmp_path.iterdir()) == [out]


def test_convert_of_a_gzip_without_the_suffix_and_of_a_truncated_gzip(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    plain_name = tmp_path / "raw.bin"
    plain_name.write_bytes(BINANCE_SPOT.read_bytes())  # gzip, recognized by its magic bytes
    assert main(["convert", "binance", str(plain_name), "--symbol", "BTC/USDT", "--out", str(tmp_path / "o.jsonl")]) == 0
    truncated = tmp_path / "cut.gz"
    truncated.write_bytes(BINANCE_SPOT.read_bytes()[:20_000])
    assert main(["convert", "binance", str(truncated), "--symbol", "BTC/USDT", "--out", str(tmp_path / "t.jsonl")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "cut.gz" in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "t.jsonl").exists() and not partial_path(tmp_path / "t.jsonl").exists()


@pytest.mark.parametrize("venue", ["gate", "binance"])
@pytest.mark.parametrize("quoted", [False, True], ids=["number", "string"])
def test_convert_of_an_id_beyond_64_bits_is_one_line_naming_the_input_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], venue: str, quoted: bool
) -> None:
    """A snapshot id no 64-bit integer holds (issue #47: ``unexpected TypeError: Integer exceeds 64-bit range``
    from the writer) is an event the reader would refuse: one line naming the file and line, exit 2, nothing
    written."""
    huge = '"99999999999999999999999"' if quoted else "99999999999999999999999"
    out = tmp_path / "o.jsonl"
    if venue == "gate":
        http = tmp_path / "http.txt"
        http.write_text(GATE_HTTP.read_text().replace('{"id":2691446', '{"id":' + huge, 1))
        args = ["convert", "gate", str(GATE_WS), str(http), "--out", str(out)]
    else:
        import gzip

        raw = tmp_path / "raw.txt"
        raw.write_text(re.sub(r'"lastUpdateId":\d+', '"lastUpdateId":' + huge,
                              gzip.decompress(BINANCE_SPOT.read_bytes()).decode(), count=1))
        args = ["convert", "binance", str(raw), "--symbol", "BTC/USDT", "--out", str(out)]
    status = main(args)
    err = capsys.readouterr().err
    if status == 0:  # a number orjson cannot read: the line is malformed, also named
        pytest.fail(err)
    assert status == 2 and err.count("\n") == 1 and "Traceback" not in err and "unexpected" not in err, err
    assert re.search(r"(http|raw)\.txt:\d+: ", err), err
    assert not out.exists() and not partial_path(out).exists()


_LINES = st.lists(st.one_of(
    st.text(max_size=60),
    st.builds(lambda ns, body: f"{ns} {body}", st.integers(-5, 10**19), st.sampled_from([
        '{"lastUpdateId": 5, "bids": [["1", "2"]], "asks": []}', '{"lastUpdateId": "x"}', "[1, 2]", "null",
        '{"data": {"e": "depthUpdate", "s": "BTCUSDT", "U": 1, "u": 2, "b": [["1", "x"]], "a": []}}',
        '{"data": {"e": "depthUpdate", "s": "BTCUSDT", "U": 6, "u": 7, "b": [["1e999", "1"]], "a": []}}',
        '{"data": {"e": "depthUpdate", "s": "BTCUSDT"}}', '{"stream": 3}',
    ])),
), max_size=8)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_LINES)
def test_binance_converter_on_arbitrary_lines_gives_events_or_a_named_error(lines: list[str]) -> None:
    """200 generated inputs: every outcome is events, or an error naming the file (and line)."""
    try:
        list(binance_raw_events([line.encode() for line in lines], "BTC/USDT", source="raw.gz"))
    except CaptureFormatError as exc:
        assert exc.source == "raw.gz" and 1 <= exc.line_no <= len(lines)
    except UsageError as exc:
        assert str(exc).startswith("raw.gz: ")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=80), max_size=6), st.lists(st.text(max_size=80), max_size=6))
def test_gate_converter_on_arbitrary_lines_gives_events_or_a_named_error(ws: list[str], http: list[str]) -> None:
    """200 generated pairs of inputs, real frames mixed in: events, or an error naming the file."""
    real_ws = GATE_WS.read_text().splitlines()[:40]
    real_http = GATE_HTTP.read_text().splitlines()[:2]
    try:
        list(gate_ws_sample_events(real_ws + ws, real_http + http, ws_source="ws.txt", http_source="http.txt"))
    except (CaptureFormatError, UsageError) as exc:
        assert str(exc).startswith(("ws.txt", "http.txt")), exc
