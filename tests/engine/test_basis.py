"""The basis strategy (``strategy = "basis"``, arb/detection/basis.py) on a capture whose basis moves: the
perpetual rises 15 bps over spot and comes back. The run opens a carry position (buy spot, sell the
perpetual) while the basis pays open_bps, up to max_position, and closes it once the basis has come back to
close_bps; every leg is an IOC pair through the paired executor. A replay, a paced paper run and a sweep point
of the config write the same rows. With funding lines, a payment the position would make is fled before its
funding time, and one it would receive is held for."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from arb.cli import main

from .test_simulation import _rows

T0 = 1_723_161_600_000  # 2024-08-09 00:00 UTC
EIGHT_HOURS_MS = 8 * 3600 * 1000


def _basis_at(second: int) -> D:
    """The perpetual's premium over spot's mid, USDT: 0, up to 3 (15 bps) from 30 s to 60 s, back to 0 by 90 s."""
    if second < 20 or second >= 100:
        return D(0)
    if second < 30:
        return D(3) * (second - 20) / 10
    if second < 70:
        return D(3)
    return D(3) * (100 - second) / 30


def moving_basis_capture(directory: Path, funding: tuple[str, int] | None = None, *, seconds: int = 120,
                         basis: Callable[[int], D] = _basis_at) -> Path:
    """Both books once a second for ``seconds`` (the perpetual ``basis(second)`` USDT over spot's mid); with
    ``funding`` = (rate, second), a funding line for the perpetual each second too, at its mid, announcing
    ``rate`` for that second's funding time (and, from then on, for the one eight hours later)."""
    out = directory / "basis.jsonl"
    with out.open("w") as f:
        for second in range(seconds):
            ts = T0 + second * 1000
            mid = D(2000) + basis(second)
            if funding is not None:
                rate, due = funding
                funding_ts = T0 + due * 1000 + (EIGHT_HOURS_MS if second >= due else 0)
                f.write(json.dumps({"ts": ts, "venue": "binanceusdm", "symbol": "ETH/USDT", "type": "funding",
                                    "mark": str(mid), "rate": rate, "funding_ts": funding_ts},
                                   separators=(",", ":")) + "\n")
            for venue, bid, ask in (("binance", D("1999.99"), D("2000.01")),
                                    ("binanceusdm", (mid - D("0.05")).quantize(D("0.01")),
                                     (mid + D("0.05")).quantize(D("0.01")))):
                f.write(json.dumps({"ts": ts, "venue": venue, "symbol": "ETH/USDT", "type": "snapshot",
                                    "bids": [[str(bid), "10"], [str(bid - 1), "10"]],
                                    "asks": [[str(ask), "10"], [str(ask + 1), "10"]]}, separators=(",", ":")) + "\n")
    return out


def basis_config(directory: Path, capture: Path, *, name: str = "basis.toml", mode: str = "replay",
                 speed: str = "0", basis_extra: str = "") -> Path:
    path = directory / name
    path.write_text(f"""
[engine]
mode = "{mode}"
symbols = ["ETH/USDT"]
status = "off"

[replay]
capture = "{capture.resolve().as_posix()}"
speed = {speed}

[symbols."ETH/USDT"]
strategy = "basis"

[symbols."ETH/USDT".basis]
spot_venue = "spot"
perp_venue = "perp"
size = "0.5"
max_position = "2"
open_bps = "5"
close_bps = "-5"
{basis_extra}
[risk]
max_notional_per_trade = "5000"
max_exposure_per_asset = "5"
daily_loss_limit = "100"

[venues.spot]
kind = "paper"
adapter = "binance"
taker_fee = "0.0002"
fee_tier = "illustrative"
buy_fee_in = "quote"
capture_venue = "binance"
balances = {{ USDT = "10000" }}
latency_ms = 5
markets."ETH/USDT" = {{ price_step = "0.01", amount_step = "0.0001", min_amount = "0.0001", min_notional = "5" }}

[venues.perp]
kind = "paper"
adapter = "binance"
ccxt_id = "binanceusdm"
taker_fee = "0.0002"
fee_tier = "illustrative"
capture_venue = "binanceusdm"
balances = {{ USDT = "10000" }}
leverage = "2"
latency_ms = 5
markets."ETH/USDT" = {{ kind = "linear_perpetual", price_step = "0.01", amount_step = "0.001", min_amount = "0.001", min_notional = "5" }}
""")
    return path


def _pairs(db: str) -> list[tuple[str, str, D, D]]:
    with create_engine(db).connect() as c:
        return [(b, s, D(size), D(edge)) for b, s, size, edge in c.execute(text(
            "SELECT buy_venue, sell_venue, size, edge_bps FROM opportunities WHERE decision = 'executed' "
            "ORDER BY id"))]


def test_a_basis_run_opens_while_the_basis_pays_and_closes_when_it_comes_back(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = moving_basis_capture(tmp_path)
    db = f"sqlite:///{tmp_path / 'basis.db'}"
    assert main(["run", "--config", str(basis_config(tmp_path, capture)), "--db", db]) == 0
    out = capsys.readouterr().out
    pairs = _pairs(db)
    opens = [p for p in pairs if p[:2] == ("spot", "perp")]
    closes = [p for p in pairs if p[:2] == ("perp", "spot")]
    # Four pairs of 0.5 open it to max_position, each paying open_bps; four close it, each at close_bps or better.
    assert [p[2] for p in opens] == [D("0.5")] * 4 and all(p[3] >= 5 for p in opens), pairs
    assert [p[2] for p in closes] == [D("0.5")] * 4 and all(-5 <= p[3] < 5 for p in closes), pairs
    assert pairs.index(closes[0]) == 4  # every open before the first close: the basis rose, then came back
    # Flat at the end: no position, no basis held; what it made is realized, closed.
    summary_line = [line for line in out.splitlines() if line.startswith("realized (closed)")]
    assert "POSITION" not in out and "BASIS POSITION" not in out and summary_line, out
    with create_engine(db).connect() as c:
        stored = json.loads(c.execute(text("SELECT summary FROM runs")).scalar_one())
    h = stored["holdings"]
    assert h["held"] == [] and D(h["realized"]["USDT"]) == D(h["equity_at_mark"]["USDT"]) == D(h["equity_at_unwind"]["USDT"])
    # Flat, what closed is every pair's own realized PnL summed (each open's entry spread, each close's cost):
    # the pairs' accounting and the holdings' agree once nothing is held; it earned the basis it opened on.
    with create_engine(db).connect() as c:
        pairs_realized = sum(D(r) for (r,) in c.execute(text(
            "SELECT realized_pnl FROM opportunities WHERE decision = 'executed'")))
    assert abs(D(h["realized"]["USDT"]) - pairs_realized) < D("1e-9") and pairs_realized > 0, (h, pairs_realized)


def test_a_basis_config_s_replay_paper_run_and_sweep_point_write_the_same_rows(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = moving_basis_capture(tmp_path)
    run_db, paper_db, sweep_db = (f"sqlite:///{tmp_path / n}" for n in ("run.db", "paper.db", "sweep.db"))
    assert main(["run", "--config", str(basis_config(tmp_path, capture)), "--db", run_db]) == 0
    paper = basis_config(tmp_path, capture, name="paper.toml", mode="paper", speed="200")
    assert main(["run", "--config", str(paper), "--db", paper_db]) == 0
    capsys.readouterr()
    assert main(["sweep", "--config", str(basis_config(tmp_path, capture, name="base.toml")), "--db", sweep_db,
                 "--workers", "1", "--latency-ms", "5,20", "--format", "json"]) == 0
    points = {p["latency_ms"]: p["run_id"] for p in json.loads(capsys.readouterr().out)["points"]}
    ran, papered, swept = _rows(run_db, 1), _rows(paper_db, 1), _rows(sweep_db, points["5"])
    assert len(ran["fills"]) >= 16, ran["fills"]  # eight pairs, two legs each
    for table in ran:
        assert ran[table] == papered[table] == swept[table], table


FUNDING_S = 55  # the funding time, seconds into the capture: the position is fully open, the basis still wide


def _executed(db: str) -> list[tuple[datetime, str, D]]:
    """(decided at, buy venue, edge bps) of each executed pair, in order."""
    with create_engine(db).connect() as c:
        return [(datetime.fromisoformat(str(at)).replace(tzinfo=UTC), buy, D(edge)) for at, buy, edge in c.execute(
            text("SELECT detected_at, buy_venue, edge_bps FROM opportunities WHERE decision = 'executed' "
                 "ORDER BY id"))]


def _funding_rows(db: str) -> list[tuple[datetime, D, D, D, D]]:
    with create_engine(db).connect() as c:
        return [(datetime.fromisoformat(str(ts)).replace(tzinfo=UTC), D(rate), D(mark), D(position), D(amount))
                for ts, rate, mark, position, amount in c.execute(text(
                    "SELECT ts, rate, mark, position, amount FROM funding_payments ORDER BY ts"))]


@pytest.mark.parametrize("rate", ["-0.002", "0.002"])
def test_a_carry_closes_before_an_adverse_funding_time_and_holds_through_a_favourable_one(
        rate: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The basis run above with funding lines announcing 20 bps for a funding time at 55 s, while the carry is
    at max_position and the basis still 15 bps wide. Counted within 10 s (the horizon) in the open and 5 s
    (the lead) in the close. A negative rate (the short perpetual pays): the four pairs close from 50 s on,
    before their close pays close_bps, so no funding is paid; then, the next funding eight hours away, it opens
    again. A positive rate (it receives): held, paid at 55 s, closed once the basis came back, as without."""
    capture = moving_basis_capture(tmp_path, (rate, FUNDING_S))
    config = basis_config(tmp_path, capture, basis_extra="funding_horizon_s = 10\nclose_before_funding_s = 5\n")
    db = f"sqlite:///{tmp_path / 'funding.db'}"
    assert main(["run", "--config", str(config), "--db", db]) == 0
    capsys.readouterr()
    funding_at = datetime.fromtimestamp((T0 + FUNDING_S * 1000) / 1000, UTC)
    pairs, paid = _executed(db), _funding_rows(db)
    before = [p for p in pairs if p[0] < funding_at]
    opens = [p for p in before if p[1] == "spot"]
    closes = [p for p in before if p[1] == "perp"]
    assert len(opens) == 4 and all(p[0] < funding_at - timedelta(seconds=10) for p in opens), pairs
    if rate.startswith("-"):
        # Every pair closed inside the lead, each at a cost beyond close_bps that the payment it avoided exceeds.
        assert len(closes) == 4 and all(funding_at - timedelta(seconds=5) <= p[0] and p[2] < -5 for p in closes)
        assert paid == [], paid  # flat at the funding time: nothing paid
        after = pairs[len(before):]
        assert [p[1] for p in after[:4]] == ["spot"] * 4, pairs  # opened again once the payment was behind it
    else:
        assert closes == [], pairs  # held through the funding time
        ((ts, got_rate, mark, position, amount),) = paid
        assert (ts, got_rate, position) == (funding_at, D(rate), D(-2)) and mark == D(2003)
        assert amount == -position * mark * got_rate == D("8.012")  # received: a short, a positive rate
        assert all(p[2] >= -5 for p in pairs if p[1] == "perp") and [p[1] for p in pairs].count("perp") == 4


def test_a_perpetual_on_the_gate_sandbox_must_be_named_as_ccxt_names_a_contract(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The basis reads a live or sandbox perpetual's position from its venue (tests/engine/
    test_basis_gate_sandbox.py); the sandbox lists the perpetual as ``ETH/USDT:USDT``, and a config that names
    it otherwise is told the line to add."""
    path = basis_config(tmp_path, moving_basis_capture(tmp_path))
    text_ = path.read_text().replace('[venues.perp]\nkind = "paper"\nadapter = "binance"\nccxt_id = "binanceusdm"',
                                     '[venues.perp]\nkind = "sandbox"\nadapter = "gate"')
    path.write_text(text_.replace('amount_step = "0.001", min_amount = "0.001"', 'amount_step = "0.01", min_amount = "0.01"'))
    assert main(["config", "check", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "venues.perp.market_names" in err and '"ETH/USDT:USDT"' in err, err


@pytest.mark.parametrize(("extra", "said"), [
    ("funding_horizon_s = 60\nclose_before_funding_s = 61\n", "close_before_funding_s 61 must not exceed"),
    ("close_before_funding_s = -1\n", "close_before_funding_s"),
    ('funding_horizon_s = "8h"\n', "funding_horizon_s"),
])
def test_a_basis_s_funding_windows_are_checked_in_one_line(extra: str, said: str, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = basis_config(tmp_path, moving_basis_capture(tmp_path), basis_extra=extra)
    assert main(["config", "check", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "symbols.ETH/USDT" in err and said in err, err
