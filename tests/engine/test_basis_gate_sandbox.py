"""The basis strategy against arb's Gate sandbox on both sides: spot on one sandbox venue, the USDT perpetual on
another, spoken to through ccxt's gate class and arb's signer (``/spot/...`` and ``/futures/usdt/...``). On the
moving-basis capture with a funding line, the run opens a carry (buy spot, sell the perpetual in contracts of
0.01 ETH), reads the position the venue reports, is paid funding by the sandbox at the funding time, closes,
and stores the venue's own funding history: the database then agrees with the sandbox, trade for trade and
payment for payment."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from typing import cast

from sqlalchemy import create_engine, text

from arb.config import load_config
from arb.engine import Engine
from arb.venues.gate.sandbox.server import Sandbox

from .test_basis import _pairs, basis_config, moving_basis_capture


def _gate_sandbox_venues(config: Path) -> None:
    text_ = config.read_text()  # the venues come last: both replaced
    config.write_text(text_[:text_.index("[venues.spot]")] + '''[venues.spot]
kind = "sandbox"
adapter = "gate"
taker_fee = "0.0002"
fee_tier = "illustrative"
capture_venue = "binance"
balances = { USDT = "10000" }
markets."ETH/USDT" = { price_step = "0.01", amount_step = "0.0001", min_amount = "0.0001", min_notional = "5" }

[venues.perp]
kind = "sandbox"
adapter = "gate"
taker_fee = "0.0002"
fee_tier = "illustrative"
capture_venue = "binanceusdm"
balances = { USDT = "10000" }
leverage = "2"
market_names = { "ETH/USDT" = "ETH/USDT:USDT" }
markets."ETH/USDT" = { kind = "linear_perpetual", price_step = "0.01", amount_step = "0.01", min_amount = "0.01", min_notional = "0" }
''')


async def test_a_basis_on_gate_sandboxes_trades_the_perpetual_in_contracts_and_stores_the_venue_s_funding(
        tmp_path: Path) -> None:
    capture = moving_basis_capture(tmp_path, funding=("0.0001", 55))  # a carry (short perp) receives it
    path = basis_config(tmp_path, capture)
    _gate_sandbox_venues(path)
    db = f"sqlite:///{tmp_path / 'gate.db'}"
    engine = Engine(load_config(path), db_url=db, install_signal_handlers=False)
    await engine.run()
    assert engine.venues is not None
    perp = cast(Sandbox, engine.venues.sandboxes["perp"].sandbox)
    futures = perp.engine.futures
    pairs = _pairs(db)
    # Four pairs of 0.5 open it to max_position, four close it, as on the paper venues (tests/engine/test_basis.py).
    assert [p[2] for p in pairs if p[:2] == ("spot", "perp")] == [D("0.5")] * 4, pairs
    assert [p[2] for p in pairs if p[:2] == ("perp", "spot")] == [D("0.5")] * 4, pairs
    [account] = {t.account for t in futures.matcher.trades}
    assert account.endswith("/futures")
    # Flat at the end on the venue, as the database's fills say.
    spec = futures.contracts["ETH_USDT"]
    assert futures.matcher.position(account, "usdt:ETH_USDT").amount == 0, pairs
    with create_engine(db).connect() as c:
        fills = c.execute(text("SELECT o.side, f.amount, f.fee, f.fee_currency FROM fills f JOIN orders o ON o.id = f.order_id "
                               "WHERE f.venue = 'perp'")).all()
        funding = c.execute(text("SELECT amount, currency, rate, mark, position FROM funding_payments "
                                 "WHERE venue = 'perp'")).all()
    venue_trades = [t for t in futures.matcher.trades if t.account == account]
    assert sorted((t.side, t.amount, t.fee) for t in venue_trades) == sorted(
        (side, D(amount), D(fee)) for side, amount, fee, _ in fills)
    assert {currency for *_, currency in fills} == {"USDT"}
    assert all(D(amount) % spec.quanto_multiplier == 0 for _, amount, _, _ in fills)  # whole contracts
    # The funding the sandbox paid (a short, a positive rate: received) is the funding stored, from the venue's
    # own account book: amount alone, the rate, mark and position it does not state left NULL.
    paid = [e for e in futures.fund_book if e.account == account]
    assert paid and all(e.change > 0 for e in paid)
    assert sorted(D(a) for a, *_ in funding) == sorted(e.change for e in paid)
    assert all(rate is None and mark is None and position is None for _, _, rate, mark, position in funding)
