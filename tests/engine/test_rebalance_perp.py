"""Rebalancing a spot-perpetual desk (the ETH maker config: spot quoted, the USD-M perpetual hedged as a margin
account, 5x): quotes sell ETH on spot for USDT while the perpetual's margin holds USDT, so USDT moves spot ->
perp. Its fees come off the holdings' figures as off a spot run's equity, by the same rule
(``arb.positions.less_fees``): what closed and the equity change at mark and at unwind are the valuation's of
the fills, less the fees, and the identity equity = realized + unrealized still holds."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from arb.config import load_config
from arb.engine import Engine
from arb.store.db import make_engine
from arb.store.repo import fill_flows, funding_flows, opening_positions
from arb.valuation import value_holdings

from .maker_capture import DATA, binance_maker_capture, first_seconds
from .test_perp_valuation import eth_config

REBALANCE = """
[rebalance]
transfers = "auto"
assets.USDT = { targets = { spot = "0.5", perp = "0.5" }, band = "0.1", delay_s = 30, fee = "1" }
"""


async def test_a_perpetual_desk_s_transfer_fees_come_off_what_closed_and_its_equity(tmp_path: Path) -> None:
    capture = first_seconds(binance_maker_capture(tmp_path, spot_file=DATA / "binance-spot-ethusdt-20240808.gz",
                                                  usdm_file=DATA / "binance-usdm-ethusdt-20240808.gz",
                                                  symbol="ETH/USDT"), 150)
    path = eth_config(tmp_path, capture)
    path.write_text(path.read_text() + REBALANCE)
    db = f"sqlite:///{tmp_path / 'perp.db'}"
    engine = Engine(load_config(path), db_url=db, install_signal_handlers=False)
    result = await engine.run()
    h = result.summary["holdings"]
    fees = {q: Decimal(v) for q, v in result.summary["transfer_fees"].items()}
    assert fees.get("USDT", 0) > 0 and h["transfer_fees"] == result.summary["transfer_fees"]

    store = make_engine(db)
    try:
        with store.connect() as c:
            routes = {tuple(r) for r in c.execute(text("SELECT asset, source, dest FROM transfers"))}
        with Session(store) as session:
            assert engine._closing_books is not None
            raw = value_holdings(fill_flows(session, result.run_id), engine._closing_books[1],
                                 funding_flows(session, result.run_id),
                                 {k: p.amount for k, p in opening_positions(session, result.run_id).items()})
    finally:
        store.dispose()
    assert routes == {("USDT", "spot", "perp")}
    for figure, exact in (("realized", raw.realized), ("equity_at_mark", raw.equity_at_mark),
                          ("equity_at_unwind", raw.equity_at_unwind)):
        assert exact["USDT"] is not None
        assert Decimal(str(h[figure]["USDT"])) == exact["USDT"] - fees["USDT"], figure
    # What is held at mark (equity - what closed) is the valuation's own: the fees closed, nothing held moved.
    held = Decimal(str(h["equity_at_mark"]["USDT"])) - Decimal(str(h["realized"]["USDT"]))
    assert raw.equity_at_mark["USDT"] is not None and raw.realized["USDT"] is not None
    assert held == raw.equity_at_mark["USDT"] - raw.realized["USDT"]
