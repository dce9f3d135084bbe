"""The one-pass depth-frame reader (``depth_scan.py``) against the path it stands in for: ``orjson.loads``, the
feed's ``_route`` and ``_diff`` (``drops.checked_diff``).

For every frame it either returns exactly what that path returns, each side's levels flat as the reader gives
them (price, size, price, ...; ``book_side.Levels``), or ``None`` (the feed then
takes that path): never another answer. Held on the real Binance recordings (every depth frame must be read,
so a reader that gives up on everything fails) and on generated frames, canonical and broken in the ways a
JSON reader could be fooled (whitespace, another key order, escapes, duplicate or missing or extra keys, huge
or padded or negative or fractional numbers, truncation). Each check runs on the module as imported (compiled
when built) and on its ``.py`` source loaded apart, interpreted.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arb.compiled import source_module
from arb.marketdata import depth_scan
from arb.marketdata.books import BookStore
from arb.marketdata.drops import Dropped
from arb.marketdata.feed_setup import FeedSetup
from arb.venues.binance.feed import DEPTH_SHAPES, BinanceBookFeed
from arb.venues.binance.markets import MARKETS

DATA = Path(__file__).resolve().parents[1] / "data"
SYMBOLS = {"spot": "BTC/USDT", "usdm": "BTC/USDT:USDT", "coinm": "BTC/USD:BTC"}
RECORDINGS = {"spot": "binance-spot-btcusdt-20240808.gz", "usdm": "binance-usdm-btcusdt-20240808.gz",
              "coinm": "binance-coinm-btcusd_perp-20240808.gz"}


def _interpreted() -> ModuleType:
    """``depth_scan.py`` itself, run by the interpreter whether or not an extension was built."""
    module = source_module("arb.marketdata.depth_scan")
    assert not module.COMPILED
    return module


INTERPRETED = _interpreted()
BUILDS = {"imported": depth_scan, "interpreted": INTERPRETED}


def scanner(build: str, market: str) -> Callable[[str | bytes], Any]:
    shape: Any = BUILDS[build].FrameShape(DEPTH_SHAPES[market].parts)
    return shape.scan  # type: ignore[no-any-return]


def feed(market: str) -> BinanceBookFeed:
    return BinanceBookFeed(BookStore(depth=10), [SYMBOLS[market]], FeedSetup("binance"), market=MARKETS[market])


FEEDS = {market: feed(market) for market in SYMBOLS}


def old_path(market: str, data: bytes | str) -> object:
    """What the feed's own reading makes of a frame: ``(key, diff)``, each side's levels flat (the one-pass
    reader's form); "ignored"; or the ``Dropped`` reason."""
    reader = FEEDS[market]
    try:
        routed = reader._route(data)
        if routed is None:
            return "ignored"
        key, payload = routed
        bids, asks, *rest = reader._diff(key, payload)
    except Dropped as drop:
        return ("dropped", drop.reason)
    return key, ([text for level in bids for text in level], [text for level in asks for text in level], *rest)


def depth_frames(market: str) -> list[bytes]:
    lines = gzip.decompress((DATA / RECORDINGS[market]).read_bytes()).splitlines()
    return [line.partition(b" ")[2] for line in lines if b"@depth" in line]


@pytest.mark.parametrize("build", BUILDS)
@pytest.mark.parametrize("market", SYMBOLS)
def test_every_recorded_depth_frame_reads_as_the_old_path_reads_it(build: str, market: str) -> None:
    scan = scanner(build, market)
    frames = depth_frames(market)
    assert frames
    for frame in frames:
        scanned = scan(frame)
        assert scanned is not None, frame[:200]  # the venue's real shape: the reader must take every frame
        assert scanned == old_path(market, frame)
        assert scan(frame.decode()) == scanned  # a text frame, as aiohttp gives it


def test_a_compiled_feed_reads_depth_frames_in_one_pass() -> None:
    assert (FEEDS["spot"].scan is not None) == depth_scan.COMPILED


# ------------------------------------------------------------------------------------------ generated frames

ID = st.integers(0, 10**18 - 6).map(str)  # u may be U + 5: both fit 18 digits
SYMBOL = st.sampled_from(["BTCUSDT", "ETHUSDT"]) | st.text(
    st.characters(min_codepoint=32, max_codepoint=126, exclude_characters='"\\'), max_size=12)
PRICE = st.from_regex(r"[1-9][0-9]{0,6}\.[0-9]{1,8}|[1-9][0-9]{0,6}|0\.0{0,4}[1-9][0-9]{0,6}", fullmatch=True)
SIZE = st.from_regex(r"(0|[1-9][0-9]{0,6})(\.[0-9]{1,8})?", fullmatch=True)
# Numbers a check refuses or leaves out, and JSON texts that read as plain decimals only once unescaped.
ODD_NUMBER = st.sampled_from([
    "0", "0.00000000", "00", "01.5", "1.", ".5", "1..2", "1.2.3", "-1", "+1", "1e5", "", " 1", "1 ", "NaN",
    "1234567890.1234567", "12345678901234567890", "27.0500000000000000001", "1" * 40, "1" * 41, "0." + "0" * 39,
    "\\u0031.5", "1\\u002e5", "\\\\", "\u0663", "\\n", "\t1",
])
ODD_INT = st.sampled_from([
    "-1", "01", "00", "1.0", "1e3", "1E3", "-0", str(2**63), str(2**63 - 1), str(10**18), str(2**64),
    "1" * 30, '"5"', "true", "null", "[]", "{}", "0.5",
])


def _levels(levels: list[tuple[str, str]]) -> str:
    return "[" + ",".join(f'["{price}","{size}"]' for price, size in levels) + "]"


LEVELS = st.lists(st.tuples(PRICE, SIZE), max_size=6).map(_levels)
ODD_LEVELS = st.lists(st.tuples(PRICE | ODD_NUMBER, SIZE | ODD_NUMBER), max_size=4).map(_levels) | st.sampled_from([
    "[]", "[[]]", '[["1"]]', '[["1","2","3"]]', '[[1,2]]', '[["1",2]]', '{}', "null", '"x"', '[["1","2"],]',
    '[["1","2"] ]', '[ ["1","2"]]', '[["1" ,"2"]]',
])


def _fields(market: str, draw: Any, ints: Any, levels: Any) -> list[tuple[str, str]]:
    """The data object's keys and JSON values, in the venue's order."""
    fields = [("e", '"depthUpdate"'), ("E", draw(ints))]
    if market != "spot":
        fields.append(("T", draw(ints)))
    fields.append(("s", json.dumps(draw(SYMBOL))))
    if market == "coinm":
        fields.append(("ps", '"BTCUSD"'))
    first = draw(ints)
    last = draw(st.sampled_from([first, str(int(first) + 5)]) if first.isdigit() else ints)
    fields += [("U", first), ("u", last)]
    if market != "spot":
        fields.append(("pu", draw(ints)))
    return [*fields, ("b", draw(levels)), ("a", draw(levels))]


def _frame(stream: str, fields: list[tuple[str, str]]) -> str:
    return '{"stream":' + stream + ',"data":{' + ",".join(f'"{k}":{v}' for k, v in fields) + "}}"


@st.composite
def canonical(draw: Any) -> tuple[str, str]:
    """A frame in its market's exact shape whose every value passes the checks."""
    market = draw(st.sampled_from(sorted(SYMBOLS)))
    return market, _frame('"btcusdt@depth@100ms"', _fields(market, draw, ID, LEVELS))


BREAKS = ["int", "number", "levels", "order", "missing", "duplicate", "extra", "event", "stream", "wrap", "bytes"]


@st.composite
def near_canonical(draw: Any) -> tuple[str, bytes]:
    """A frame in its market's shape broken once or twice: a value the checks refuse or JSON that reads as a
    canonical value only once parsed, another key order, a key missing, twice or unknown, another event or
    stream, another wrapping, bytes changed, inserted or cut."""
    market = draw(st.sampled_from(sorted(SYMBOLS)))
    breaks = draw(st.lists(st.sampled_from(BREAKS), min_size=1, max_size=2))
    fields = _fields(market, draw, ID, LEVELS)
    keys = [key for key, _ in fields]
    if "int" in breaks:  # one integer that is not a plain one of at most 18 digits
        at = draw(st.sampled_from([i for i, key in enumerate(keys) if key in ("E", "T", "U", "u", "pu")]))
        fields[at] = (keys[at], draw(ODD_INT))
    if "number" in breaks:  # one odd price or size among canonical levels
        odd = draw(st.tuples(PRICE, ODD_NUMBER) | st.tuples(ODD_NUMBER, SIZE))
        side = draw(st.sampled_from(["b", "a"]))
        levels = draw(st.lists(st.tuples(PRICE, SIZE), max_size=3))
        levels.insert(draw(st.integers(0, len(levels))), odd)
        fields[keys.index(side)] = (side, _levels(levels))
    if "levels" in breaks:
        side = draw(st.sampled_from(["b", "a"]))
        fields[keys.index(side)] = (side, draw(ODD_LEVELS))
    at = draw(st.integers(0, len(fields) - 1))
    if "order" in breaks:
        fields = draw(st.permutations(fields))
    if "missing" in breaks:
        del fields[at]
    if "duplicate" in breaks:
        fields.insert(draw(st.integers(0, len(fields))), (fields[at % len(fields)][0], draw(ID | ODD_INT | LEVELS)))
    if "extra" in breaks:
        fields.insert(draw(st.integers(0, len(fields))), ("x", draw(ID | st.just('"y"'))))
    if "event" in breaks:
        fields[0] = ("e", draw(st.sampled_from(['"trade"', '"depthUpdat"', '"depth\\u0055pdate"', "1"])))
    stream = '"btcusdt@depth@100ms"'
    if "stream" in breaks:
        stream = draw(st.sampled_from(['""', '"a\\"b"', '"a\\\\"', "1", "null", '"\u00e9"', '"\x7f"']))
    text = _frame(stream, fields)
    if "wrap" in breaks:
        text = draw(st.sampled_from([text[1:], text + "}", text + " ", text + "\n", '{"data":' + text + "}",
                                     "[" + text + "]", text[:-1], " " + text]))
    data = text.encode()
    if "bytes" in breaks:
        for _ in range(draw(st.integers(1, 2))):  # a byte changed, inserted, or the frame cut
            where = draw(st.integers(0, len(data)))
            edit = draw(st.sampled_from([b" ", b"\n", b"\t", b"\\", b'"', b",", b"0", b"-", b".", b"\xff", b"\x00",
                                         b"cut"]))
            data = data[:where] if edit == b"cut" else data[:where] + edit + data[where + draw(st.integers(0, 1)):]
    return market, data


@pytest.mark.parametrize("build", BUILDS)
@settings(max_examples=300, deadline=None)
@given(case=canonical())
def test_a_canonical_frame_reads_as_the_old_path_reads_it(build: str, case: tuple[str, str]) -> None:
    market, text = case
    scanned = scanner(build, market)(text.encode())
    assert scanned is not None, text
    assert scanned == old_path(market, text.encode())
    assert scanner(build, market)(text) == scanned


@pytest.mark.parametrize("build", BUILDS)
@settings(max_examples=600, deadline=None)
@given(case=near_canonical())
def test_any_other_frame_reads_as_the_old_path_or_not_at_all(build: str, case: tuple[str, bytes]) -> None:
    market, data = case
    for frame in (data, data.decode("utf-8", "replace")):
        scanned = scanner(build, market)(frame)
        if scanned is not None:
            assert scanned == old_path(market, frame), frame


@pytest.mark.parametrize("build", BUILDS)
@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        # One each of what the reader leaves to the old path: the old path's answer stands.
        ('{"stream":"x","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":5,"u":4,"b":[],"a":[]}}', "bad_id"),
        ('{"stream":"x","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":4,"b":[["0","1"]],"a":[]}}',
         "bad_number"),
        ('{"stream":"x","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":4,"b":[["1.","1"]],"a":[]}}',
         "bad_number"),
        ('{"stream":"x","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":-1,"u":4,"b":[],"a":[]}}', "bad_id"),
        ('{"stream":"x","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":01,"u":4,"b":[],"a":[]}}', "bad_json"),
        (f'{{"stream":"x","data":{{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":{2**63},"b":[],"a":[]}}}}',
         "bad_id"),
        ('{"stream":"x","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":4,"b":[["1","2","3"]],"a":[]}}',
         "bad_level"),
        ('{"stream":"x","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":4,"b":[],"a":[]}', "bad_json"),
        ('{"stream":"x","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"b":[],"a":[]}}', "missing_field"),
    ],
)
def test_frames_the_checks_drop_are_left_to_them(build: str, frame: str, reason: str) -> None:
    assert scanner(build, "spot")(frame) is None
    assert old_path("spot", frame) == ("dropped", reason)


@pytest.mark.parametrize("build", BUILDS)
def test_an_over_precise_price_is_left_to_the_checks_that_count_it(build: str) -> None:
    price = "27.0500000000000000001"
    frame = ('{"stream":"x","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":4,'
             f'"b":[["{price}","1"],["27.05","2"]],"a":[]}}}}')
    assert scanner(build, "spot")(frame) is None
    assert old_path("spot", frame) == ("BTCUSDT", (["27.05", "2"], [], 1, 4, 1, None, 1))


@pytest.mark.parametrize("build", BUILDS)
def test_a_feed_reading_in_one_pass_keeps_the_same_books(build: str) -> None:
    """The spot recording through the live handler (``on_message``), with and without the one-pass reader:
    the same book after every frame, the same counts."""
    lines = [line for line in gzip.decompress((DATA / RECORDINGS["spot"]).read_bytes()).splitlines() if line]
    snapshot = next(line for line in lines if b'"lastUpdateId"' in line).partition(b" ")[2]
    frames = [line.partition(b" ")[2] for line in lines if b'"lastUpdateId"' not in line]
    runs = []
    for scan in (scanner(build, "spot"), None):
        reader = feed("spot")
        reader.scan = scan
        assert not reader.on_snapshot("BTCUSDT", snapshot)
        book = reader.store.book("binance", "BTC/USDT")
        states = []
        for frame in frames:
            reader.on_message(frame)
            states.append((book.seq, book.exchange_ts, book.updates, *(a.tobytes() for a in book.top_arrays(10))))
        runs.append((states, book.levels("bids"), book.levels("asks"), reader.counts()["frames"]))
    assert runs[0][3]["applied"] > 3000
    assert runs[0] == runs[1]
