"""A fill's fee-token price: what a fee charged in a third currency (Gate's GT) was worth in the quote.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24

``fills.fee_price``: the price of the fill's ``fee_currency`` in its market's quote when the fee was charged
in neither of the market's currencies and the venue knew one at the fill (``arb/venues/fee_tokens.py``);
NULL for every other fill (and every existing row). The accounting values such a fee at it
(``arb/accounting.py``). Upgrading is a plain ADD COLUMN (SQLite adds it without rebuilding the table,
so the views that read ``fills`` stay); downgrading rebuilds ``fills`` on SQLite, so revision 0003's views
are dropped first and recreated last, as revision 0006 does.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("fills", sa.Column("fee_price", sa.String(length=64).with_variant(sa.Numeric(), "postgresql"),
                                     nullable=True))


def _revision_0006() -> ModuleType:
    """Revision 0006, loaded by path (the file name is not an identifier): its view helpers."""
    path = Path(__file__).with_name("0006_maker_taker.py")
    spec = importlib.util.spec_from_file_location("_arb_migration_0006", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def downgrade() -> None:
    maker = _revision_0006()
    views = maker._revision_0003()
    maker._drop_views(views)
    with op.batch_alter_table("fills") as batch:
        batch.drop_column("fee_price")
    maker._create_views(views)
