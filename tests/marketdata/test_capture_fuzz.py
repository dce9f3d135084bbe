"""Fuzzing captures: whatever a file holds, reading it fails only with one ``file:line`` error.

Three kinds of damage: valid lines of the real capture mutated (bytes and JSON values), random bytes, and
compressed files damaged (cut short, bytes flipped, garbage before or after). For each: the strict reader
raises nothing but :class:`CaptureFormatError`, whose line is ``<file>:<line>: <problem>`` on one line;
every event it yields goes into the book store as the engine feeds it, without an error (what the reader
accepts, the book can hold); and the progress bar's line count never raises.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arb.errors import CaptureFormatError
from arb.marketdata.books import BookStore
from arb.marketdata.capture import read_capture
from arb.marketdata.timeline import count_lines

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "arb/data/linkusdt-binance-huobi-2021-08-20.jsonl.gz"
with gzip.open(BUNDLED, "rb") as _f:
    LINES = [next(_f) for _ in range(40)]  # both venues' first snapshots and deltas

LINE_CASES = 500
FILE_CASES = 300


def fuzz(cases: int) -> settings:
    return settings(max_examples=cases, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _consume(path: Path) -> None:
    """Read ``path`` as a replay does: the line count first (status view on), then every event into books."""
    count_lines(path)
    books = BookStore(depth=20)
    try:
        for event in read_capture(path):
            books.apply(event)
            books.book(event.venue, event.symbol).top_arrays()
    except CaptureFormatError as exc:
        line = str(exc)
        assert "\n" not in line and line.startswith(f"{path}:"), line
        assert re.match(rf"{re.escape(str(path))}:[1-9][0-9]*: \S", line), line
        assert exc.line_no >= 1


# ------------------------------------------------------------------ mutated lines

JSON_VALUES = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False),
        st.text(max_size=10),
        st.sampled_from(["27.1", "0", "0.0", "1e5", "-1", "NaN", "", " 1", "1.", ".5", "9" * 40, "0" * 30 + "1",
                         "1." + "0" * 40 + "1", "1234567890.1234567", "snapshot", "delta", "LINK/USDT"]),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=6,
)


@st.composite
def mutated_line(draw: st.DrawFn) -> bytes:
    line = draw(st.sampled_from(LINES)).rstrip(b"\n")
    kind = draw(st.sampled_from(["bytes", "json", "json", "levels"]))
    if kind == "bytes":
        data = bytearray(line)
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(data)))
            op = draw(st.sampled_from(["insert", "delete", "replace"]))
            byte = draw(st.integers(0, 255))
            if op == "insert":
                data.insert(at, byte)
            elif data and at < len(data):
                if op == "delete":
                    del data[at]
                else:
                    data[at] = byte
        return bytes(data).replace(b"\n", b" ")
    obj = orjson.loads(line)
    if kind == "json":
        key = draw(st.sampled_from([*obj, "first_seq", "seq", "extra"]))
        if draw(st.booleans()) and key in obj:
            del obj[key]
        else:
            obj[key] = draw(JSON_VALUES)
    else:  # one level of a side: a hostile price or size
        side = draw(st.sampled_from(["bids", "asks"]))
        levels = obj[side] or [["1", "1"]]
        i = draw(st.integers(0, len(levels) - 1))
        levels[i][draw(st.integers(0, 1))] = draw(JSON_VALUES)
        obj[side] = levels
    return json.dumps(obj).encode()


@fuzz(LINE_CASES)
@given(data=st.data(), gz=st.booleans())
def test_mutated_lines_fail_as_file_and_line(data: st.DataObject, gz: bool,
                                             tmp_path_factory: pytest.TempPathFactory) -> None:
    lines = list(LINES)
    for _ in range(data.draw(st.integers(1, 3))):
        lines[data.draw(st.integers(0, len(lines) - 1))] = data.draw(mutated_line()) + b"\n"
    path = tmp_path_factory.mktemp("lines") / ("c.jsonl.gz" if gz else "c.jsonl")
    with (gzip.open(path, "wb") if gz else open(path, "wb")) as f:
        f.writelines(lines)
    _consume(path)


@fuzz(LINE_CASES // 5)
@given(blob=st.binary(max_size=400), gz=st.booleans())
def test_random_bytes_fail_as_file_and_line(blob: bytes, gz: bool, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("bytes") / ("r.jsonl.gz" if gz else "r.jsonl")
    path.write_bytes(blob)  # as named: a .gz that is not gzip at all, or a plain file of noise
    _consume(path)


# ------------------------------------------------------------------ damaged compressed files

VALID_GZ = gzip.compress(b"".join(LINES))


@fuzz(FILE_CASES)
@given(data=st.data())
def test_damaged_gzip_fails_as_file_and_line(data: st.DataObject, tmp_path_factory: pytest.TempPathFactory) -> None:
    blob = bytearray(VALID_GZ)
    kind = data.draw(st.sampled_from(["truncate", "flip", "prefix", "suffix", "second_member"]))
    if kind == "truncate":
        blob = blob[: data.draw(st.integers(0, len(blob) - 1))]
    elif kind == "flip":
        for _ in range(data.draw(st.integers(1, 8))):
            at = data.draw(st.integers(0, len(blob) - 1))
            blob[at] ^= data.draw(st.integers(1, 255))
    elif kind == "prefix":
        blob = bytearray(data.draw(st.binary(min_size=1, max_size=20))) + blob
    elif kind == "suffix":
        blob += data.draw(st.binary(min_size=1, max_size=20))
    else:  # a second gzip member, cut short: concatenated gzip files are one stream
        blob += gzip.compress(b"".join(LINES))[: data.draw(st.integers(1, 200))]
    path = tmp_path_factory.mktemp("gz") / "d.jsonl.gz"
    path.write_bytes(bytes(blob))
    _consume(path)


def test_missing_and_unreadable_files_are_capture_errors(tmp_path: Path) -> None:
    for path in (tmp_path / "absent.jsonl.gz", tmp_path):  # not there; a directory
        with pytest.raises(CaptureFormatError, match=rf"^{re.escape(str(path))}:1: cannot open: "):
            list(read_capture(path))
