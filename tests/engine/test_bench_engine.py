"""``bench/bench_engine.py``: its floor writes the engine's rows, and its verdict does not pass on a baseline that
ran slower than the floor (which does the baseline's work and more)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from arb.engine import Engine
from arb.runtime.status import StatusReporter

from .helpers import ROOT, assert_same_opportunities, bench_module


def test_bench_engines_floor_writes_the_rows_the_engine_writes_on_the_bundled_capture(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``bench_engine.py``'s floor (its baseline with the same :class:`Floor`'s work, on the shipped config's
    whole capture) writes the engine's rejections' rows, column for column: the shipped fees reject all but one
    crossed pair there, whose execution is the engine's own work, not the floor's."""
    monkeypatch.syspath_prepend(str(ROOT / "bench"))  # as when it runs as a script: its sibling importable
    single = bench_module("bench_engine")
    config = single.bench_config(tmp_path, None)
    with single.Floor(tmp_path / "floor.db") as floor:
        asyncio.run(single.run_baseline(config, floor))
    engine = Engine(config, db_url=f"sqlite:///{tmp_path / 'engine.db'}", force_paper=True, mode="replay",
                    status=StatusReporter("off"), install_signal_handlers=False).main()
    assert engine.funnel.executed == 1 and floor.rows == sum(engine.funnel.rejected.values()) > 1000
    assert_same_opportunities(tmp_path / "floor.db", tmp_path / "engine.db", where="decision = 'rejected'")


def test_bench_engines_floor_looks_as_often_as_the_engines_watchers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The floor's looks (the kill-switch file's and the inventory watch's) are the engine's, as many on the bundled
    capture: once a market second, not once an instant or once a run. Counted on the kill-switch file's, which
    both sides make through ``RiskGate.kill_switch_engaged`` (the engine's one more: its risk gate's check of
    the one pair it executes)."""
    from arb.execution.risk import RiskGate

    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    single = bench_module("bench_engine")
    config = single.bench_config(tmp_path, None)
    looks = 0
    engaged = RiskGate.kill_switch_engaged

    def counted(self: RiskGate) -> bool:
        nonlocal looks
        looks += 1
        return engaged(self)

    monkeypatch.setattr(RiskGate, "kill_switch_engaged", counted)
    with single.Floor(tmp_path / "floor.db") as floor:
        asyncio.run(single.run_baseline(config, floor))
    floor_looks, looks = looks, 0
    Engine(config, db_url=f"sqlite:///{tmp_path / 'engine.db'}", force_paper=True, mode="replay",
           status=StatusReporter("off"), install_signal_handlers=False).main()
    assert floor.looks == floor_looks > 7000, (floor.looks, floor_looks)
    assert looks - 2 <= floor_looks <= looks, (floor_looks, looks)


@pytest.mark.parametrize(("ratio", "baseline_s", "floor_s", "ends"), [
    (0.86, 0.47, 0.50, ": PASS"),
    (0.60, 0.47, 0.50, ": FAIL"),
    (0.86, 0.68, 0.50, "not judged; run it again: FAIL"),  # 2026-11-29: a slow baseline printed PASS
    (0.60, 0.60, 0.50, "not judged; run it again: FAIL"),
])
def test_bench_engine_does_not_pass_on_a_baseline_slower_than_its_floor(
        ratio: float, baseline_s: float, floor_s: float, ends: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    line = bench_module("bench_engine").verdict(ratio, baseline_s, floor_s)
    assert line.startswith(f"verdict: simulator / books + detection x{ratio:.2f}") and line.endswith(ends), line


def test_bench_engines_stages_time_each_side_and_leave_every_method_as_it_was(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """``bench_engine.py --stages``: a row per stage on each side (the venues' hold, the rows and the watchers' looks
    the floor's and the simulator's alone), its parts within each run's time, and nothing left wrapped after it."""
    from arb.engine import watchers
    from arb.marketdata.books import BookStore
    from arb.runtime import depletion, feeds
    from arb.runtime.detector import Detector
    from arb.runtime.writer import DecisionWriter
    from arb.venues.paper.venue import PaperVenue

    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    single = bench_module("bench_engine")
    wrapped = [(BookStore, "apply"), (Detector, "detect"), (PaperVenue, "on_book"), (DecisionWriter, "_write"),
               (single.Floor, "hold"), (single.Floor, "write"), (single.Floor, "look"), (single._TimedLoop, "run")]
    names = [(vars(feeds), "read_timeline"), (vars(single), "read_capture"), (vars(watchers), "every"),
             (vars(depletion), "every")]
    before = [getattr(owner, name) for owner, name in wrapped] + [namespace[name] for namespace, name in names]
    figures = single.stages(single.bench_config(tmp_path, None), tmp_path)
    out = capsys.readouterr().out.splitlines()
    assert [line[:18].strip() for line in out[1:]] == list(figures) == [*single.STAGES, "the rest", "in all"], out
    for stage in ("reading", "books' apply", "detection", "the rest"):
        assert all(seconds > 0 for seconds in figures[stage]), figures
    # The floor's and the simulator's work, not books + detection's; the looks: the kill-switch file's and the
    # inventory's, a market second.
    for stage in ("venues' hold", "rows", "watchers' looks"):
        alone, floor, engine = figures[stage]
        assert alone == 0 and floor > 0 and engine > 0, figures
    runs = figures.pop("in all")
    for i, whole in enumerate(runs):
        assert sum(parts[i] for parts in figures.values()) == pytest.approx(whole)
    assert [getattr(owner, name) for owner, name in wrapped] + [namespace[name] for namespace, name in names] == before


def test_bench_engines_baseline_runs_under_the_collector_the_engine_sets_for_its_market(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Books + detection and the floor are read with the collector as the engine's market has it (everything
    built before frozen, the youngest generation collected every ``SIMULATION_GC_THRESHOLD`` allocations), and
    Python's setting is back after: under the default, one floor run paid a full collection (0.12 s of 0.60)."""
    import gc

    from arb.engine.lifecycle import SIMULATION_GC_THRESHOLD

    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    single = bench_module("bench_engine")
    read = single.read_capture
    seen: list[tuple[int, int]] = []

    def reading(path: Path) -> Iterator[object]:
        seen.append((gc.get_threshold()[0], gc.get_freeze_count()))
        yield from read(path)

    monkeypatch.setitem(vars(single), "read_capture", reading)
    before = gc.get_threshold()
    asyncio.run(single.run_baseline(single.bench_config(tmp_path, None)))
    assert seen == [(SIMULATION_GC_THRESHOLD, seen[0][1])] and seen[0][1] > 0
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


@pytest.mark.parametrize(("args", "named"), [
    (["--repeat", "0"], "--repeat 0: at least 1"),
    (["--fee", "cheap"], "--fee 'cheap': a rate from 0 to under 1"),
    (["--fee", "1"], "--fee '1': a rate from 0 to under 1"),
])
def test_bench_engines_bad_arguments_are_one_line_before_anything_runs(
        args: list[str], named: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    single = bench_module("bench_engine")
    monkeypatch.setattr("sys.argv", ["bench_engine.py", *args])
    monkeypatch.setattr(single, "bench_config", lambda *a: pytest.fail("the config was written"))
    with pytest.raises(SystemExit) as exited:
        single.main()
    out = capsys.readouterr()
    assert exited.value.code == 2 and named in out.err.splitlines()[-1] and out.out == ""


def test_bench_engines_call_count_counts_each_call_in_its_span_and_nothing_after(monkeypatch: pytest.MonkeyPatch,
                                                                                ) -> None:
    """``--calls``' counter: every call of a Python function and of a builtin while it is on, by name, from the
    first line its wrapped reader gives to the last, and nothing once the reader is done (the profiler off); the
    reader as it was after."""
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    single = bench_module("bench_engine")

    def twice(n: int) -> int:
        return len([n, n])

    def reader() -> Iterator[int]:
        yield from (twice(n) for n in range(3))

    namespace = {"read_capture": reader}
    count = single.CallCount()
    with count.reading(namespace):
        assert list(namespace["read_capture"]()) == [2, 2, 2]
        twice(9)  # after the reader's end: not counted
    assert namespace["read_capture"] is reader
    here = f"{single._short(__file__)}:twice"
    assert here == "tests/engine/test_bench_engine.py:twice"
    calls = count.by_name()
    assert (calls[here], calls["builtin len"]) == (3, 3)
    assert sys.getprofile() is None


def test_bench_engine_takes_stages_or_calls_not_both() -> None:
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_engine.py"), "--stages", "--calls"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 2 and "not allowed with argument" in run.stderr.splitlines()[-1]


def test_bench_engines_market_loop_alone_moves_market_time_through_every_instant_beside_both_watchers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The market-time loop measured alone sleeps to each of the instants, market second by market second, and the
    engine's two watchers each look once at its start and once every market second after: as many looks as on the
    engine's run of a capture of that many seconds."""
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    single = bench_module("bench_engine")
    looks = 0

    def look() -> None:
        nonlocal looks
        looks += 1

    assert single.market_loop_alone(250, look) > 0
    assert looks == 2 * (250 + 1)
    line = single.machinery_line(2.0, 2.3, 3.0, 0.072, 7200)
    assert "leaves it 27.8 us over the floor, it takes 97.2 us" in line and "looks doing nothing) 10.0 us" in line


@pytest.mark.parametrize(("floor_s", "market_s", "ends"), [(2.7, 3.0, "x0.90 >= 0.9: PASS"), (2.3, 3.0, "x0.77 >= 0.9: FAIL")])
def test_bench_engines_proposed_replacement_judges_the_simulator_against_its_floor(
        floor_s: float, market_s: float, ends: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ratio proposed in x0.8's place is the one ``bench_multisymbol.py`` judges, with its target, and says what
    the floor itself ran at beside books + detection."""
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    line = bench_module("bench_engine").replacement_line(2.0, floor_s, market_s)
    assert f"the floor itself x{2.0 / floor_s:.2f} of books + detection" in line and line.endswith(ends), line


def test_bench_engines_rounds_line_gives_each_rounds_ratio_and_their_medians(monkeypatch: pytest.MonkeyPatch) -> None:
    """Printed beside the best-of figures: each round's simulator / books + detection (its sides seconds apart) and
    the medians, in events/s (``scale``: the simulator's book updates over the baselines' events)."""
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    rounds = [(2.0, 2.4, 3.0), (1.8, 2.5, 3.6), (2.4, 2.6, 3.2)]  # a slow phase for books + detection alone
    line = bench_module("bench_engine").rounds_line(rounds)
    assert "books + detection x0.67 x0.50 x0.75, median x0.67; simulator / the floor median x0.80" in line, line
    assert "median x0.33;" in bench_module("bench_engine").rounds_line(rounds, 0.5)
