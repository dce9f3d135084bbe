"""``[venues.X] queue_model`` and ``queue_power``: the power model's exponent is written out when not given (the
stored config says which it ran), an exponent without the power model and a model on a live venue are one
line each, naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from arb.cli import main
from arb.config import load_config

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = '"bundled:linkusdt-binance-huobi-2021-08-20"'


def shipped(tmp_path: Path, venue_lines: str, *, venue: str = "htx", live: bool = False) -> Path:
    """The shipped config with ``venue_lines`` in ``[venues.<venue>]`` (gate made live with ``live``), its
    capture as an absolute path."""
    text = (ROOT / "config.toml").read_text().replace(
        BUNDLED, f'"{(ROOT / "arb/data/linkusdt-binance-huobi-2021-08-20.jsonl.gz").as_posix()}"')
    if live:
        text = text.replace('[venues.gate]\nkind = "sandbox"', '[venues.gate]\nkind = "live"')
    head, _, rest = text.partition(f"[venues.{venue}]\n")
    kind, _, tail = rest.partition("\n")
    path = tmp_path / "queue.toml"
    path.write_text(f"{head}[venues.{venue}]\n{kind}\n{venue_lines}\n{tail}")
    return path


def test_the_default_is_conservative_and_power_writes_its_exponent_out(tmp_path: Path) -> None:
    config = load_config(shipped(tmp_path, 'queue_model = "power"'))
    assert (config.venues["htx"].queue_model, config.venues["htx"].queue_power) == ("power", 2.0)
    assert (config.venues["gate"].queue_model, config.venues["gate"].queue_power) == ("conservative", None)
    venues = config.snapshot()["venues"]  # stored with every run
    assert (venues["htx"]["queue_model"], str(venues["htx"]["queue_power"])) == ("power", "2.0")
    config = load_config(shipped(tmp_path, 'queue_model = "power"\nqueue_power = 3'))
    assert config.venues["htx"].queue_power == 3.0


@pytest.mark.parametrize(("lines", "venue", "live", "key", "words"), [
    ('queue_model = "log"\nqueue_power = 3', "htx", False, "venues.htx.queue_power",
     'queue_power is the power model\'s exponent; queue_model is "log"'),
    ("queue_power = 2", "htx", False, "venues.htx.queue_power", 'queue_model is "conservative"'),
    ('queue_model = "fifo"', "htx", False, "venues.htx.queue_model", "'conservative', 'power' or 'log'"),
    ('queue_model = "power"\nqueue_power = 0', "htx", False, "venues.htx.queue_power", "greater than 0"),
    ('queue_model = "log"', "gate", True, "venues.gate.queue_model", "a live venue's queue is the venue's own"),
])
def test_a_queue_setting_that_cannot_hold_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      lines: str, venue: str, live: bool, key: str,
                                                      words: str) -> None:
    path = shipped(tmp_path, lines, venue=venue, live=live)
    assert main(["config", "check", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f": {key}:" in err[0] and words in err[0], err


def test_a_sandbox_venue_matches_by_its_model_as_a_paper_one_does(tmp_path: Path) -> None:
    """The Gate sandbox (in-process, or ``arb sandbox --config``) lists its pairs with the venue's model."""
    from arb.venues.gate.adapter import sandbox_pairs
    from arb.venues.sim.queue import QueueModel

    config = load_config(shipped(tmp_path, 'queue_model = "power"\nqueue_power = 1.5', venue="gate"))
    assert [spec.market.queue for spec in sandbox_pairs(config, "gate")] == [QueueModel("power", 1.5)]
