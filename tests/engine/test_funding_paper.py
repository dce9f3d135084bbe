"""Funding through the paper venue, linear and inverse, long and short: constructed marks and rates reach the
paper venue as a capture's funding lines do (``VenueSet.pay_funding``), each funding time is paid once with the
sign the position and the rate give (a positive rate: longs pay), the engine's writer stores a
``funding_payments`` row per payment, and those rows add up to the run's holdings figure and to ``arb report``'s
funding row. The expected payments are recomputed here with fractions, from the stored fills: none of arb's
margin code.

An inverse perpetual (``BTC/USD``, contracts of 100 USD) pays ``-contracts * 100 / mark * rate`` BTC; a linear one
(``ETH/USDT``) ``-amount * mark * rate`` USDT. A run does not trade an inverse perpetual yet (preflight refuses
it: the engine sizes in base), so this drives the paper venue directly, through the same funding path and
writer ``arb run`` wires (``tests/engine/test_perp_valuation.py`` runs the linear case end to end)."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal as D
from fractions import Fraction as F
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import text

from arb.cli import main
from arb.domain.market import MarketKind, MarketRules, Side
from arb.domain.market_names import MarketNames
from arb.domain.venue import OrderRequest
from arb.runtime.summary import holdings_now
from arb.runtime.venues import VenueSet
from arb.runtime.writer import DecisionWriter
from arb.store import models, repo
from arb.store.db import make_engine, make_session_factory
from arb.store.models import Fill, Order
from arb.valuation import EndBook
from arb.venues.paper.venue import EPOCH, MS, PaperConfig, PaperVenue

FEE = D("0.0005")
S = 1000  # ms
# kind -> (venue, symbol, settle currency, start balance, contract size, book, what one order is)
MARKETS = {
    "linear": ("perp", "ETH/USDT", "USDT", D("10000"), None, ("2000", "2000.5"), D("1.5")),
    "inverse": ("coinm", "BTC/USD", "BTC", D("1"), D("100"), ("60000", "60000.5"), D("30")),
}
# (seconds after the start, mark, rate, funding time in seconds): the first time is paid by the second line, the
# second by the third, the third never (the lines stop before it).
LINES = [(5, "61000", "0.0001", 60), (60, "59000.5", "-0.0003", 120), (120, "60500", "0.0002", 10_000)]


def _value(kind: str, amount: F, price: F) -> F:
    size = MARKETS[kind][4]
    return amount * F(size) / price if size is not None else amount * price


@pytest.mark.parametrize("direction", ["long", "short"])
@pytest.mark.parametrize("kind", ["linear", "inverse"])
async def test_funding_is_paid_at_each_funding_time_with_its_sign_and_the_rows_are_the_reports_figure(
        kind: str, direction: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    venue, symbol, settle, start, size, (bid, ask), amount = MARKETS[kind]
    market_kind = MarketKind.LINEAR_PERPETUAL if kind == "linear" else MarketKind.INVERSE_PERPETUAL
    now = [0]
    rules = MarketRules(venue, symbol, D("0.5") if kind == "inverse" else D("0.01"), D("1") if size else D("0.001"),
                        kind=market_kind, contract_size=size)
    paper = PaperVenue(venue, None, {symbol: rules}, {settle: start}, config=PaperConfig(fee_rate=FEE, leverage=D(5)),
                       clock=lambda: EPOCH + now[0] * MS)
    side = Side.BUY if direction == "long" else Side.SELL

    db_url = f"sqlite:///{tmp_path / 'f.db'}"
    engine = make_engine(db_url)
    models.Base.metadata.create_all(engine)
    sessions = make_session_factory(engine)
    market = {"kind": market_kind.value, "price_step": str(rules.price_step), "amount_step": str(rules.amount_step),
              **({"contract_size": str(size)} if size else {})}
    with sessions.begin() as s:
        run_id = repo.start_run(s, mode="paper", started_at=EPOCH, config_snapshot={
            "engine": {"symbols": [symbol]}, "venues": {venue: {"markets": {symbol: market}}},
            "market_kinds": {venue: {symbol: market_kind.value}}}).id
    writer = DecisionWriter(sessions, inline=True)
    venues = VenueSet()
    venues.funding_listeners.append(partial(writer.add_funding, run_id))
    names = MarketNames.build([symbol], None, {})

    async def trade(at_s: int, n: int) -> None:
        """One IOC at the touch, ``amount`` in ``direction``; its order and fills stored as the executor's are."""
        now[0] = at_s * S
        paper.on_book(symbol, "snapshot", [(bid, "1000")], [(ask, "1000")], now[0])
        report = await paper.place(OrderRequest(f"c{n}", symbol, side, amount, D(ask) if side is Side.BUY else D(bid)))
        assert report.filled == amount
        at = EPOCH + now[0] * MS
        with sessions.begin() as s:
            order = Order(run_id=run_id, venue=venue, symbol=symbol, side=side.value, type="limit", time_in_force="IOC",
                          client_order_id=f"c{n}", venue_order_id=report.venue_order_id, price=report.price,
                          amount=amount, filled=report.filled, status="filled", created_at=at, updated_at=at)
            s.add(order)
            s.flush()
            s.add_all(Fill(order_id=order.id, venue=venue, trade_id=f.trade_id, price=f.price, amount=f.amount,
                           fee=f.fee, fee_currency=f.fee_currency, ts=f.ts) for f in report.fills)

    await trade(1, 1)
    for at_s, mark, rate, due_s in LINES:
        if at_s == 120:
            await trade(90, 2)  # between the two funding times: the second pays on twice the position
        now[0] = at_s * S
        venues.pay_funding(venue, paper, names, symbol, D(mark), D(rate), due_s * S, now[0])
    await writer.close()

    with engine.connect() as c:
        rows = c.execute(text("SELECT venue, symbol, ts, rate, mark, position, amount, currency "
                              "FROM funding_payments ORDER BY ts")).all()
        fills = c.execute(text("SELECT o.side, f.amount, f.ts, f.fee, f.fee_currency FROM fills f "
                               "JOIN orders o ON o.id = f.order_id ORDER BY f.ts, f.id")).all()
    # Paid at 60 s and 120 s, at the last terms announced for each; the third time never came.
    assert [(r[0], r[1], _ms(r[2]), F(r[3]), F(r[4]), r[7]) for r in rows] == [
        (venue, symbol, 60 * S, F("0.0001"), F("61000"), settle), (venue, symbol, 120 * S, F("-0.0003"), F("59000.5"), settle)]
    total = F(0)
    for _venue, _symbol, ts, rate, mark, position, paid, _currency in rows:
        held = sum((F(a) if s == "buy" else -F(a) for s, a, t, _, _ in fills if _ms(t) <= _ms(ts)), F(0))
        assert F(position) == held != 0  # the position held at the funding time
        expected = -_value(kind, held, F(mark)) * F(rate)
        assert abs(F(paid) - expected) <= F(1, 2 * 10**12)  # half-even to 1e-12 settle currency
        assert (F(paid) < 0) == (held * F(rate) > 0)  # a long pays a positive rate and receives a negative one
        total += F(paid)
    assert {f[4] for f in fills} == {settle}  # every fee in the settle currency

    # The wallet took exactly the fees and the funding (nothing closed: nothing realized).
    balances = await paper.balances()
    assert set(balances) == {settle}  # a margin account: no base, no quote beside its settle currency
    wallet = F(balances[settle].free + balances[settle].used)
    assert wallet == F(start) - sum((F(f[3]) for f in fills), F(0)) + total

    # The run's holdings (what the summary keeps) and arb report's funding row are the rows' sum.
    books = {(venue, symbol): EndBook([(D(bid), D("1000"))], [(D(ask), D("1000"))], FEE)}
    with sessions() as s:
        holdings = holdings_now(s, run_id, books)
    assert holdings is not None and F(holdings["funding"][settle]) == total and holdings["funding_payments"] == 2
    [position] = holdings["held"]
    assert position["position"] and (position["contract_size"] == size)
    with sessions.begin() as s:
        repo.end_run(s, run_id, ended_at=EPOCH + 200 * S * MS, summary={"holdings": holdings})
    capsys.readouterr()
    assert main(["report", "--db", db_url, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    funding = [r for r in report["holdings"]["rows"] if str(r["what"]).startswith(f"funding {settle}")]
    assert [F(r["at_mark"]) for r in funding] == [total]
    engine.dispose()


def _ms(value: str | datetime) -> int:
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return (when.replace(tzinfo=EPOCH.tzinfo) - EPOCH) // MS
