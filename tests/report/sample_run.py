"""A small, hand-checkable trade history: two runs, five opportunities, seven orders, seven fills.

Run 1 (LINK/USDT, binance and huobi, taker fee 0.1%):

Settled by ``arb.store.settlement.settle_pending`` as the engine would; the figures (``arb.accounting``),
worked by hand:

- O1 executed, buy binance / sell huobi, size 10 at expected 20.00 / 20.10, expected profit 0.599
  (gross 1.00 - fees 0.2 - 0.201), mark 19.98. The buy fills 6 @ 20.00 + 4 @ 20.02 (slippage -0.08), the
  sell 10 @ 20.09 (slippage -0.10); fees in USDT 0.12 + 0.08008 + 0.2009 = 0.40098 against 0.401 expected.
  realized = 200.9 - 200.08 - 0.40098 = 0.41902 = 0.599 - 0.18 + 0.00002 (unfilled 0, imbalance 0).
- O2 executed, buy huobi / sell binance, size 5 at 20.00 / 20.08, expected 0.1996, mark 19.97001.
  The buy fills 5 @ 20.00 with a fee of 0.005 LINK; the sell fills only 3 @ 20.08 (fee 0.06024 USDT); an
  unwind sells 2 on huobi @ 19.95 (fee 0.0399 USDT), leaving -0.005 LINK: of which the plan meant its
  filled 3/5 of the fee, -0.003 (at the mark), and -0.002 is open, at the sells' average 20.028.
  realized = 100.14 - 100 - 0.10014 - 0.003 * 19.97001 - 0.002 * 20.028 = -0.06010603; slippage 0; fees 0
  (the base fee at the expected rate, valued at the mark); unfilled -(1 - 3/5) * 0.1996 = -0.07984;
  imbalance the rest, -0.17986603.
- O3 rejected book_stale (binance -> huobi), O4 rejected below_min_edge (binance -> huobi), O5 rejected
  below_min_edge (huobi -> binance).
- Balance snapshots on binance before and after O1 (none on huobi: its balances are a gap, not zeros).
- Outcomes as the executor stores them (``detail``): O1 hedged with both legs full, O2 hedged by an unwind.
- No market rules in its config snapshot: every figure is shown at the default 8 places.

Run 2 (ETH/USDT on gate/okx), started later: O6 executed, size 1 at 10 / 10.2, expected 0.18; only the
buy filled (1 @ 10, fee 0.01 GT: a third currency, unpriced); the sell leg was rejected with no fill.
Its 1 ETH is an open position at its cost, 10: realized -10 + 1 * 10 = 0; unfilled -0.18; imbalance 0. Outcome halted (the ``halt`` policy). Its config snapshot has market rules: gate
ETH/USDT price step 0.01, amount step 0.0001, taker fee 0.002 (ETH at 4 + 3 = 7 places, USDT at 2 + 4 = 6);
okx 0.1, 0.001, 0.001 (ETH 6, USDT 4).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from arb.store.db import make_engine, make_session_factory
from arb.store.migrate import upgrade_to_head
from arb.store.models import Balance, Fill, Opportunity, Order, Run
from arb.store.settlement import settle_pending

T0 = datetime(2021, 8, 20, 0, 10, 0, tzinfo=UTC)
T1 = T0 + timedelta(seconds=10)
T2 = T0 + timedelta(hours=1)
SETTLED_AT = T2 + timedelta(minutes=1)


RUN2_SNAPSHOT = {"venues": {
    "gate": {"taker_fee": "0.002", "markets": {"ETH/USDT": {"price_step": "0.01", "amount_step": "0.0001"}}},
    "okx": {"taker_fee": "0.001", "markets": {"ETH/USDT": {"price_step": "0.1", "amount_step": "0.001"}}},
}}


def ms(base: datetime, milliseconds: float) -> datetime:
    return base + timedelta(milliseconds=milliseconds)


def _opp(run: Run, at: datetime, buy: str, sell: str, **kw: object) -> Opportunity:
    defaults: dict[str, object] = {
        "symbol": "LINK/USDT",
        "size": D("10"),
        "buy_price": D("20.00"),
        "sell_price": D("20.10"),
        "expected_profit": D("0.599"),
        "decision": "executed",
        "buy_fee_rate": D("0.001"),
        "sell_fee_rate": D("0.001"),
    }
    defaults.update(kw)
    if defaults["decision"] == "executed":
        defaults.setdefault("mark_price", D("19.98"))
    return Opportunity(run=run, detected_at=at, buy_venue=buy, sell_venue=sell, **defaults)


_order_seq = iter(range(1, 1_000_000))


def _order(run: Run, opp: Opportunity, venue: str, side: str, amount: str, price: str, **kw: object) -> Order:
    created = kw.pop("created_at", opp.detected_at)
    defaults: dict[str, object] = {
        "symbol": opp.symbol,
        "type": "limit",
        "time_in_force": "ioc",
        "purpose": "entry",
        "status": "filled",
        "filled": D(amount),
        "updated_at": created,
    }
    defaults.update(kw)
    return Order(
        opportunity=opp,
        run_id=run.id,
        venue=venue,
        side=side,
        amount=D(amount),
        price=D(price),
        client_order_id=f"t-{next(_order_seq)}",
        created_at=created,
        **defaults,
    )


def _fill(
    order: Order, trade_id: str, price: str, amount: str, fee: str, currency: str, ts: datetime
) -> Fill:
    return Fill(
        order=order,
        venue=order.venue,
        trade_id=trade_id,
        price=D(price),
        amount=D(amount),
        fee=D(fee),
        fee_currency=currency,
        ts=ts,
        received_at=ts,
    )


def populate(factory: sessionmaker[Session]) -> tuple[int, int]:
    """Insert the sample history; returns (run 1 id, run 2 id)."""
    with factory.begin() as s:
        run1 = Run(started_at=T0 - timedelta(minutes=10), mode="replay", config_snapshot={"fees": "0.001"})
        run2 = Run(started_at=T2 - timedelta(minutes=1), mode="paper", config_snapshot=RUN2_SNAPSHOT)
        s.add_all([run1, run2])
        s.flush()

        o1 = _opp(run1, T0, "binance", "huobi", detail={"outcome": "hedged", "policy": None})
        b1 = _order(run1, o1, "binance", "buy", "10", "20.02", sent_at=ms(T0, 5), acked_at=ms(T0, 25))
        s1 = _order(run1, o1, "huobi", "sell", "10", "20.09", sent_at=ms(T0, 6), acked_at=ms(T0, 40))
        fills = [
            _fill(b1, "bn-1", "20.00", "6", "0.12", "USDT", ms(T0, 30)),
            _fill(b1, "bn-2", "20.02", "4", "0.08008", "USDT", ms(T0, 45)),
            _fill(s1, "hb-1", "20.09", "10", "0.2009", "USDT", ms(T0, 41)),
        ]

        o2 = _opp(
            run1, T1, "huobi", "binance", size=D("5"), sell_price=D("20.08"), expected_profit=D("0.1996"),
            mark_price=D("19.97001"), detail={"outcome": "hedged", "policy": "unwind"},
        )
        b2 = _order(run1, o2, "huobi", "buy", "5", "20.00", sent_at=ms(T1, 3), acked_at=ms(T1, 15))
        s2 = _order(
            run1, o2, "binance", "sell", "5", "20.08", status="canceled", filled=D("3"),
            sent_at=ms(T1, 4), acked_at=ms(T1, 18),
        )  # fmt: skip
        u2 = _order(run1, o2, "huobi", "sell", "2", "19.95", purpose="unwind", sent_at=ms(T1, 450))
        fills += [
            _fill(b2, "hb-2", "20.00", "5", "0.005", "LINK", ms(T1, 20)),
            _fill(s2, "bn-3", "20.08", "3", "0.06024", "USDT", ms(T1, 22)),
            _fill(u2, "hb-3", "19.95", "2", "0.0399", "USDT", ms(T1, 500)),
        ]

        rejected = [
            _opp(run1, ms(T0, 500), "binance", "huobi", decision="rejected", reason="book_stale"),
            _opp(run1, ms(T0, 900), "binance", "huobi", decision="rejected", reason="below_min_edge"),
            _opp(run1, ms(T1, 900), "huobi", "binance", decision="rejected", reason="below_min_edge"),
        ]
        balances = [
            Balance(
                run_id=run1.id, venue="binance", asset=asset, free=D(free), used=D("0"), total=D(free), ts=ts,
                kind="start" if ts < T0 else "end",
            )
            for asset, free, ts in [
                ("USDT", "1000", T0 - timedelta(seconds=1)),
                ("LINK", "0", T0 - timedelta(seconds=1)),
                ("USDT", "799.79992", T0 + timedelta(seconds=1)),
                ("LINK", "10", T0 + timedelta(seconds=1)),
            ]
        ]

        o6 = _opp(
            run2, T2, "gate", "okx", symbol="ETH/USDT", size=D("1"), buy_price=D("10"), sell_price=D("10.2"),
            expected_profit=D("0.18"), mark_price=D("9.99"), detail={"outcome": "halted", "policy": "halt"},
        )  # fmt: skip
        b6 = _order(run2, o6, "gate", "buy", "1", "10", sent_at=ms(T2, 2), acked_at=ms(T2, 7))
        s6 = _order(run2, o6, "okx", "sell", "1", "10.2", status="rejected", filled=D("0"), sent_at=ms(T2, 2))
        fills.append(_fill(b6, "gt-1", "10", "1", "0.01", "GT", ms(T2, 9)))

        s.add_all([o1, o2, o6, b1, s1, b2, s2, u2, b6, s6, *fills, *rejected, *balances])
        s.flush()
        settled = settle_pending(s, SETTLED_AT)
        assert len(settled) == 3, settled
        return run1.id, run2.id


def write_sample_db(path: Path) -> str:
    """An SQLite file at ``path`` migrated to head and holding the sample history (runs 1 and 2), closed (no
    writer has it open); its URL."""
    url = f"sqlite:///{path}"
    upgrade_to_head(url)
    engine = make_engine(url)
    try:
        populate(make_session_factory(engine))
    finally:
        engine.dispose()
    return url
