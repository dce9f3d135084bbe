"""Issue 47: a sweep's hostile inputs (its grid's captures, its --workdir) are one line, exit 2, and create
nothing: no database, no sweep row, no work directory."""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from config.tomlgen import NUMERIC, to_toml  # tests/config/tomlgen.py
from engine.maker_capture import maker_config  # tests/engine/maker_capture.py
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from arb.cli import main
from arb.config import Config, load_config
from arb.errors import UsageError
from arb.runtime.preflight import preflight
from arb.sweep.grid import apply, build_grid, read_grid_file

SNAPSHOT = '{"ts":1,"venue":"binance","symbol":"BTC/USDT","type":"snapshot","bids":[],"asks":[]}\n'


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    directory = tmp_path / "inputs"
    directory.mkdir()
    (directory / "c.jsonl").write_text(SNAPSHOT)
    maker_config(directory, directory / "c.jsonl")
    return directory


def _sweep(argv: list[str], work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    monkeypatch.chdir(work)
    monkeypatch.delenv("ARB_DB_URL", raising=False)
    code = main(["sweep", "--workers", "1", "--db", f"sqlite:///{work / 'sweep.db'}", *argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert list(work.iterdir()) == [], "a refused sweep left files behind"
    return err


@pytest.mark.parametrize(("content", "words"), [
    (b"not a capture\n", "notcap.jsonl:1: malformed JSON"),
    (b"", "notcap.jsonl:1: empty"),
    (b"\x1f\x8b\x08\x00garbage", "notcap.jsonl:1:"),
])
def test_a_grid_capture_that_is_not_a_capture_is_refused_before_the_database(
    inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    content: bytes, words: str,
) -> None:
    # Before: the sweep ran, its database was created with a failed row, exit 1.
    bad = inputs / "notcap.jsonl"
    bad.write_bytes(content)
    work = tmp_path / "work"
    work.mkdir()
    err = _sweep(["--config", str(inputs / "maker.toml"), "--capture", str(bad)], work, monkeypatch, capsys)
    assert "capture: " in err and words in err, err


def test_a_timeline_is_checked_by_its_first_file_as_a_run_checks_it(inputs: Path) -> None:
    days = inputs / "days"
    days.mkdir()
    (days / "1.jsonl").write_text("nope\n")
    (days / "2.jsonl").write_text(SNAPSHOT)
    base = load_config(inputs / "maker.toml")
    for captures_as in ("runs", "timeline"):
        with pytest.raises(UsageError, match=r"capture: .*1\.jsonl:1: malformed JSON"):
            build_grid(base, {"capture": [str(days)], "captures_as": [captures_as]})


@pytest.mark.parametrize("workdir", ["a-file", "a-file/sub"])
def test_a_workdir_that_cannot_be_a_directory_is_a_usage_error(
    inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], workdir: str,
) -> None:
    # Before: "File exists" (or "Not a directory") from makedirs, exit 1, after the cluster had started.
    (inputs / "a-file").write_text("precious\n")
    work = tmp_path / "work"
    work.mkdir()
    err = _sweep(["--config", str(inputs / "maker.toml"), "--workdir", str(inputs / workdir)], work, monkeypatch,
                 capsys)
    assert "--workdir: " in err and "a-file exists and is not a directory" in err, err
    assert (inputs / "a-file").read_text() == "precious\n"


# ------------------------------------------------------------------ hostile grid files
# A grid file is checked as a whole before anything runs: whatever its contents, `build_grid` accepts it or
# says why in one line (UsageError), and every point of a grid it accepts is a config its replay's preflight
# accepts too (the refusals `arb run` makes at its start are the grid's to make, before the database exists).
GRID_CASES = int(os.environ.get("ARB_FUZZ_GRID_RUNS", "80"))
FINE_STEP = "0.00000000000001"  # the spot amount step of the base: quote sizes of up to 29 digits of steps
DIGITS = st.builds(lambda m, e: str(Decimal(m).scaleb(e)), st.integers(1, 10**31), st.integers(-32, 2))
CAPTURES = ("good", "notcap", "empty", "days", "missing", "bundled:nope", "directory-of-nothing")
GRID_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "capture": st.sampled_from(CAPTURES),
    "captures_as": st.sampled_from(["runs", "timeline", "lines", 1]),
    "fee": st.one_of(NUMERIC, DIGITS),
    "latency_ms": st.one_of(st.integers(-5, 10**6), NUMERIC, st.booleans()),
    "feed_latency_ms": st.one_of(st.integers(-5, 10**6), NUMERIC),
    "queue_model": st.sampled_from(["conservative", "power", "log", "fifo", ""]),
    "min_edge_bps": st.one_of(NUMERIC, DIGITS),
    "leg_policy": st.sampled_from(["unwind", "complete", "halt", "flatten"]),
    "min_profit_bps": st.one_of(NUMERIC, DIGITS),
    "quote_size": st.one_of(DIGITS, NUMERIC, st.sampled_from(["999999999999999.5", "100000000000000.123456789012345"])),
}


@st.composite
def grid_files(draw: st.DrawFn) -> str:
    """A grid file's text: the sweep's keys (and a stranger's) with one value or a list of hostile ones, or
    bytes that are not TOML at all."""
    if draw(st.integers(0, 15)) == 0:
        return draw(st.one_of(st.text(max_size=40), st.sampled_from(["capture = [", "fee = 0x", "= 1", "[[x]]"])))
    doc: dict[str, Any] = {}
    for key in draw(st.lists(st.sampled_from([*GRID_VALUES, "nope", "Fee"]), min_size=1, max_size=3, unique=True)):
        values = GRID_VALUES.get(key, NUMERIC)
        doc[key] = draw(st.one_of(values, st.lists(values, min_size=0, max_size=3), st.just({"x": 1})))
    return to_toml(doc)


@pytest.fixture(scope="module")
def grid_base(tmp_path_factory: pytest.TempPathFactory) -> Config:
    directory = tmp_path_factory.mktemp("grid-base")
    (directory / "good.jsonl").write_text(SNAPSHOT)
    (directory / "notcap").write_text("not a capture\n")
    (directory / "empty").write_bytes(b"")
    (directory / "days").mkdir()
    (directory / "days" / "1.jsonl").write_text("{}\n")
    (directory / "days" / "2.jsonl").write_text(SNAPSHOT)
    (directory / "directory-of-nothing").mkdir()
    path = maker_config(directory, directory / "good.jsonl")
    path.write_text(path.read_text().replace('amount_step = "0.00001"', f'amount_step = "{FINE_STEP}"'))
    return load_config(path, environ={})


@settings(max_examples=GRID_CASES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=grid_files())
@example(text='quote_size = "999999999999999.5"\n')  # issue 47: DivisionImpossible, not a line
@example(text='capture = "notcap"\n')  # issue 47: a sweep that ran and failed, its database created
def test_a_grid_file_is_accepted_whole_or_refused_in_one_line(text: str, grid_base: Config, tmp_path: Path) -> None:
    path = grid_base.path.parent / "grid.toml"
    path.write_text(text, encoding="utf-8")
    try:
        grid = build_grid(grid_base, read_grid_file(path), source=str(path))
    except UsageError as exc:
        assert "\n" not in str(exc), exc
        event(f"refused: {str(exc).removeprefix(str(path) + ': ').split(':')[0]}")
        return
    event("accepted")
    for point in itertools.islice(grid.points(), 4):  # what each replay's engine checks before its row
        preflight(apply(grid_base, point), ports=False)
