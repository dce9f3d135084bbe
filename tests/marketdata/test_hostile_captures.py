"""Hostile captures and recordings (issue 32): what the capture commands must survive, by surface.

- An output that is one of the inputs (the same path, a hard link, a symlink, a path through another
  directory, the partial file the output is written through) is refused, the input untouched.
- Every writer checks with the reader's own rule: ``convert`` and ``record`` refuse an event the capture
  reader would refuse (``NaN``, ``Infinity``, a negative size, 1e15 in a snapshot), naming the input line.
- Lines are bounded (``capture.MAX_LINE``), before they are parsed: a 2 MB gzip holding one 2 GiB line
  stays far from gigabytes in ``replay``, ``config check`` and ``convert`` (peak memory of the command's
  process, measured with ``getrusage`` in a subprocess).
- An empty capture (0 bytes, a 0-byte ``.gz``, a gzip of nothing, an empty day of a timeline) is refused by
  ``config check``, ``run`` and ``replay`` with one line.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from arb.cli import main
from arb.errors import CaptureFormatError
from arb.marketdata.books import BookStore
from arb.marketdata.capture import (
    MAX_LINE,
    CaptureEvent,
    CaptureWriter,
    RefusedEvent,
    bounded_lines,
    read_capture,
)
from arb.marketdata.recorder import partial_path, record
from arb.marketdata.timeline import count_lines

from .capture_text import dumps_events
from .conftest import BINANCE_SPOT, GATE_HTTP, GATE_WS

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT_LINE = 8  # the REST snapshot's line in the first lines of the Binance recording
PEAK_MB = 500  # the bound on a command's peak memory for a gzip bomb (it takes ~200 MB to start)


def run_main(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    """``arb ARGV`` in-process: its exit status and its stderr lines (argparse's exits included)."""
    try:
        status = main(list(argv))
    except SystemExit as exc:
        status = int(exc.code or 0)
    return status, capsys.readouterr().err.splitlines()


def digests(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir()) if p.is_file()}


def binance_raw(tmp: Path, edit: Callable[[bytes], bytes] = lambda line: line) -> Path:
    """The first 200 lines of the real Binance BTC/USDT recording, ``edit`` applied to its snapshot line."""
    lines = gzip.decompress(BINANCE_SPOT.read_bytes()).splitlines(keepends=True)[:200]
    assert lines[SNAPSHOT_LINE - 1].split(b" ", 1)[1].startswith(b'{"lastUpdateId"')
    lines[SNAPSHOT_LINE - 1] = edit(lines[SNAPSHOT_LINE - 1])
    path = tmp / "raw.txt"
    path.write_bytes(b"".join(lines))
    return path


# ------------------------------------------------------------------------------------ output is an input
def _convert_argv(kind: str, tmp: Path) -> tuple[list[str], list[Path]]:
    if kind == "binance":
        raw = binance_raw(tmp)
        return ["convert", "binance", str(raw), "--symbol", "BTC/USDT"], [raw]
    ws, http = tmp / "ws.txt", tmp / "http.txt"
    ws.write_bytes(GATE_WS.read_bytes())
    http.write_bytes(GATE_HTTP.read_bytes())
    return ["convert", "gate", str(ws), str(http)], [ws, http]


def out_as(how: str, given: Path) -> Path:
    """An ``--out`` that is the input ``given``, spelled as ``how`` says (links made beside it)."""
    here = given.parent
    if how == "hard link":
        (here / "hard").hardlink_to(given)
        return here / "hard"
    if how == "symlink":
        (here / "link").symlink_to(given)
        return here / "link"
    if how == "through a linked directory":
        (here / "d").symlink_to(here)
        return here / "d" / given.name
    if how == "its partial file":  # ``given`` is named as the output's partial file would be
        return here / given.name.removeprefix(".partial-")
    return here / "." / given.name if how == "same path, spelled another way" else given


HOW = ["same path", "same path, spelled another way", "hard link", "symlink", "through a linked directory",
       "its partial file"]


@pytest.mark.parametrize(("kind", "which"), [("binance", 0), ("gate", 0), ("gate", 1)])  # gate: ws, http
@pytest.mark.parametrize("how", HOW)
def test_convert_refuses_an_output_that_is_one_of_its_inputs(kind: str, which: int, how: str, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    argv, inputs = _convert_argv(kind, tmp_path)
    given = inputs[which]
    if how == "its partial file":
        renamed = partial_path(given)
        given.rename(renamed)
        argv = [str(renamed) if a == str(given) else a for a in argv]
        given = renamed
    out = out_as(how, given)
    before = digests(tmp_path)
    status, err = run_main([*argv, "--out", str(out)], capsys)
    # before: exit 0, the input replaced by the capture (same path) or the link by a file
    assert status == 2 and len(err) == 1 and err[0].startswith("arb: error: command line: --out: "), err
    assert "choose another --out" in err[0]
    assert digests(tmp_path) == before  # every input as it was, and nothing written beside them
    assert out.is_symlink() == (how == "symlink")


# ------------------------------------------------------------------------ the writer checks like the reader
BAD_SNAPSHOTS = {
    "NaN size": (b'"0.61700000"', b'"NaN"', "not a plain non-negative decimal"),
    "Infinity size": (b'"0.61700000"', b'"Infinity"', "not a plain non-negative decimal"),
    "negative size": (b'"0.61700000"', b'"-0.617"', "not a plain non-negative decimal"),
    "size of 1e15": (b'"0.61700000"', b'"1000000000000000"', "1e15 or more"),
    "price of 1e15": (b'"61837.63000000"', b'"1000000000000000"', "1e15 or more"),
}


@pytest.mark.parametrize("case", list(BAD_SNAPSHOTS))
def test_convert_binance_refuses_a_snapshot_the_reader_would_refuse(case: str, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    old, new, says = BAD_SNAPSHOTS[case]
    raw = binance_raw(tmp_path, lambda line: line.replace(old, new, 1))
    before = digests(tmp_path)
    out = tmp_path / "out.jsonl"
    status, err = run_main(["convert", "binance", str(raw), "--symbol", "BTC/USDT", "--out", str(out)], capsys)
    # before: "wrote 44 events", exit 0, and a capture the reader refused at its snapshot line
    assert status == 2 and len(err) == 1, err
    assert err[0].startswith(f"arb: error: {raw}:{SNAPSHOT_LINE}: an event from this line would be refused by "
                             "arb's capture reader") and says in err[0], err
    assert digests(tmp_path) == before  # no output, no partial file


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-5", "1000000000000000"])
def test_convert_gate_refuses_an_http_snapshot_the_reader_would_refuse(bad: str, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    http = tmp_path / "http.txt"
    lines = GATE_HTTP.read_text().splitlines(keepends=True)
    lines[0] = re.sub(r'"asks":\[\["([0-9.]+)","[0-9.]+"\]', rf'"asks":[["\1","{bad}"]', lines[0], count=1)
    http.write_text("".join(lines))
    out = tmp_path / "out.jsonl"
    status, err = run_main(["convert", "gate", str(GATE_WS), str(http), "--out", str(out)], capsys)
    assert status == 2 and len(err) == 1, err
    assert err[0].startswith(f"arb: error: {http}:1: an event from this line would be refused by arb's capture "
                             "reader (asks[0]: "), err
    assert not out.exists() and not partial_path(out).exists()


SNAP = CaptureEvent(1, "fake", "LINK/USDT", "snapshot", (("27.1", "1"),), (("27.2", "1"),), seq=1)
REFUSED = {
    "NaN": CaptureEvent(2, "fake", "LINK/USDT", "snapshot", (("27.1", "NaN"),), ()),
    "Infinity": CaptureEvent(2, "fake", "LINK/USDT", "delta", (), (("Infinity", "1"),)),
    "negative": CaptureEvent(2, "fake", "LINK/USDT", "snapshot", (("27.1", "-1"),), ()),
    "1e15": CaptureEvent(2, "fake", "LINK/USDT", "snapshot", (("1000000000000000", "1"),), ()),
    "bids ascending": CaptureEvent(2, "fake", "LINK/USDT", "snapshot", (("27.0", "1"), ("27.1", "1")), ()),
    "no BASE/QUOTE": CaptureEvent(2, "fake", "LINKUSDT", "snapshot", (("27.1", "1"),), ()),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_the_writer_refuses_what_the_reader_refuses_and_writes_nothing_of_it(case: str, tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    refused = REFUSED[case]
    (tmp_path / "alone.jsonl").write_bytes(dumps_events([SNAP, refused]))
    with pytest.raises(CaptureFormatError) as read:  # the reader refuses it...
        list(read_capture(tmp_path / "alone.jsonl"))
    with CaptureWriter(path) as writer:
        writer.write(SNAP)
        with pytest.raises(RefusedEvent) as written:  # ...so the writer does, saying what the reader says
            writer.write(refused)
    assert str(written.value) == read.value.problem
    assert list(read_capture(path)) == [SNAP] and writer.count == 1


class TwoSnapshotFeed:
    """A fake venue: a good snapshot, then one the capture reader would refuse, then silence."""

    venue = "fake"

    def __init__(self, store: BookStore) -> None:
        self.store = store

    async def run(self) -> None:
        self.store.snapshot("fake", "LINK/USDT", [("27.1", "1")], [("27.2", "1")], ts=1, seq=1)
        self.store.snapshot("fake", "LINK/USDT", [("27.1", "NaN")], [("27.2", "1")], ts=2, seq=2)
        self.store.snapshot("fake", "LINK/USDT", [("27.1", "2")], [("27.2", "1")], ts=3, seq=3)
        await asyncio.Event().wait()


async def test_record_stops_at_an_event_the_reader_would_refuse_and_keeps_what_came_before(tmp_path: Path) -> None:
    out = tmp_path / "rec.jsonl"
    store = BookStore()
    with pytest.raises(CaptureFormatError) as failed:
        await record([TwoSnapshotFeed(store)], store, out, duration_s=30)
    assert failed.value.exit_status == 2
    assert str(failed.value).startswith(f"{out}:2: fake LINK/USDT: a snapshot arb's capture reader refuses "
                                        "(bids[0]: not a plain non-negative decimal")
    assert [e.seq for e in read_capture(out)] == [1]  # before: all three, and the file refused at line 2
    assert not partial_path(out).exists()


# ---------------------------------------------------------------------------------------------- bounds
@pytest.mark.parametrize(("data", "lines"), [
    (b"0123456789\nab\n", [b"0123456789\n", b"ab\n"]),  # 10 bytes and a newline: at the limit
    (b"ab\n0123456789", [b"ab\n", b"0123456789"]),  # a last line without its newline
    (b"", []),
])
def test_bounded_lines_yields_lines_up_to_the_limit(data: bytes, lines: list[bytes], tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(data)
    with open(path, "rb") as fh:
        assert list(bounded_lines(fh, "f", limit=10)) == lines


@pytest.mark.parametrize("data", [b"ab\n01234567890\n", b"ab\n01234567890", b"ab\n" + b"x" * 100])
def test_bounded_lines_refuses_a_longer_line_naming_it(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(data)
    with open(path, "rb") as fh, pytest.raises(CaptureFormatError, match="^f:2: a line longer than 0 MiB"):
        list(bounded_lines(fh, "f", limit=10))


def test_a_capture_line_over_the_limit_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    path.write_bytes(dumps_events([SNAP]) + b"{" + b" " * MAX_LINE + b"}\n")  # JSON, but too long
    with pytest.raises(CaptureFormatError, match=r"long\.jsonl:2: a line longer than 16 MiB"):
        list(read_capture(path))


def test_convert_gate_refuses_a_recording_line_over_the_limit(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "ws.txt"
    ws.write_bytes(GATE_WS.read_bytes() + b"x" * (MAX_LINE + 1) + b"\n")
    lines = GATE_WS.read_bytes().count(b"\n")
    status, err = run_main(["convert", "gate", str(ws), str(GATE_HTTP), "--out", str(tmp_path / "o.jsonl")], capsys)
    assert status == 2 and err == [f"arb: error: {ws}:{lines + 1}: a line longer than 16 MiB (the longest line arb "
                                   "reads): refused before it is parsed"]


def gzip_bomb(path: Path, prefix: bytes, mib: int) -> Path:
    """A gzip of ``prefix`` then ``mib`` MiB of one line of ``a``: the same 1 MiB member written ``mib``
    times (gzip members concatenate), so building it takes ~1 KB a MiB and no memory."""
    member = gzip.compress(b"a" * (1 << 20), 9)
    with open(path, "wb") as fh:
        fh.write(gzip.compress(prefix))
        for _ in range(mib):
            fh.write(member)
    return path


def test_counting_lines_for_the_progress_bar_stops_at_a_line_over_the_limit(tmp_path: Path) -> None:
    path = gzip_bomb(tmp_path / "bomb.jsonl.gz", b"{}\n{}\n", 17)
    with open(path, "ab") as fh:
        fh.write(gzip.compress(b"\n" * 5))
    assert count_lines(path) == 2  # the lines before it: the reader refuses that line when it gets there


# One 2 GiB line in ~2 MB of gzip, per command: what was 4.3-5.6 GB of memory.
MEASURE = """
import resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stderr.write(proc.stderr)
print(proc.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
"""


def _config(tmp: Path, capture: Path | None = None) -> Path:
    """The shipped config, status off, on ``capture`` (default: its own, the bundled one)."""
    text = (ROOT / "config.toml").read_text()
    if capture is not None:
        text = re.sub(r'^capture = ".*"', f'capture = "{capture}"', text, count=1, flags=re.M)
    text = re.sub(r'^status = ".*"', 'status = "off"', text, count=1, flags=re.M)
    config = tmp / "config.toml"
    config.write_text(text)
    return config


@pytest.mark.parametrize("command", ["replay", "config check", "convert binance"])
def test_a_gzip_bomb_of_one_endless_line_stays_under_the_memory_bound(command: str, tmp_path: Path) -> None:
    name = "raw.gz" if command == "convert binance" else "bomb.jsonl.gz"
    bomb = gzip_bomb(tmp_path / name, b"1723161253937085768 " if command == "convert binance" else b"", 2048)
    assert bomb.stat().st_size < 3 << 20
    argv = {
        "replay": ["replay", str(bomb), "--config", str(ROOT / "config.toml"), "--db", f"sqlite:///{tmp_path}/r.db"],
        "config check": ["config", "check", str(_config(tmp_path, bomb))],
        "convert binance": ["convert", "binance", str(bomb), "--symbol", "BTC/USDT", "--out", str(tmp_path / "o.jsonl")],
    }[command]
    proc = subprocess.run([sys.executable, "-c", MEASURE, sys.executable, "-m", "arb.cli", *argv], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, env={**os.environ, "ARB_DB_URL": ""})
    status, peak_mb = map(int, proc.stdout.split())
    errors = [line for line in proc.stderr.splitlines() if line.startswith("arb: error:")]
    assert status == 2 and len(errors) == 1, proc.stderr
    assert f"{bomb}:1: a line longer than 16 MiB" in errors[0] or f"{name}:1: a line longer than 16 MiB" in errors[0]
    assert peak_mb < PEAK_MB, f"{command}: peak {peak_mb} MB"


# ------------------------------------------------------------------------------------------ empty captures
def _empty(kind: str, tmp: Path) -> Path:
    if kind == "0 bytes":
        (path := tmp / "empty.jsonl").write_bytes(b"")
    elif kind == "0-byte .gz":
        (path := tmp / "empty.jsonl.gz").write_bytes(b"")
    elif kind == "gzip of nothing":
        (path := tmp / "empty.jsonl.gz").write_bytes(gzip.compress(b""))
    else:  # a timeline whose second day is empty: `config check` reads only the first event
        path = tmp / "days"
        path.mkdir()
        (path / "2021-08-20.jsonl").write_bytes(dumps_events([SNAP]))
        (path / "2021-08-21.jsonl.gz").write_bytes(gzip.compress(b""))
    return path


EMPTY_KINDS = ["0 bytes", "0-byte .gz", "gzip of nothing", "an empty day of a timeline"]


@pytest.mark.parametrize("kind", EMPTY_KINDS)
@pytest.mark.parametrize("command", ["config check", "run", "replay"])
def test_an_empty_capture_is_refused_with_one_line(kind: str, command: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # the shipped config's database and kill switch land here
    monkeypatch.delenv("ARB_DB_URL", raising=False)
    capture = _empty(kind, tmp_path)
    config = _config(tmp_path, None if command == "replay" else capture)
    argv = {"config check": ["config", "check", str(config)],
            "run": ["run", "--config", str(config)],
            "replay": ["replay", str(capture), "--config", str(config)]}[command]
    status, err = run_main(argv, capsys)
    # before: `config check` passed, and `run` and `replay` replayed "successfully" with 0 events
    assert status == 2 and len(err) == 1, err
    assert re.search(r"(empty|2021-08-21)\.jsonl(\.gz)?:1: empty: a capture holds at least one event", err[0]), err
    assert not (tmp_path / "arb.db").exists()
