"""A perpetual's fills move a position, not a wallet: the inventory views say which market each fill is on.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25

``v_inventory_from_fills`` (revision 0003) took every fill as base and quote moving in a wallet. On a
perpetual (``arb/margin.py``) a fill moves a signed position, no base; its notional moves no quote; the wallet
changes only in the settle currency, by the fee and by what a reduction realized against the average entry.

- ``v_fills_flows`` gains ``market_kind``: the fill's market as the run's stored config snapshot gives it
  (``arb/store/repo._snapshot_market_kinds``, the same rule): the kinds the venues reported at the run's start
  (``market_kinds``), else (a run stored before they were kept) its markets' configured ``kind``, else spot.
- ``v_inventory_from_fills`` keeps spot fills only: every row is a wallet change, as before, and a run
  without perpetuals reads exactly as before.
- New ``v_positions_from_fills``: a perpetual's fills (linear or inverse), each with its signed change to the
  position and the running position per run, venue and symbol (in the fill's amount: base on a linear market,
  contracts on an inverse one), its fee and the settle currency it is charged in.

What a reduction realized is not computed here: it needs the average entry, defined once in
``arb/margin.py``; a perpetual's settle-currency change (realized, fees, funding) is arb's inventory check
(``arb report``). The SQL is frozen here (not imported from arb), as in 0003. ``v_fills_flows`` now reads
``runs``: a later revision that rebuilds ``runs`` on SQLite drops these views first and recreates them last.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERPETUAL = "('linear_perpetual', 'inverse_perpetual')"


def _num(sqlite: bool, column: str) -> str:
    return f"CAST({column} AS REAL)" if sqlite else column


def _split(sqlite: bool, symbol: str, part: int) -> str:
    if not sqlite:
        return f"split_part({symbol}, '/', {part})"
    if part == 1:
        return f"substr({symbol}, 1, instr({symbol}, '/') - 1)"
    return f"substr({symbol}, instr({symbol}, '/') + 1)"


def _market_kind(sqlite: bool) -> str:
    """The fill's market kind from its run's config snapshot ``r.config_snapshot`` (venue ``f.venue``, symbol
    ``o.symbol``): ``market_kinds`` when the snapshot has a non-empty one (a market missing there: spot), else
    the venue's ``markets.<symbol>.kind`` when the symbol is one it trades (its ``symbols``, else the engine's),
    else spot."""
    if sqlite:
        snap = "r.config_snapshot"
        venue = "'$.venues.\"' || f.venue || '\"'"
        recorded = (f"json_type({snap}, '$.market_kinds') = 'object' AND EXISTS "
                    f"(SELECT 1 FROM json_each({snap}, '$.market_kinds'))")
        reported = f"json_extract({snap}, '$.market_kinds.\"' || f.venue || '\".\"' || o.symbol || '\"')"
        configured = f"json_extract({snap}, {venue} || '.markets.\"' || o.symbol || '\".kind')"
        own = f"{venue} || '.symbols'"
        listed = (f"EXISTS (SELECT 1 FROM json_each({snap}, CASE WHEN json_type({snap}, {own}) = 'array' AND "
                  f"json_array_length({snap}, {own}) > 0 THEN {own} WHEN json_type({snap}, '$.engine.symbols') "
                  f"= 'array' THEN '$.engine.symbols' ELSE '$.none' END) WHERE value = o.symbol)")
    else:
        snap = "r.config_snapshot"
        kinds = f"({snap} -> 'market_kinds')"
        recorded = (f"json_typeof({kinds}) = 'object' AND EXISTS (SELECT 1 FROM json_object_keys("
                    f"CASE WHEN json_typeof({kinds}) = 'object' THEN {kinds} ELSE '{{}}'::json END))")
        reported = f"({kinds} -> f.venue ->> o.symbol)"
        configured = f"({snap} -> 'venues' -> f.venue -> 'markets' -> o.symbol ->> 'kind')"
        own = f"({snap} -> 'venues' -> f.venue -> 'symbols')"
        engine = f"({snap} -> 'engine' -> 'symbols')"
        listed = (f"EXISTS (SELECT 1 FROM json_array_elements_text(CASE WHEN json_typeof({own}) = 'array' AND "
                  f"json_array_length(CASE WHEN json_typeof({own}) = 'array' THEN {own} ELSE '[]'::json END) > 0 "
                  f"THEN {own} WHEN json_typeof({engine}) = 'array' THEN {engine} ELSE '[]'::json END) AS e(v) "
                  f"WHERE e.v = o.symbol)")
    return (f"CASE WHEN {recorded} THEN COALESCE({reported}, 'spot') "
            f"WHEN {listed} THEN COALESCE({configured}, 'spot') ELSE 'spot' END")


def _fills_flows(sqlite: bool, *, kinds: bool) -> str:
    n = lambda column: _num(sqlite, column)  # noqa: E731
    kind = f",\n       {_market_kind(sqlite)} AS market_kind" if kinds else ""
    runs = "\nJOIN runs r ON r.id = o.run_id" if kinds else ""
    return f"""
SELECT f.id AS fill_id, f.order_id, o.opportunity_id, o.run_id, f.venue, o.symbol,
       {_split(sqlite, "o.symbol", 1)} AS base, {_split(sqlite, "o.symbol", 2)} AS quote,
       o.side, o.purpose, f.ts, f.received_at,
       {n("f.price")} AS price, {n("f.amount")} AS amount, {n("f.price")} * {n("f.amount")} AS notional,
       f.fee_currency, {n("f.fee")} AS fee{kind}
FROM fills f JOIN orders o ON o.id = f.order_id{runs}"""


def _from_fills(*, spot_only: bool) -> str:
    where = f"\n    WHERE market_kind NOT IN {PERPETUAL}" if spot_only else ""
    return f"""
WITH flows AS (
    SELECT * FROM v_fills_flows{where}
),
deltas AS (
    SELECT run_id, venue, base AS asset, ts, fill_id,
           (CASE WHEN side = 'buy' THEN amount ELSE -amount END)
           - (CASE WHEN fee_currency = base THEN fee ELSE 0 END) AS delta
    FROM flows
    UNION ALL
    SELECT run_id, venue, quote AS asset, ts, fill_id,
           (CASE WHEN side = 'sell' THEN notional ELSE -notional END)
           - (CASE WHEN fee_currency = quote THEN fee ELSE 0 END) AS delta
    FROM flows
    UNION ALL
    SELECT run_id, venue, fee_currency AS asset, ts, fill_id, -fee AS delta
    FROM flows
    WHERE fee_currency NOT IN (base, quote) AND fee <> 0
)
SELECT run_id, venue, asset, ts, fill_id, delta,
       SUM(delta) OVER (PARTITION BY run_id, venue, asset ORDER BY ts, fill_id
                        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS net_change
FROM deltas"""


POSITIONS = f"""
SELECT run_id, venue, symbol, market_kind, ts, fill_id, side, price, amount,
       CASE WHEN side = 'buy' THEN amount ELSE -amount END AS position_delta,
       SUM(CASE WHEN side = 'buy' THEN amount ELSE -amount END)
           OVER (PARTITION BY run_id, venue, symbol ORDER BY ts, fill_id
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS position,
       fee, fee_currency AS settle_currency
FROM v_fills_flows
WHERE market_kind IN {PERPETUAL}"""


def _create(views: list[tuple[str, str]]) -> None:
    for name, select in views:
        op.execute(f"CREATE VIEW {name} AS {select.strip()}")


def _drop(*names: str) -> None:
    for name in names:
        op.execute(f"DROP VIEW IF EXISTS {name}")


def upgrade() -> None:
    sqlite = op.get_context().dialect.name == "sqlite"
    _drop("v_inventory_from_fills", "v_fills_flows")
    _create([("v_fills_flows", _fills_flows(sqlite, kinds=True)),
             ("v_inventory_from_fills", _from_fills(spot_only=True)),
             ("v_positions_from_fills", POSITIONS)])


def downgrade() -> None:
    sqlite = op.get_context().dialect.name == "sqlite"
    _drop("v_positions_from_fills", "v_inventory_from_fills", "v_fills_flows")
    _create([("v_fills_flows", _fills_flows(sqlite, kinds=False)),  # revision 0003's, as it was
             ("v_inventory_from_fills", _from_fills(spot_only=False))])
