"""A spot-perpetual maker book valued as a desk would: the Binance ETH recordings of 2024-08-08 (spot quoted,
USD-M hedged, the whole six minutes). The perpetual is a margin account: its fills move a position, its fees
are USDT, it holds no ETH. The summary shows the position, the basis the run ends holding and the desk's
equity change at mark and at unwind; the equity at unwind equals a recomputation from the database's fills
and the capture's end books that shares no code with arb's valuation (fractions, a plain average-cost
position, a plain walk of the books)."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from arb.cli import main
from arb.marketdata.books import BookStore
from arb.marketdata.capture import read_capture

from .maker_capture import DATA, binance_maker_capture, maker_config

F = Fraction
FEES = {"spot": F("0.00023"), "perp": F("0.00017")}


@pytest.fixture(scope="module")
def eth_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("eth")
    return binance_maker_capture(d, spot_file=DATA / "binance-spot-ethusdt-20240808.gz",
                                 usdm_file=DATA / "binance-usdm-ethusdt-20240808.gz", symbol="ETH/USDT")


def eth_config(directory: Path, capture: Path) -> Path:
    """The README example's maker config on ETH: 0.05 ETH quotes on spot, hedged on the perpetual (5x)."""
    path = maker_config(directory, capture)
    body = (path.read_text().replace("BTC/USDT", "ETH/USDT").replace('quote_size = "0.002"', 'quote_size = "0.05"')
            .replace('max_exposure_per_asset = "1"', 'max_exposure_per_asset = "50"')
            .replace('balances = { USDT = "10000" }\nlatency_ms = 5\nfeed_latency_ms = 5\n'
                     'markets."ETH/USDT" = { kind = "linear_perpetual", price_step = "0.1"',
                     'balances = { USDT = "10000" }\nleverage = "5"\nlatency_ms = 5\nfeed_latency_ms = 5\n'
                     'markets."ETH/USDT" = { kind = "linear_perpetual", price_step = "0.01"')
            .replace('BTC = "0.2"', 'ETH = "20"')
            .replace('amount_step = "0.00001", min_amount = "0.00001"', 'amount_step = "0.0001", min_amount = "0.0001"'))
    assert 'leverage = "5"' in body and "BTC" not in body
    path.write_text(body)
    return path


def _run(config: Path, db_file: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, str, dict]:
    """``arb run`` of ``config`` into ``db_file``: the database URL, what it printed and its stored summary."""
    db = f"sqlite:///{db_file}"
    assert main(["run", "--config", str(config), "--db", db]) == 0
    out = capsys.readouterr().out
    with create_engine(db).connect() as c:
        return db, out, json.loads(c.execute(text("SELECT summary FROM runs")).scalar_one())


def _end_books(capture: Path) -> dict[str, tuple[list[tuple[F, F]], list[tuple[F, F]]]]:
    store = BookStore(depth=1000)
    for event in read_capture(capture):
        store.apply(event)
    out = {}
    for venue, capture_venue in (("spot", "binance"), ("perp", "binanceusdm")):
        book = store.book(capture_venue, "ETH/USDT")
        out[venue] = ([(F(p), F(q)) for p, q in book.levels("bids")], [(F(p), F(q)) for p, q in book.levels("asks")])
    return out


def _close(amount: F, venue: str, books: dict[str, tuple[list[tuple[F, F]], list[tuple[F, F]]]]) -> F:
    """Selling ``amount`` > 0 into the bids: the proceeds net of the taker fee; buying it back: minus the cost."""
    bids, asks = books[venue]
    left, notional = abs(amount), F(0)
    for price, size in bids if amount > 0 else asks:
        take = min(left, size)
        notional, left = notional + take * price, left - take
    assert left == 0
    return notional * (1 - FEES[venue]) if amount > 0 else -notional * (1 + FEES[venue])


def test_a_spot_perp_maker_run_shows_its_position_basis_and_equity_at_unwind(
        eth_capture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db, out, summary = _run(eth_config(tmp_path, eth_capture), tmp_path / "eth.db", capsys)
    with create_engine(db).connect() as c:
        fills = c.execute(text("SELECT o.venue, o.side, f.price, f.amount, f.fee, f.fee_currency FROM fills f "
                               "JOIN orders o ON o.id = f.order_id ORDER BY f.ts, f.id")).all()
        perp_assets = {a for (a,) in c.execute(text("SELECT DISTINCT asset FROM balances WHERE venue = 'perp'"))}
    assert len(fills) > 50, out
    assert {f[5] for f in fills if f[0] == "perp"} == {"USDT"}  # a perpetual's fee is in its settle currency
    assert perp_assets == {"USDT"}  # and it holds no ETH: a margin account
    assert "inventory               end - start = fills, every venue and asset" in out

    # The recomputation: cash per fill, the perpetual as a plain average-cost position.
    cash, spot_eth, position, entry = F(0), F(0), F(0), F(0)
    spot_cost = F(0)  # the average cost of spot's base change (what closing it against its own fills realized)
    for venue, side, price, amount, fee, fee_currency in fills:
        price, amount, fee = F(price), F(amount), F(fee)
        sign = 1 if side == "buy" else -1
        if venue == "spot":
            cash -= sign * price * amount
            if spot_eth == 0 or (spot_eth > 0) == (sign > 0):
                spot_cost = (abs(spot_eth) * spot_cost + amount * price) / (abs(spot_eth) + amount)
            elif amount > abs(spot_eth):
                spot_cost = price  # flipped: what is left was bought (or sold) at this fill
            spot_eth += sign * amount
            if spot_eth == 0:
                spot_cost = F(0)
            if fee_currency == "ETH":
                spot_eth -= fee
            else:
                cash -= fee
            continue
        cash -= fee
        if position == 0 or (position > 0) == (sign > 0):
            entry = (abs(position) * entry + amount * price) / (abs(position) + amount)
            position += sign * amount
        else:
            closed = min(amount, abs(position))
            cash += closed * (price - entry) * (1 if position > 0 else -1)
            position += sign * amount
            if position and (position > 0) == (sign > 0):
                entry = price
    books = _end_books(eth_capture)
    unwind = cash + _close(spot_eth, "spot", books) + _close(position, "perp", books) - position * entry

    holdings = summary["holdings"]
    # Every fill hedged: a basis (the perpetual's 0.001 step carries what is under it).
    assert position != 0 and abs(spot_eth + position) < F(1, 1000), (spot_eth, position)
    held = {h["venue"]: h for h in holdings["held"]}
    assert F(held["perp"]["amount"]) == position and held["perp"]["linear"]
    assert F(held["spot"]["amount"]) == spot_eth
    assert abs(F(holdings["equity_at_unwind"]["USDT"]) - unwind) < F(1, 10**9), (holdings, float(unwind))
    # What closed: the cash change with spot's change put back at its average cost (the position's cost is
    # in no cash); the rest of the equity at mark is what is held, unrealized.
    assert abs(F(holdings["realized"]["USDT"]) - (cash + spot_eth * spot_cost)) < F(1, 10**9)
    marks = {h["venue"]: F(h["mark"]) for h in holdings["held"]}
    unrealized = spot_eth * (marks["spot"] - spot_cost) + position * (marks["perp"] - entry)
    assert abs(F(holdings["equity_at_mark"]["USDT"]) - F(holdings["realized"]["USDT"]) - unrealized) < F(1, 10**9)
    assert F(holdings["realized"]["USDT"]) < 0 < F(summary["realized_pnl"])  # fees closed; the entry spread did not
    assert [(b["base"], b["spot_venue"], F(b["spot"]), b["perp_venue"], F(b["perp"])) for b in holdings["basis"]] == [
        ("ETH", "spot", spot_eth, "perp", position)]
    assert "BASIS POSITION          ETH: spot" in out and "POSITION                perp ETH/USDT" in out
    assert "equity change at unwind" in out
    # The README's "Perpetuals" section shows this run's lines, as printed.
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    shown = readme.split("\n## Perpetuals\n", 1)[1].split("```", 2)[1].strip().splitlines()
    assert len(shown) == 5 and all(line in out.splitlines() for line in shown), (shown, out)
    assert "equity (realized + unrealized)" not in out  # one equity figure: the holdings' lines
    assert "140 pairs realize 3.80 USDT" in readme and "realized pnl            3.795685" in out


def _with_funding(capture: Path, directory: Path, announcements: list[tuple[int, str, str, int]]) -> Path:
    """``capture`` with funding lines for the perpetual (``binanceusdm``) merged in: each ``(seconds after the
    capture's first line, mark, rate, funding time in seconds after it)``."""
    lines = capture.read_text().splitlines()
    first = json.loads(lines[0])["ts"]
    funding = [json.dumps({"ts": first + at * 1000, "venue": "binanceusdm", "symbol": "ETH/USDT", "type": "funding",
                           "mark": mark, "rate": rate, "funding_ts": first + due * 1000}, separators=(",", ":"))
               for at, mark, rate, due in announcements]
    merged = sorted([*lines, *funding], key=lambda line: json.loads(line)["ts"])  # stable: the original order kept
    out = directory / "with-funding.jsonl"
    out.write_text("\n".join(merged) + "\n")
    return out


def test_funding_is_paid_at_each_funding_time_and_the_stored_rows_are_the_reports_figure(
        eth_capture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A rate announced for 120 s, settled by the line at 120 s (longs pay), a negative one for 240 s (longs
    # receive), and one for a time after the capture ends (never paid).
    capture = _with_funding(eth_capture, tmp_path, [(5, "2680.5", "0.0001", 120), (120, "2681.25", "-0.0003", 240),
                                                    (240, "2682", "0.0002", 100_000)])
    db, out, summary = _run(eth_config(tmp_path, capture), tmp_path / "funding.db", capsys)
    with create_engine(db).connect() as c:
        rows = c.execute(text("SELECT venue, symbol, ts, rate, mark, position, amount, currency "
                              "FROM funding_payments ORDER BY ts")).all()
        fills = c.execute(text("SELECT o.side, f.amount, f.ts FROM fills f JOIN orders o ON o.id = f.order_id "
                               "WHERE o.venue = 'perp' ORDER BY f.ts, f.id")).all()
    first = json.loads(capture.read_text().split("\n", 1)[0])["ts"]
    assert [(r[0], r[1], F(r[3]), F(r[4])) for r in rows] == [("perp", "ETH/USDT", F("0.0001"), F("2680.5")),
                                                             ("perp", "ETH/USDT", F("-0.0003"), F("2681.25"))]
    for _venue, _symbol, ts, rate, mark, position, amount, currency in rows:
        due = datetime_ms(ts)
        assert due - first in (120_000, 240_000)
        held = sum((F(a) if side == "buy" else -F(a) for side, a, t in fills if datetime_ms(t) <= due), F(0))
        assert F(position) == held != 0  # the position held at the funding time
        assert F(amount) == -held * F(mark) * F(rate) and currency == "USDT"
        assert (F(amount) < 0) == (held * F(rate) > 0)  # a long pays a positive rate, receives a negative one
    total = sum((F(r[6]) for r in rows), F(0))
    assert F(summary["holdings"]["funding"]["USDT"]) == total and summary["holdings"]["funding_payments"] == 2
    assert "inventory               end - start = fills, every venue and asset" in out  # the wallet took it
    capsys.readouterr()
    assert main(["report", "--db", db, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    funding = [r for r in report["holdings"]["rows"] if str(r["what"]).startswith("funding USDT")]
    assert [F(r["at_mark"]) for r in funding] == [total]


def datetime_ms(value: str) -> int:
    from datetime import UTC, datetime
    when = datetime.fromisoformat(value)
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp() * 1000)


def test_a_margin_account_at_its_halt_ratio_stops_quoting_and_says_so(
        eth_capture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 1,000 USDT at 20x on the perpetual: the basis the run builds raises the margin ratio (maintenance 0.4% of
    # the notional over the margin balance) about 1.07% per ETH held, through the alert (2%) and the halt (4%).
    config = eth_config(tmp_path, eth_capture)
    config.write_text(config.read_text()
                      .replace('balances = { USDT = "10000" }\nleverage = "5"', 'balances = { USDT = "1000" }\nleverage = "20"')
                      .replace("[risk]\n", '[risk]\nmargin_alert_ratio = "0.02"\nmargin_halt_ratio = "0.04"\n'))
    db, out, summary = _run(config, tmp_path / "margin.db", capsys)
    incidents = {i["kind"]: i for i in summary["incidents"]}
    assert {"margin_alert", "margin_halt"} <= set(incidents), summary["incidents"]
    assert incidents["margin_alert"]["started_at"] < incidents["margin_halt"]["started_at"]
    assert "perp margin ratio 4.0%" in incidents["margin_halt"]["detail"] and "liquidated at" in out
    [perp] = [h for h in summary["holdings"]["held"] if h["linear"]]
    # The halt's ratio is 4% at ~3.7 ETH: no quote went out after it, so the position stops there (one quote's
    # fills at most beyond it), where the same run without the halt builds 6.8 ETH.
    assert F(3) < F(perp["amount"]) < F("3.75"), perp
    with create_engine(db).connect() as c:
        quoted = [datetime_ms(t) for (t,) in c.execute(text("SELECT created_at FROM orders WHERE purpose = 'quote'"))]
    halt = incidents["margin_halt"]
    ended = datetime_ms(halt["ended_at"]) if halt["ended_at"] else None
    assert not [t for t in quoted if datetime_ms(halt["started_at"]) < t and (ended is None or t < ended)]
