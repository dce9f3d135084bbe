"""Review views: opportunity funnel, expected vs realized PnL, fill ratio, latency, inventory.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

Views are for people reviewing a run in SQL or in a notebook. They are NOT the source of exact totals:

- On PostgreSQL money columns are ``NUMERIC``, so the views compute exactly (division aside, which
  NUMERIC rounds to at least 16 significant digits).
- On SQLite money columns are exact decimal TEXT, and SQLite can only do arithmetic on it after
  ``CAST(... AS REAL)``: the views' numbers are binary floats there (about 15 significant digits).
  ``arb report`` computes its totals in ``Decimal`` from the base tables (arb/store/views.py) for that
  reason; the tests check the views against those exact numbers on both databases.

The SQL is frozen here (not imported from arb) so that this revision keeps its meaning when arb changes;
a later revision that changes a view drops and recreates it with a full copy of the new SQL. Note for
later SQLite batch migrations of the base tables: SQLite refuses to rename a table while a view refers to
a table that does not exist, so such a revision must drop these views first and recreate them after.

Definitions (every amount in the opportunity's quote currency unless it says base):

``v_fills_priced``: one row per fill with its order's side/purpose/opportunity; ``notional = price *
amount``; ``fee_quote`` is the fee converted to quote: as is when charged in quote, ``fee * price`` when
charged in base, and 0 when charged in a third currency (GT, BNB, ...), which ``fee_unpriced`` flags (1)
so a reviewer knows the PnL omits it. Base and quote come from the ccxt symbol ``BASE/QUOTE``.

``v_opportunity_funnel``: per run, symbol and directed venue pair (buy venue -> sell venue): opportunities
``seen`` (every row detection recorded), ``rejected``, ``executed``, and the expected profit of the
executed ones. ``v_opportunity_rejections``: the rejected ones counted per reason code.

``v_opportunity_pnl``: one row per executed opportunity. With ``q`` = planned size (base), ``pb``/``ps``
= the buy/sell VWAPs detection expected, ``E`` = expected profit (net of both fees), over the fills of the
opportunity's orders:

- ``buy_filled`` Bq / ``sell_filled`` Sq: base filled by the *entry* buy / sell legs; ``buy_vwap`` /
  ``sell_vwap``: their realized VWAPs; ``matched`` m = min(Bq, Sq).
- ``unwind_cash`` U: sell proceeds minus buy cost of the ``unwind`` and ``complete`` orders' fills.
- ``fees_paid`` F: ``fee_quote`` summed over all the opportunity's fills (entry, unwind, complete).
- ``realized_pnl`` = entry sell proceeds - entry buy cost + U - F (cash only; nothing is marked to market).
- ``expected_fees`` Fe = q * (ps - pb) - E: the fees detection accounted for.
- ``slippage_cost`` = Bq * (buy_vwap - pb) + Sq * (ps - sell_vwap): what filling at worse prices than
  detection expected cost, on the size that filled.
- ``fee_cost`` = F - Fe * m / q: fees paid beyond those expected for the matched size.
- ``unfilled_cost`` = E * (q - m) / q: the expected profit of the size that did not fill on both legs.
- ``imbalance_cost`` = (Bq - m) * pb - (Sq - m) * ps - U: the excess of one entry leg over the other,
  valued at the price detection expected for it, less what unwinding or completing it brought in. When
  nothing was done about the excess (a residual position), this is the cash tied up in it.
- These add up exactly: expected_pnl - realized_pnl = slippage_cost + fee_cost + unfilled_cost +
  imbalance_cost (positive costs lowered the PnL). ``residual_base`` = base bought - base sold over all
  fills (fees aside): the position the opportunity left behind.

``v_leg_fill_ratio``: one row per order: ``filled`` = sum of its fills' amounts, ``fill_ratio`` = filled /
amount, and ``order_filled`` (the order row's own counter, which should agree).

``v_leg_latency``: one row per order, milliseconds between decision (the opportunity's ``detected_at``) ->
``sent_at`` -> ``acked_at`` -> first fill -> last fill (``decision_to_filled_ms``: decision to last
fill). NULL where a timestamp is missing (an order never acknowledged, a leg that never filled).

``v_inventory_snapshots``: balance snapshots per run, venue, asset and time, as numbers.
``v_inventory_from_fills``: per fill, the change it made to each asset on its venue (base +/- amount and
minus a base fee; quote -/+ notional and minus a quote fee; a third-currency fee on its own row) and the
running ``net_change`` per run, venue and asset since the run started.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


class _Dialect:
    """The few SQL fragments that differ between SQLite and PostgreSQL."""

    def __init__(self, name: str) -> None:
        self.sqlite = name == "sqlite"

    def num(self, column: str) -> str:
        """A money column as a number: NUMERIC as is on PostgreSQL, TEXT cast to REAL on SQLite."""
        return f"CAST({column} AS REAL)" if self.sqlite else column

    def ms(self, start: str, end: str) -> str:
        """Milliseconds from ``start`` to ``end`` (NULL if either is NULL)."""
        if self.sqlite:
            return f"((julianday({end}) - julianday({start})) * 86400000.0)"
        return f"(EXTRACT(EPOCH FROM ({end} - {start})) * 1000)"

    def base(self, symbol: str) -> str:
        if self.sqlite:
            return f"substr({symbol}, 1, instr({symbol}, '/') - 1)"
        return f"split_part({symbol}, '/', 1)"

    def quote(self, symbol: str) -> str:
        if self.sqlite:
            return f"substr({symbol}, instr({symbol}, '/') + 1)"
        return f"split_part({symbol}, '/', 2)"


def _views(d: _Dialect) -> list[tuple[str, str]]:
    """(name, SELECT) in dependency order: a view appears after the views it reads."""
    n = d.num
    fills_priced = f"""
SELECT f.id AS fill_id, f.order_id, o.opportunity_id, o.run_id, f.venue, o.symbol,
       {d.base("o.symbol")} AS base, {d.quote("o.symbol")} AS quote,
       o.side, o.purpose, f.ts,
       {n("f.price")} AS price, {n("f.amount")} AS amount, {n("f.price")} * {n("f.amount")} AS notional,
       f.fee_currency, {n("f.fee")} AS fee,
       CASE WHEN f.fee_currency = {d.quote("o.symbol")} THEN {n("f.fee")}
            WHEN f.fee_currency = {d.base("o.symbol")} THEN {n("f.fee")} * {n("f.price")}
            ELSE 0 END AS fee_quote,
       CASE WHEN f.fee_currency NOT IN ({d.base("o.symbol")}, {d.quote("o.symbol")}) AND {n("f.fee")} <> 0
            THEN 1 ELSE 0 END AS fee_unpriced
FROM fills f JOIN orders o ON o.id = f.order_id"""

    funnel = f"""
SELECT run_id, symbol, buy_venue, sell_venue,
       COUNT(*) AS seen,
       SUM(CASE WHEN decision = 'rejected' THEN 1 ELSE 0 END) AS rejected,
       SUM(CASE WHEN decision = 'executed' THEN 1 ELSE 0 END) AS executed,
       SUM(CASE WHEN decision = 'executed' THEN {n("expected_profit")} ELSE 0 END) AS expected_profit
FROM opportunities
GROUP BY run_id, symbol, buy_venue, sell_venue"""

    rejections = """
SELECT run_id, symbol, buy_venue, sell_venue, reason, COUNT(*) AS rejected
FROM opportunities
WHERE decision = 'rejected'
GROUP BY run_id, symbol, buy_venue, sell_venue, reason"""

    pnl = f"""
WITH legs AS (
    SELECT opportunity_id,
           SUM(CASE WHEN purpose = 'entry' AND side = 'buy' THEN amount ELSE 0 END) AS bq,
           SUM(CASE WHEN purpose = 'entry' AND side = 'sell' THEN amount ELSE 0 END) AS sq,
           SUM(CASE WHEN purpose = 'entry' AND side = 'buy' THEN notional ELSE 0 END) AS buy_cost,
           SUM(CASE WHEN purpose = 'entry' AND side = 'sell' THEN notional ELSE 0 END) AS sell_proceeds,
           SUM(CASE WHEN purpose = 'entry' THEN 0 WHEN side = 'sell' THEN notional ELSE -notional END)
               AS unwind_cash,
           SUM(fee_quote) AS fees_paid,
           SUM(fee_unpriced) AS fees_unpriced,
           SUM(CASE WHEN side = 'buy' THEN amount ELSE -amount END) AS residual_base
    FROM v_fills_priced
    WHERE opportunity_id IS NOT NULL
    GROUP BY opportunity_id
), base AS (
    SELECT o.run_id, o.id AS opportunity_id, o.detected_at, o.symbol, o.buy_venue, o.sell_venue,
           {n("o.size")} AS q, {n("o.buy_price")} AS pb, {n("o.sell_price")} AS ps,
           {n("o.expected_profit")} AS expected_pnl,
           COALESCE(l.bq, 0) AS bq, COALESCE(l.sq, 0) AS sq,
           COALESCE(l.buy_cost, 0) AS buy_cost, COALESCE(l.sell_proceeds, 0) AS sell_proceeds,
           COALESCE(l.unwind_cash, 0) AS unwind_cash, COALESCE(l.fees_paid, 0) AS fees_paid,
           COALESCE(l.fees_unpriced, 0) AS fees_unpriced, COALESCE(l.residual_base, 0) AS residual_base
    FROM opportunities o LEFT JOIN legs l ON l.opportunity_id = o.id
    WHERE o.decision = 'executed'
), matched AS (
    SELECT base.*, CASE WHEN bq < sq THEN bq ELSE sq END AS m, q * (ps - pb) - expected_pnl AS expected_fees
    FROM base
)
SELECT run_id, opportunity_id, detected_at, symbol, buy_venue, sell_venue,
       q AS size, pb AS expected_buy_price, ps AS expected_sell_price,
       bq AS buy_filled, sq AS sell_filled, m AS matched,
       buy_cost / NULLIF(bq, 0) AS buy_vwap, sell_proceeds / NULLIF(sq, 0) AS sell_vwap,
       expected_pnl,
       sell_proceeds - buy_cost + unwind_cash - fees_paid AS realized_pnl,
       (buy_cost - bq * pb) + (sq * ps - sell_proceeds) AS slippage_cost,
       expected_fees, fees_paid,
       fees_paid - expected_fees * m / NULLIF(q, 0) AS fee_cost,
       expected_pnl * (q - m) / NULLIF(q, 0) AS unfilled_cost,
       (bq - m) * pb - (sq - m) * ps - unwind_cash AS imbalance_cost,
       unwind_cash, residual_base, fees_unpriced
FROM matched"""

    fill_ratio = f"""
SELECT o.run_id, o.opportunity_id, o.id AS order_id, o.venue, o.symbol, o.side, o.purpose, o.status,
       {n("o.amount")} AS amount, COALESCE(f.filled, 0) AS filled,
       COALESCE(f.filled, 0) / NULLIF({n("o.amount")}, 0) AS fill_ratio,
       {n("o.filled")} AS order_filled
FROM orders o
LEFT JOIN (SELECT order_id, SUM({n("amount")}) AS filled FROM fills GROUP BY order_id) f
       ON f.order_id = o.id"""

    latency = f"""
SELECT o.run_id, o.opportunity_id, o.id AS order_id, o.venue, o.symbol, o.side, o.purpose,
       p.detected_at AS decided_at, o.sent_at, o.acked_at, f.first_fill_at, f.last_fill_at,
       {d.ms("p.detected_at", "o.sent_at")} AS decision_to_sent_ms,
       {d.ms("o.sent_at", "o.acked_at")} AS sent_to_ack_ms,
       {d.ms("o.acked_at", "f.first_fill_at")} AS ack_to_first_fill_ms,
       {d.ms("f.first_fill_at", "f.last_fill_at")} AS first_to_last_fill_ms,
       {d.ms("p.detected_at", "f.last_fill_at")} AS decision_to_filled_ms
FROM orders o
LEFT JOIN opportunities p ON p.id = o.opportunity_id
LEFT JOIN (SELECT order_id, MIN(ts) AS first_fill_at, MAX(ts) AS last_fill_at FROM fills GROUP BY order_id) f
       ON f.order_id = o.id"""

    snapshots = f"""
SELECT run_id, venue, asset, ts, {n("free")} AS free, {n("used")} AS used, {n("total")} AS total
FROM balances"""

    from_fills = """
WITH deltas AS (
    SELECT run_id, venue, base AS asset, ts, fill_id,
           (CASE WHEN side = 'buy' THEN amount ELSE -amount END)
           - (CASE WHEN fee_currency = base THEN fee ELSE 0 END) AS delta
    FROM v_fills_priced
    UNION ALL
    SELECT run_id, venue, quote AS asset, ts, fill_id,
           (CASE WHEN side = 'sell' THEN notional ELSE -notional END)
           - (CASE WHEN fee_currency = quote THEN fee ELSE 0 END) AS delta
    FROM v_fills_priced
    UNION ALL
    SELECT run_id, venue, fee_currency AS asset, ts, fill_id, -fee AS delta
    FROM v_fills_priced
    WHERE fee_currency NOT IN (base, quote) AND fee <> 0
)
SELECT run_id, venue, asset, ts, fill_id, delta,
       SUM(delta) OVER (PARTITION BY run_id, venue, asset ORDER BY ts, fill_id
                        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS net_change
FROM deltas"""

    return [
        ("v_fills_priced", fills_priced),
        ("v_opportunity_funnel", funnel),
        ("v_opportunity_rejections", rejections),
        ("v_opportunity_pnl", pnl),
        ("v_leg_fill_ratio", fill_ratio),
        ("v_leg_latency", latency),
        ("v_inventory_snapshots", snapshots),
        ("v_inventory_from_fills", from_fills),
    ]


def upgrade() -> None:
    dialect = _Dialect(op.get_context().dialect.name)
    for name, select in _views(dialect):
        op.execute(f"CREATE VIEW {name} AS {select.strip()}")


def downgrade() -> None:
    dialect = _Dialect(op.get_context().dialect.name)
    for name, _select in reversed(_views(dialect)):
        op.execute(f"DROP VIEW IF EXISTS {name}")
