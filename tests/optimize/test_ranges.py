"""A ranges file is checked as a sweep grid is (``tests/sweep/test_captures.py``): an unknown key or field, a range
that cannot be sampled, or a value the config would refuse is one line naming the file and the key, exit 2,
before a cluster starts or a database is made; and a trial's sampled floats become exact decimal text."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from engine.helpers import trimmed_capture
from sweep.helpers import small_config

from arb.cli import main
from arb.optimize.ranges import Param, build_space, read_ranges_file

GOOD = 'fee = { low = "0", high = "0.0003", step = "0.0001" }\n'


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A config and a two-file timeline of a minute each."""
    tmp = tmp_path_factory.mktemp("ranges")
    days = tmp / "days"
    days.mkdir()
    first = trimmed_capture(days, "00:00", "00:01", name="part-1.jsonl.gz")
    trimmed_capture(days, "00:01", "00:02", name="part-2.jsonl.gz")
    config, _ = small_config(tmp, first)
    return config, days


@pytest.mark.parametrize(("text", "line"), [
    ('speed = { low = 0, high = 1 }\n', "unknown key 'speed' (known: capture, fee,"),
    ('captures_as = "timeline"\n' + GOOD, "captures_as: arb optimize walks forward over the timeline's files"),
    ('fee = { lo = "0", high = "1" }\n', "fee: unknown field 'lo' (a range has low, high, step, log)"),
    ('fee = { high = "1" }\n', "fee: a range needs low and high (got high)"),
    ('fee = { low = "0.0003", high = "0.0001", step = "0.0001" }\n', "fee: low 0.0003 is not below high 0.0001"),
    ('fee = { low = "0.0001", high = "0.0001", step = "0.0001" }\n', "fee: low 0.0001 is not below high 0.0001"),
    ('fee = { low = "0", high = "0.0003", step = "0" }\n', "fee: step must be above 0 (got 0)"),
    ('fee = { low = "0", high = "0.0003", step = "-0.0001" }\n', "fee: step must be above 0 (got -0.0001)"),
    ('fee = { low = "0", high = "0.0003", step = "0.0002" }\n', "fee: step 0.0002 does not divide high - low (0.0003)"),
    ('fee = { low = "0", high = "0.5", step = "1e-30" }\n', "fee: 5e+29 steps from low to high, over 1,000,000,000"),
    ('fee = { low = "0", high = "0.0003" }\n', "fee: a range of strings is exact decimals and needs a step"),
    ('fee = { low = "0", high = 1, step = "0.1" }\n', "fee: low, high and step are all strings (exact decimals) or"),
    ('fee = { low = true, high = 1 }\n', "fee: low, high and step are numbers, or strings for exact decimals"),
    ('fee = { low = "zero", high = "1", step = "0.1" }\n', "fee: low: not a number (got 'zero')"),
    ('fee = { low = "0", high = "NaN", step = "0.1" }\n', "fee: high: not a finite number (got 'NaN')"),
    ('min_edge_bps = { low = 0.0, high = inf }\n', "min_edge_bps: high: not a finite number"),
    ('min_edge_bps = { low = nan, high = 1.0 }\n', "min_edge_bps: low: not a finite number"),
    ('min_edge_bps = { low = 1e300, high = 1e301 }\n', "min_edge_bps: low: 1E+300 is beyond ±1e15"),
    ('fee = { low = "0", high = "0.12345678901234567890", step = "0.12345678901234567890" }\n',
     "fee: high: 0.12345678901234567890 has more digits than the sampler's floats hold"),
    ('min_edge_bps = { low = 0.0, high = 1.5, log = true }\n', "min_edge_bps: log: low must be above 0 on a log scale"),
    ('min_edge_bps = { low = 0.5, high = 1.5, step = 0.5, log = true }\n', "min_edge_bps: log: a stepped range has no"),
    ('min_edge_bps = { low = 0.5, high = 1.5, log = "yes" }\n', "min_edge_bps: log: true or false (got 'yes')"),
    ('leg_policy = []\n', "leg_policy: a range { low, high, step }, a list of values or one value"),
    ('fee = "0.0001"\n', "nothing to optimise: give at least one key a range or a list of values"),
    # the config's own rules, as the sweep applies them (its messages)
    ('fee = { low = "-1", high = "0.0003", step = "0.0001" }\n',
     "fee: Input should be greater than or equal to 0 (got '-1')"),
    ('latency_ms = { low = 0.0, high = 50.0 }\n', "latency_ms: Input should be a valid integer"),
    ('leg_policy = ["unwind", "sideways"]\n', "leg_policy: Input should be 'unwind', 'complete' or 'halt'"),
    ('leg_policy = ["unwind", "unwind"]\n', "leg_policy: a value is listed twice (got 'unwind,unwind')"),
])
def test_a_hostile_range_is_one_line_and_exit_2(setup: tuple[Path, Path], tmp_path: Path, text: str, line: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    config, days = setup
    ranges = tmp_path / "ranges.toml"
    ranges.write_text(f'capture = "{days}"\n{text}')
    db = tmp_path / "never.db"
    assert main(["optimize", str(ranges), "--config", str(config), "--db", f"sqlite:///{db}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"arb: error: {ranges}: {line}") and err.count("\n") == 1, err
    assert not db.exists()


@pytest.mark.parametrize(("args", "line"), [
    (["--trials", "0"], "arb optimize: error: argument --trials: trials 0 is not between 1 and 10000"),
    (["--seed", "-1"], "arb optimize: error: argument --seed: seed -1 is not between 0 and 4294967295"),
    (["--batch", "many"], "arb optimize: error: argument --batch: not an integer: 'many'"),
    (["--workers", "0"], "arb: error: --workers: must be from 1 to 1024 (got 0)"),
    (["--capture", "nowhere/*.jsonl.gz"], "arb: error: RANGES: capture: no capture file matches: 'nowhere/*.jsonl.gz'"),
    (["--capture", "DAYS/part-1.jsonl.gz"], "arb: error: RANGES: capture: walk-forward needs a timeline of two "
     "files or more, fitted on one and scored on the next (got 1: "),
])
def test_a_hostile_argument_is_one_line_and_exit_2(setup: tuple[Path, Path], tmp_path: Path, args: list[str],
                                                    line: str, capsys: pytest.CaptureFixture[str]) -> None:
    config, days = setup
    ranges = tmp_path / "ranges.toml"
    ranges.write_text(f'capture = "{days}"\n{GOOD}')
    db = tmp_path / "never.db"
    args = [a.replace("DAYS", str(days)) for a in args]
    try:
        status = main(["optimize", str(ranges), "--config", str(config), "--db", f"sqlite:///{db}", *args])
    except SystemExit as exit_:  # argparse's own errors exit from inside parse_args
        status = exit_.code
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith(line.replace("RANGES", str(ranges))) and err.count("\n") == 1, err
    assert not db.exists()


def test_the_space_holds_each_kind_and_its_timeline(setup: tuple[Path, Path], tmp_path: Path) -> None:
    config, days = setup
    ranges = tmp_path / "ranges.toml"
    ranges.write_text('capture = "days/"\n' + GOOD + 'latency_ms = { low = 0, high = 50, step = 10 }\n'
                      'min_edge_bps = { low = 0.1, high = 2.0, log = true }\nmin_profit_bps = { low = 0.5, high = 1.5, '
                      'step = 0.5 }\nleg_policy = ["unwind", "complete"]\n')
    (tmp_path / "days").symlink_to(days)  # relative to the ranges file
    from arb.config import load_config

    raw = read_ranges_file(ranges)
    raw.pop("min_profit_bps")  # a maker key: this config quotes nothing (refused by the sweep's rule, as below)
    space = build_space(load_config(config), raw, source="r")
    assert space.timeline == tuple(str(p) for p in sorted(days.iterdir()))
    assert {p.key: p.kind for p in space.params} == {"fee": "decimal", "latency_ms": "int",
                                                     "min_edge_bps": "float", "leg_policy": "choice"}
    with pytest.raises(Exception, match=r"^r: min_profit_bps: the config has no maker symbol"):
        build_space(load_config(config), {**raw, "min_profit_bps": read_ranges_file(ranges)["min_profit_bps"]},
                    source="r")


def test_a_sampled_float_becomes_the_exact_decimal_of_its_step() -> None:
    fee = Param("fee", "decimal", Decimal("0"), Decimal("0.0003"), Decimal("0.0001"))
    # Optuna's stepped floats: 3 * 0.0001 is 0.00030000000000000003 in binary floating point
    assert [fee.text(v) for v in (0.0, 0.0001, 0.00020000000000000001, 3 * 0.0001)] == ["0", "0.0001", "0.0002",
                                                                                        "0.0003"]
    assert fee.samples() == ["0", "0.0001", "0.0003"]
    edge = Param("min_edge_bps", "decimal", Decimal("0.5"), Decimal("1.5"), Decimal("0.5"))
    assert edge.text(0.1 + 0.2 + 0.7) == "1.0" and edge.distribution().step == 0.5
    latency = Param("latency_ms", "int", Decimal(0), Decimal(50), Decimal(10))
    assert latency.samples() == ["0", "10", "50"] and latency.text(30) == "30"
    assert Param("min_edge_bps", "float", Decimal("0"), Decimal("1")).samples() == ["0.0", "0.381966", "1.0"]
