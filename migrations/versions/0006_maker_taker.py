"""Maker-taker: order purposes for quotes, hedges and flattens; a strategy per opportunity.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24

- ``orders.purpose`` may be ``quote`` (a post-only order resting on the maker venue), ``hedge`` (the taker
  IOC that answers its fills) or ``flatten`` (the leg policy closing what a failed hedge left on the maker
  venue), besides ``entry``, ``unwind`` and ``complete``.
- ``opportunities`` gains ``strategy``: ``taker`` (detection's crossed books, two IOC legs; every existing
  row) or ``maker`` (one quote's fills and their hedges: ``arb/execution/maker.py``), and ``pnl_adverse``:
  of a maker pair's ``pnl_slippage``, the part the taker book's move between quote and hedge made (adverse
  selection; the rest is the hedge's own slippage). NULL for a taker pair.
- ``orders`` gains ``reference_price``: a hedge's walked price on the taker book when it was sent.

SQLite cannot rebuild a table a view depends on, so revision 0003's views (unchanged) are dropped first and
recreated last, from 0003's own module.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_PURPOSES = "purpose IN ('entry', 'unwind', 'complete')"
NEW_PURPOSES = "purpose IN ('entry', 'unwind', 'complete', 'quote', 'hedge', 'flatten')"
STRATEGIES = "strategy IN ('taker', 'maker')"


def _money(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.String(length=64).with_variant(sa.Numeric(), "postgresql"), nullable=True)


def _revision_0003() -> ModuleType:
    """Revision 0003, loaded by path (the file name is not an identifier): its views are the current ones."""
    path = Path(__file__).with_name("0003_settlement_runs_status.py")
    spec = importlib.util.spec_from_file_location("_arb_migration_0003", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _drop_views(views: ModuleType) -> None:
    for name, _select in reversed(views._views(views._Dialect(op.get_context().dialect.name))):
        op.execute(f"DROP VIEW IF EXISTS {name}")


def _create_views(views: ModuleType) -> None:
    for name, select in views._views(views._Dialect(op.get_context().dialect.name)):
        op.execute(f"CREATE VIEW {name} AS {select.strip()}")


def upgrade() -> None:
    views = _revision_0003()
    _drop_views(views)
    with op.batch_alter_table("orders") as batch:
        batch.drop_constraint(op.f("ck_orders_purpose"), type_="check")
        batch.create_check_constraint(op.f("ck_orders_purpose"), NEW_PURPOSES)
        batch.add_column(_money("reference_price"))
    with op.batch_alter_table("opportunities") as batch:
        batch.add_column(_money("pnl_adverse"))
        # The default stays: a taker decision's row is written without naming it (prepared inserts).
        batch.add_column(sa.Column("strategy", sa.String(length=8), nullable=False, server_default="taker"))
        batch.create_check_constraint(op.f("ck_opportunities_strategy"), STRATEGIES)
    _create_views(views)


def downgrade() -> None:
    views = _revision_0003()
    _drop_views(views)
    # A maker run's rows have no place in the older schema: its quotes, hedges and flattens go, with their
    # fills and events (ON DELETE CASCADE does not fire with foreign keys off, so each table is cleared).
    maker_orders = "SELECT id FROM orders WHERE purpose IN ('quote', 'hedge', 'flatten')"
    for table in ("fill_conflicts", "fills", "order_events"):
        op.execute(f"DELETE FROM {table} WHERE order_id IN ({maker_orders})")
    op.execute("DELETE FROM balances WHERE opportunity_id IN (SELECT id FROM opportunities WHERE strategy = 'maker')")
    op.execute("DELETE FROM orders WHERE purpose IN ('quote', 'hedge', 'flatten')")
    op.execute("DELETE FROM opportunities WHERE strategy = 'maker'")
    with op.batch_alter_table("opportunities") as batch:
        batch.drop_constraint(op.f("ck_opportunities_strategy"), type_="check")
        batch.drop_column("strategy")
        batch.drop_column("pnl_adverse")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("reference_price")
        batch.drop_constraint(op.f("ck_orders_purpose"), type_="check")
        batch.create_check_constraint(op.f("ck_orders_purpose"), OLD_PURPOSES)
    _create_views(views)
