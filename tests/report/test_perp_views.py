"""The inventory views on a run that traded a perpetual (revision 0009): a perpetual's fills move a position,
not a wallet. ``v_inventory_from_fills`` holds spot wallets only and agrees with arb's own figure
(``arb.inventory.implied_changes``, what ``arb report``'s inventory check reads); ``v_positions_from_fills``
holds each perpetual fill's signed change and the running position, which agree with ``arb/margin.py``'s
positions (``arb.valuation``'s held positions at the end). Which market a fill is on is read from the run's
stored config snapshot by the same rule in SQL as in Python (``repo.fill_flows``).

Every test runs on SQLite and PostgreSQL (``session_factory``: tests/conftest.py); PostgreSQL's NUMERIC
columns must be exact, SQLite's floats within 1e-9 relative (the README says so)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from arb.inventory import implied_changes
from arb.margin import PositionState, apply_fill
from arb.store import repo
from arb.store.models import Fill, Order
from arb.valuation import value_holdings

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
SPOT_ONLY = {"unlisted", "not traded"}  # snapshots in which arb reads the perpetual's market as spot
KINDS = {"spot": {"ETH/USDT": "spot"}, "perp": {"ETH/USDT": "linear_perpetual"}}
# (venue, side, price, amount, fee, fee currency): a carry opened, extended, then flipped long on the perpetual
# (the buy of 2 closes the 1.5 short and opens 0.5 long), spot bought twice (one fee in base) and sold once.
FILLS = [
    ("spot", "buy", "2000.00", "1.0", "0.4", "USDT"),
    ("perp", "sell", "2003.00", "1.0", "0.4006", "USDT"),
    ("spot", "buy", "2000.50", "0.5", "0.0005", "ETH"),
    ("perp", "sell", "2004.10", "0.5", "0.20041", "USDT"),
    ("perp", "buy", "2001.30", "2.0", "0.80052", "USDT"),
    ("spot", "sell", "2001.00", "0.25", "0.10005", "USDT"),
]
SNAPSHOTS = {
    "reported": {"mode": "replay", "market_kinds": KINDS},  # what a run stores now: the venues' kinds at start
    "configured": {"mode": "replay", "engine": {"symbols": ["ETH/USDT"]}, "venues": {  # an older run: only its
        "spot": {"markets": {"ETH/USDT": {"price_step": "0.01"}}},  # config's markets say it
        "perp": {"markets": {"ETH/USDT": {"kind": "linear_perpetual"}}}}},
    # an older run whose perpetual venue lists its own symbols, ETH/USDT not among them: spot, as arb reads it
    "not traded": {"mode": "replay", "engine": {"symbols": ["ETH/USDT"]}, "venues": {
        "perp": {"symbols": ["BTC/USDT"], "markets": {"ETH/USDT": {"kind": "linear_perpetual"}}}}},
    # market_kinds present: a market it does not list is spot, whatever the config said
    "unlisted": {"mode": "replay", "market_kinds": {"spot": {"ETH/USDT": "spot"}},
                 "venues": {"perp": {"markets": {"ETH/USDT": {"kind": "linear_perpetual"}}}}},
}


def _run(factory: sessionmaker[Session], snapshot: dict[str, Any]) -> int:
    with factory.begin() as s:
        run = repo.start_run(s, mode="replay", config_snapshot=snapshot, started_at=T0)
        for i, (venue, side, price, amount, fee, currency) in enumerate(FILLS):
            at = T0 + timedelta(seconds=i + 1)
            order = Order(run_id=run.id, venue=venue, symbol="ETH/USDT", side=side, type="limit",
                          time_in_force="IOC", purpose="entry", client_order_id=f"c-{run.id}-{i}",
                          venue_order_id=f"v-{run.id}-{i}", price=D(price), amount=D(amount), filled=D(amount),
                          status="filled", created_at=at, updated_at=at)
            s.add(order)
            s.flush()
            s.add(Fill(order_id=order.id, venue=venue, trade_id=f"t-{run.id}-{i}", price=D(price), amount=D(amount),
                       fee=D(fee), fee_currency=currency, ts=at, received_at=at))
        return run.id


def _same(engine: Engine, value: object, exact: D) -> bool:
    if engine.dialect.name == "postgresql":
        return isinstance(value, D) and value == exact
    return abs(D(str(value)) - exact) <= D("1e-9") * max(D(1), abs(exact))


def _rows(engine: Engine, view: str, run_id: int, order_by: str) -> list[dict[str, Any]]:
    with engine.connect() as c:
        return [dict(r) for r in c.execute(text(f"SELECT * FROM {view} WHERE run_id = :r ORDER BY {order_by}"),
                                           {"r": run_id}).mappings()]


@pytest.mark.parametrize("snapshot", sorted(SNAPSHOTS))
def test_a_perpetual_s_fills_are_a_position_and_the_wallet_view_agrees_with_arb_s_figure(
        snapshot: str, engine: Engine, session_factory: sessionmaker[Session]) -> None:
    run_id = _run(session_factory, SNAPSHOTS[snapshot])
    with session_factory() as s:
        flows = repo.fill_flows(s, run_id)  # arb's reading of the same snapshot
        checked = {(r.venue, r.asset): r.implied for r in repo.inventory_check(s, run_id)}
    assert [f.linear for f in flows] == [snapshot not in SPOT_ONLY and f[0] == "perp" for f in FILLS]

    # Each fill's market, as the view reads the snapshot: the same as arb's.
    kinds = [r["market_kind"] for r in _rows(engine, "v_fills_flows", run_id, "ts, fill_id")]
    assert kinds == ["linear_perpetual" if f.linear else "spot" for f in flows]

    # The wallet view: spot fills only, and its running totals end at arb's implied change for each of them.
    wallet = _rows(engine, "v_inventory_from_fills", run_id, "ts, fill_id, asset")
    final = {(r["venue"], r["asset"]): r["net_change"] for r in wallet}
    spot = implied_changes([f for f in flows if not f.linear])
    assert set(final) == set(spot) and all(_same(engine, final[k], spot[k]) for k in spot), (final, spot)
    for key in final:
        assert _same(engine, final[key], checked[key])  # arb report's inventory check: one figure
    if snapshot not in SPOT_ONLY:
        assert {venue for venue, _ in final} == {"spot"}  # the perpetual holds no ETH, and its USDT is not this
        # arb's settle-currency change on the perpetual: what the reductions realized, less every fee
        assert checked[("perp", "USDT")] != -sum(D(f[4]) for f in FILLS if f[0] == "perp")

    # The position view: each perpetual fill's signed change and the running position, as margin.py's.
    positions = _rows(engine, "v_positions_from_fills", run_id, "ts, fill_id")
    held, running = PositionState(), []
    for f in flows:
        if f.linear:
            held = apply_fill(held, f.side, f.price, f.amount)[0]
            running.append((f.side, f.amount, f.fee, f.fee_currency, held.amount))
    assert len(positions) == len(running)
    for row, (side, amount, fee, currency, position) in zip(positions, running, strict=True):
        assert (row["venue"], row["symbol"], row["side"], row["settle_currency"]) == ("perp", "ETH/USDT", side, currency)
        delta = amount if side == "buy" else -amount
        assert _same(engine, row["position_delta"], delta) and _same(engine, row["fee"], fee)
        assert _same(engine, row["position"], position), (row, position)
    end = {(h.venue, h.symbol): h.amount for h in value_holdings(flows, {}).positions}
    assert end == ({("perp", "ETH/USDT"): D("0.5")} if snapshot not in SPOT_ONLY else {})
    if positions:
        assert _same(engine, positions[-1]["position"], end[("perp", "ETH/USDT")])


def test_a_basis_run_s_stored_snapshot_reads_the_same_in_sql(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """A real run's snapshot (the kinds its venues reported): the basis run opens and closes a carry; the
    view's markets and positions are arb's, and the wallet view holds the spot venue's fills only."""
    from engine.test_basis import basis_config, moving_basis_capture
    from sqlalchemy import create_engine

    from arb.cli import main
    from arb.store.db import make_session_factory

    db = f"sqlite:///{tmp_path / 'basis.db'}"
    assert main(["run", "--config", str(basis_config(tmp_path, moving_basis_capture(tmp_path))), "--db", db]) == 0
    capsys.readouterr()
    engine = create_engine(db)
    try:
        with make_session_factory(engine)() as s:
            flows = repo.fill_flows(s, 1)
            checked = {(r.venue, r.asset): r.implied for r in repo.inventory_check(s, 1)}
        assert any(f.linear for f in flows) and not all(f.linear for f in flows)
        kinds = [r["market_kind"] for r in _rows(engine, "v_fills_flows", 1, "ts, fill_id")]
        assert kinds == ["linear_perpetual" if f.linear else "spot" for f in flows]
        final = {(r["venue"], r["asset"]): r["net_change"]
                 for r in _rows(engine, "v_inventory_from_fills", 1, "ts, fill_id, asset")}
        assert {v for v, _ in final} == {"spot"} and all(_same(engine, final[k], checked[k]) for k in final)
        by_symbol: dict[tuple[str, str], D] = defaultdict(D)
        for row in _rows(engine, "v_positions_from_fills", 1, "ts, fill_id"):
            by_symbol[(row["venue"], row["symbol"])] = D(str(row["position"]))
        assert by_symbol == {("perp", "ETH/USDT"): D(0)}  # flat at the end, as the run's summary says
    finally:
        engine.dispose()
