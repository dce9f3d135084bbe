"""The queue models on a recording: the README's maker config on the Binance ETH recordings of 2024-08-08 (0.05
ETH quotes on spot, hedged on the USD-M perpetual), its first two minutes replayed under each model of the
spot venue. The quotes fill under every model, the conservative model fills the least base, and the summary
and the stored config say which model each run assumed.

Unlike the matcher's property (``tests/venues/test_queue_models.py``: the same orders on the same events),
a replay's quotes answer their own fills, so a model that fills more also quotes differently afterwards: the
ordering here is what this recording gives, 2.2514 / 2.3014 / 2.4299 ETH (conservative / power n=2 / log)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from arb.cli import main

from .maker_capture import DATA, binance_maker_capture, first_seconds
from .test_perp_valuation import eth_config

MODELS = {"conservative": "conservative", "power": "power n=2", "log": "log"}  # as the summary says each


@pytest.fixture(scope="module")
def eth_two_minutes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("eth")
    capture = binance_maker_capture(d, spot_file=DATA / "binance-spot-ethusdt-20240808.gz",
                                    usdm_file=DATA / "binance-usdm-ethusdt-20240808.gz", symbol="ETH/USDT")
    return first_seconds(capture, 120)


def with_queue_model(directory: Path, capture: Path, model: str) -> Path:
    """The ETH maker config with ``model`` on the spot venue (where the quotes rest)."""
    path = eth_config(directory, capture)
    body = path.read_text()
    spot = '[venues.spot]\nkind = "paper"\n'
    assert spot in body
    path.write_text(body.replace(spot, f'{spot}queue_model = "{model}"\n'))
    return path


def test_every_model_fills_quotes_and_the_conservative_one_fills_least(
        eth_two_minutes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    filled: dict[str, Decimal] = {}
    for model in MODELS:
        d = tmp_path / model
        d.mkdir()
        db = f"sqlite:///{d / 'run.db'}"
        assert main(["run", "--config", str(with_queue_model(d, eth_two_minutes, model)), "--db", db]) == 0
        out = capsys.readouterr().out
        said = (f"queue model {model}" if model == "conservative" else
                f"queue models perp conservative, spot {MODELS[model]}")
        assert f"recorded trades, {said}" in out, out
        with create_engine(db).connect() as c:
            amounts = c.execute(text("SELECT f.amount FROM fills f JOIN orders o ON o.id = f.order_id "
                                     "WHERE o.purpose = 'quote'")).scalars().all()
            summary, config = c.execute(text("SELECT summary, config_snapshot FROM runs")).one()
        filled[model] = sum((Decimal(a) for a in amounts), Decimal(0))
        assert json.loads(summary)["queue_models"] == {"perp": "conservative", "spot": MODELS[model]}
        assert json.loads(config)["venues"]["spot"]["queue_model"] == model
    print("quote base filled per model:", {m: str(v) for m, v in filled.items()})
    assert all(v > 0 for v in filled.values()), filled
    assert filled["conservative"] < filled["power"] and filled["conservative"] < filled["log"], filled
