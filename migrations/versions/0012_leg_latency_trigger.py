"""A hedge's latency starts at the fill it answers: ``v_leg_latency`` times every order from its trigger.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26

``v_leg_latency`` (revision 0003) timed every order from its opportunity's ``detected_at``. For a maker pair's
hedge or flatten that is the pair's quote being placed, so its "decision -> sent" took the time the quote
rested before it filled: seconds or minutes, not what arb took to answer. The view now starts each order at
``triggered_at``, what made arb send it:

- a hedge or a flatten: the latest fill of its pair's quote (the pair's orders of purpose ``quote``) that arb
  received (``fills.received_at``) at or before the order went out (``sent_at``, or ``created_at`` for one never
  marked sent); NULL when none had been. The rule of the maker's fill -> hedge
  (``arb/store/maker_views.answered_fill``), so the two agree;
- any other order (a taker pair's legs, an unwind, a quote): its opportunity's ``detected_at``, as before.

Columns renamed to say so: ``decided_at`` -> ``triggered_at``, ``decision_to_sent_ms`` -> ``trigger_to_sent_ms``,
``decision_to_filled_ms`` -> ``trigger_to_filled_ms``; the others are unchanged. ``arb.store.views.legs`` is the
same definition in Python (tests/report/test_views.py checks them against each other). The SQL is frozen here
(not imported from arb), as in 0003; the downgrade recreates 0003's view.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ms(sqlite: bool, start: str, end: str) -> str:
    if sqlite:
        return f"((julianday({end}) - julianday({start})) * 86400000.0)"
    return f"(EXTRACT(EPOCH FROM ({end} - {start})) * 1000)"


_FILLS = """LEFT JOIN (SELECT order_id, MIN(received_at) AS first_fill_at, MAX(received_at) AS last_fill_at
           FROM fills GROUP BY order_id) f
       ON f.order_id = o.id"""


def _latency(sqlite: bool) -> str:
    # Timestamps compare as stored: timestamptz on PostgreSQL, one fixed-width UTC text form on SQLite.
    trigger = """CASE WHEN o.purpose IN ('hedge', 'flatten') THEN
           (SELECT MAX(qf.received_at) FROM fills qf JOIN orders q ON q.id = qf.order_id
            WHERE q.opportunity_id = o.opportunity_id AND q.purpose = 'quote'
              AND qf.received_at <= COALESCE(o.sent_at, o.created_at))
       ELSE p.detected_at END"""
    return f"""
SELECT l.run_id, l.opportunity_id, l.order_id, l.venue, l.symbol, l.side, l.purpose,
       l.triggered_at, l.sent_at, l.acked_at, l.first_fill_at, l.last_fill_at,
       {_ms(sqlite, "l.triggered_at", "l.sent_at")} AS trigger_to_sent_ms,
       {_ms(sqlite, "l.sent_at", "l.acked_at")} AS sent_to_ack_ms,
       {_ms(sqlite, "l.acked_at", "l.first_fill_at")} AS ack_to_first_fill_ms,
       {_ms(sqlite, "l.first_fill_at", "l.last_fill_at")} AS first_to_last_fill_ms,
       {_ms(sqlite, "l.triggered_at", "l.last_fill_at")} AS trigger_to_filled_ms
FROM (
SELECT o.run_id, o.opportunity_id, o.id AS order_id, o.venue, o.symbol, o.side, o.purpose,
       {trigger} AS triggered_at,
       o.sent_at, o.acked_at, f.first_fill_at, f.last_fill_at
FROM orders o
LEFT JOIN opportunities p ON p.id = o.opportunity_id
{_FILLS}
) l"""


def _latency_0003(sqlite: bool) -> str:
    """Revision 0003's view, as it was."""
    return f"""
SELECT o.run_id, o.opportunity_id, o.id AS order_id, o.venue, o.symbol, o.side, o.purpose,
       p.detected_at AS decided_at, o.sent_at, o.acked_at, f.first_fill_at, f.last_fill_at,
       {_ms(sqlite, "p.detected_at", "o.sent_at")} AS decision_to_sent_ms,
       {_ms(sqlite, "o.sent_at", "o.acked_at")} AS sent_to_ack_ms,
       {_ms(sqlite, "o.acked_at", "f.first_fill_at")} AS ack_to_first_fill_ms,
       {_ms(sqlite, "f.first_fill_at", "f.last_fill_at")} AS first_to_last_fill_ms,
       {_ms(sqlite, "p.detected_at", "f.last_fill_at")} AS decision_to_filled_ms
FROM orders o
LEFT JOIN opportunities p ON p.id = o.opportunity_id
{_FILLS}"""


def _recreate(select: str) -> None:
    op.execute("DROP VIEW IF EXISTS v_leg_latency")
    op.execute(f"CREATE VIEW v_leg_latency AS {select.strip()}")


def upgrade() -> None:
    _recreate(_latency(op.get_context().dialect.name == "sqlite"))


def downgrade() -> None:
    _recreate(_latency_0003(op.get_context().dialect.name == "sqlite"))
