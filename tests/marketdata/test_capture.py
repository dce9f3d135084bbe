"""The capture format: strict reader, exact writer, bundled sample data."""

from __future__ import annotations

import gzip
import itertools
from importlib.resources import files
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arb.errors import CaptureFormatError
from arb.marketdata.capture import CaptureEvent, CaptureWriter, read_capture

SNAP = (
    b'{"ts":1629417600000,"venue":"binance","symbol":"LINK/USDT","type":"snapshot",'
    b'"bids":[["27.095","988.45"]],"asks":[["27.101","21.079"]]}'
)
DELTA = (
    b'{"ts":1629417600100,"venue":"binance","symbol":"LINK/USDT","type":"delta","seq":1002,'
    b'"first_seq":1001,"bids":[["27.09","0"]],"asks":[["27.102","5.5"]]}'
)


def _write(tmp_path: Path, *lines: bytes, name: str = "c.jsonl") -> Path:
    path = tmp_path / name
    data = b"".join(line + b"\n" for line in lines)
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def test_reads_the_documented_example(tmp_path: Path) -> None:
    events = list(read_capture(_write(tmp_path, SNAP, DELTA)))
    assert events[0] == CaptureEvent(
        ts=1629417600000,
        venue="binance",
        symbol="LINK/USDT",
        type="snapshot",
        bids=(("27.095", "988.45"),),
        asks=(("27.101", "21.079"),),
    )
    assert events[1].seq == 1002 and events[1].first_seq == 1001
    assert events[1].bids == (("27.09", "0"),)


@pytest.mark.parametrize("name", ["c.jsonl", "c.jsonl.gz"])
def test_writer_round_trips_bytes_exactly(tmp_path: Path, name: str) -> None:
    src = _write(tmp_path, SNAP, DELTA, name="src.jsonl")
    events = list(read_capture(src))
    out = tmp_path / name
    with CaptureWriter(out) as writer:
        writer.write_all(events)
    raw = gzip.decompress(out.read_bytes()) if name.endswith(".gz") else out.read_bytes()
    assert raw == src.read_bytes()
    assert list(read_capture(out)) == events


BAD_LINES = [
    (b"{not json", "malformed JSON"),
    (b"[1,2]", "JSON object"),
    (SNAP.replace(b'"snapshot"', b'"fill"'), "unknown type 'fill'"),
    (SNAP.replace(b'"snapshot"', b'"trade"'), "missing field(s) of a trade: price, amount, side, id"),
    (SNAP.replace(b'"ts":1629417600000,', b""), "missing field(s): ts"),
    (SNAP.replace(b'"ts":1629417600000', b'"ts":"1629417600000"'), "'ts' must be"),
    (SNAP.replace(b'"ts":1629417600000', b'"ts":1.5'), "'ts' must be"),
    (SNAP.replace(b'"27.095"', b"27.095"), "decimal strings"),
    (SNAP.replace(b'"27.095"', b'"2.7e1"'), "plain non-negative decimal"),
    (SNAP.replace(b'"988.45"', b'"-1"'), "plain non-negative decimal"),
    (SNAP.replace(b'["27.095","988.45"]', b'["27.095"]'), "pair"),
    (SNAP.replace(b'"type"', b'"seq":"x","type"'), "'seq' must be an integer"),
    (SNAP.replace(b'"type"', b'"extra":1,"type"'), "unknown field(s): extra"),
    (SNAP.replace(b'"LINK/USDT"', b'"LINKUSDT"'), "BASE/QUOTE"),
    (
        SNAP.replace(b'[["27.095","988.45"]]', b'[["27.0","1"],["27.1","1"]]'),
        "strictly descending",
    ),
    (b"", "blank line"),
]


@pytest.mark.parametrize(("line", "problem"), BAD_LINES)
def test_bad_line_names_file_and_line(tmp_path: Path, line: bytes, problem: str) -> None:
    path = _write(tmp_path, SNAP, line)
    with pytest.raises(CaptureFormatError) as err:
        list(read_capture(path))
    assert err.value.line_no == 2
    assert err.value.source == str(path)
    assert problem in err.value.problem
    assert str(err.value).startswith(f"{path}:2: ")


def test_ts_must_not_go_backwards(tmp_path: Path) -> None:
    earlier = DELTA.replace(b"1629417600100", b"1629417599999")
    with pytest.raises(CaptureFormatError, match=r":2: ts 1629417599999 is before"):
        list(read_capture(_write(tmp_path, SNAP, earlier)))


def test_equal_ts_is_allowed(tmp_path: Path) -> None:
    same = DELTA.replace(b"1629417600100", b"1629417600000")
    assert len(list(read_capture(_write(tmp_path, SNAP, same)))) == 2


def test_delta_before_snapshot_of_that_book(tmp_path: Path) -> None:
    other = DELTA.replace(b'"binance"', b'"gate"')
    with pytest.raises(CaptureFormatError, match=r":2: delta for gate LINK/USDT before any snapshot"):
        list(read_capture(_write(tmp_path, SNAP, other)))


def test_truncated_gzip_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl.gz"
    path.write_bytes(gzip.compress(SNAP + b"\n" + DELTA + b"\n")[:-12])
    with pytest.raises(CaptureFormatError, match="unreadable"):
        list(read_capture(path))


def test_writer_refuses_out_of_order_ts(tmp_path: Path) -> None:
    snap = next(read_capture(_write(tmp_path, SNAP)))
    with CaptureWriter(tmp_path / "o.jsonl") as writer:
        writer.write(snap)
        with pytest.raises(ValueError, match="ts order"):
            writer.write(CaptureEvent(snap.ts - 1, "binance", "LINK/USDT", "snapshot", (), ()))


def test_bundled_link_capture_is_complete_and_valid() -> None:
    path = files("arb") / "data" / "linkusdt-binance-huobi-2021-08-20.jsonl.gz"
    counts: dict[str, int] = {}
    last = None
    for event in read_capture(str(path)):
        counts[event.venue] = counts.get(event.venue, 0) + 1
        assert event.type == "snapshot" and len(event.bids) == 10 and len(event.asks) == 10
        last = event
    assert counts == {"binance": 7200, "huobi": 7200}
    assert last is not None and last.ts == 1629417600000 + 7199 * 1000
    notice = (files("arb") / "data" / "NOTICE").read_text()
    assert "MIT License" in notice and "ANISH DAS" in notice


# Sides the one-pass check of a whole side (``parse._levels``) must judge exactly as the level-by-level
# check it falls back to: accepted with the same levels, or refused with the same message.
TRICKY_SIDES: list[object] = [
    [],
    [["27.095", "988.45"], ["27.09", "0"]],
    [["0001.5", "0"], ["1", "2"]],  # leading zeros
    [["999999999999999", "1"]],  # 15 integer digits: the largest allowed
    [["1000000000000000", "1"]],  # 16: 1e15, refused
    [["1", "1000000000000000.5"]],
    [["1.000000000000001", "1"]],  # 17 characters: the book's precision check
    [["0.12345678901234", "1"]],  # 16 characters: no precision check needed
    [["12345678.123456789", "1"]],  # more digits than a float keeps: refused by the precision check
    [["1,2", "3"], ["4", "5"]],  # a comma inside a string
    [["1", "2", "3"]],
    [["1"], ["2", "3", "4"]],
    [["1", 2]],
    [[1, "2"]],
    [["1", ["2"]]],
    [("1", "2")],
    ["12"],
    [{"1": "2"}],
    [["", "1"]],
    [["1.", "1"]],
    [[".5", "1"]],
    [["1.5.5", "1"]],
    [["1 ", "1"]],
    [["+1", "1"]],
    [["1e3", "1"]],
    [["NaN", "1"]],
    [["١", "1"]],  # a non-ASCII digit
    [["1\n", "1"]],
    {"1": "2"},
    "[]",
    None,
]


@pytest.mark.parametrize("side", TRICKY_SIDES)
def test_a_whole_side_is_judged_as_level_by_level(side: object) -> None:
    from arb.marketdata.capture import parse

    def fail(problem: str) -> None:
        raise ValueError(problem)

    def judged(check: object) -> object:
        try:
            return check(side, "bids", fail)  # type: ignore[operator]
        except ValueError as exc:
            return str(exc)

    assert judged(parse._levels) == judged(parse._levels_one_by_one)


@pytest.mark.parametrize(("prices", "ordered"), [
    (["3", "2", "1"], True),
    (["3", "3", "1"], False),
    (["0.30000000000000001", "0.3"], True),  # equal as floats, ordered as decimals
    (["0.3", "0.30000000000000001"], False),
    (["0.30000000000000001", "0.30000000000000001"], False),
])
def test_snapshot_order_is_exact_beyond_float_precision(prices: list[str], ordered: bool) -> None:
    from arb.marketdata.capture import parse

    def fail(problem: str) -> None:
        raise ValueError(problem)

    levels = tuple((p, "1") for p in prices)
    if ordered:
        parse._check_snapshot_order(levels, "bids", True, fail)
        parse._check_snapshot_order(levels[::-1], "asks", False, fail)
    else:
        with pytest.raises(ValueError, match="strictly descending"):
            parse._check_snapshot_order(levels, "bids", True, fail)
        with pytest.raises(ValueError, match="strictly ascending"):
            parse._check_snapshot_order(levels[::-1], "asks", False, fail)


def _reader_rule(side: object, order: int) -> tuple[tuple[str, str], ...] | None:
    """What ``drops.capture_side`` must return, spelled with the reader's own regex path: the side when the
    joined-side regex accepts it and (for a snapshot side) its prices are strictly ordered as floats."""
    from itertools import chain

    from arb.marketdata.capture import parse

    if type(side) is not list or any(type(level) is not list or len(level) != 2 for level in side):
        return None
    if any(type(s) is not str for s in chain.from_iterable(side)):
        return None
    if not parse._SIDE.fullmatch("".join(f"{p},{s}," for p, s in side)) or any(
            "," in s for s in chain.from_iterable(side)):
        return None
    floats = [float(p) for p, _ in side]
    if order and not all((a > b) if order > 0 else (a < b) for a, b in itertools.pairwise(floats)):
        return None
    return tuple((p, s) for p, s in side)


_NUMBER = st.one_of(
    st.from_regex(r"0{0,3}[0-9]{1,17}(\.[0-9]{1,10})?", fullmatch=True),
    st.text(alphabet="0123456789.,e-+ \u0663\u00e9", max_size=18),
)
_SIDES = st.one_of(
    st.lists(st.lists(_NUMBER, min_size=2, max_size=2), max_size=6),
    # strictly ordered prices, so the snapshot order check passes as often as it fails
    st.lists(st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False), unique=True, max_size=6).map(
        lambda ps: [[str(p), "1.5"] for p in sorted(ps, reverse=True)]),
    st.sampled_from(TRICKY_SIDES),
)


@settings(max_examples=600, deadline=None)
@given(side=_SIDES, order=st.sampled_from([1, -1, 0]))
def test_one_pass_side_check_is_the_readers_rule(side: object, order: int) -> None:
    """The capture reader's one-pass check (compiled when built) accepts exactly the sides its regex path
    accepts as ordered, and keeps them as the regex path does."""
    from arb.marketdata.drops import capture_side

    assert capture_side(side, order) == _reader_rule(side, order)


@settings(max_examples=500, deadline=None)
@given(bids=_SIDES, asks=_SIDES, kind=st.sampled_from(["snapshot", "delta", "reset", "gap"]))
def test_a_line_reads_the_same_with_and_without_the_one_pass_check(bids: object, asks: object, kind: str) -> None:
    """Whatever the line holds, the event read (or the error raised) is the same with the one-pass side check
    and with the reader's regex path alone."""
    from unittest import mock

    from arb.marketdata.capture import parse

    line = orjson.dumps({"ts": 1, "venue": "v", "symbol": "A/B", "type": kind, "bids": bids, "asks": asks})

    def read() -> object:
        try:
            return parse.parse_event(line, "c.jsonl", 7)
        except CaptureFormatError as exc:
            return str(exc)

    fast = read()
    with mock.patch.object(parse, "COMPILED", False):
        slow = read()
    assert fast == slow


def test_every_line_of_the_bundled_capture_takes_the_one_pass_check() -> None:
    """The real recording is plainly well formed: no line of it falls back to the level-by-level checks."""
    from arb.marketdata.drops import capture_side

    raw = gzip.decompress(files("arb.data").joinpath("linkusdt-binance-huobi-2021-08-20.jsonl.gz").read_bytes())
    lines = raw.splitlines()
    for line in lines:
        obj = orjson.loads(line)
        order = obj["type"] == "snapshot"
        assert capture_side(obj["bids"], 1 if order else 0) is not None, line[:200]
        assert capture_side(obj["asks"], -1 if order else 0) is not None, line[:200]
    assert len(lines) > 1000
