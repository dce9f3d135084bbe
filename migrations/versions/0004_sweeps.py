"""Research sweeps: a ``sweeps`` table and each run's link to the sweep and grid point it replayed.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

- New table ``sweeps``: one ``arb sweep``: its grid (JSON: the keys and the values each takes), when it
  started and ended (wall clock), ``status`` (running / completed / failed) and ``status_reason``.
- ``runs`` gains ``sweep_id`` (nullable; NULL for a run that is not part of a sweep) and ``grid_point``
  (JSON: the one combination of values that run replayed). A sweep is deleted after its runs (no ON DELETE
  action: SQLite does not report one given inline, so the models-vs-migrations check could not see it).

The columns are added with ``ALTER TABLE ... ADD COLUMN`` on SQLite too (a nullable column with a named
``REFERENCES`` clause is allowed there): no copy of ``runs``, whose children cascade on delete.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("grid", sa.JSON(), nullable=False),
        sa.CheckConstraint("status IN ('running', 'completed', 'failed')", name=op.f("ck_sweeps_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sweeps")),
    )
    if op.get_context().dialect.name == "sqlite":
        # Not batch mode: copying ``runs`` would DROP it, and SQLite's implicit DELETE of a dropped table
        # cascades to every opportunity, order and fill. ADD COLUMN takes a nullable foreign key inline.
        op.execute("ALTER TABLE runs ADD COLUMN sweep_id INTEGER "
                   "CONSTRAINT fk_runs_sweep_id_sweeps REFERENCES sweeps (id)")
    else:
        op.add_column("runs", sa.Column("sweep_id", sa.Integer(), nullable=True))
        op.create_foreign_key(op.f("fk_runs_sweep_id_sweeps"), "runs", "sweeps", ["sweep_id"], ["id"])
    op.add_column("runs", sa.Column("grid_point", sa.JSON(), nullable=True))
    op.create_index(op.f("ix_runs_sweep_id"), "runs", ["sweep_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_runs_sweep_id"), table_name="runs")
    # SQLite cannot drop a column a constraint names: batch mode copies the table there (as 0003 does).
    with op.batch_alter_table("runs") as batch:
        if op.get_context().dialect.name != "sqlite":
            batch.drop_constraint(op.f("fk_runs_sweep_id_sweeps"), type_="foreignkey")
        batch.drop_column("grid_point")
        batch.drop_column("sweep_id")
    op.drop_table("sweeps")
