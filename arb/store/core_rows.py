"""One row updated by id with a Core statement built once, beside the ORM that the same session may use.

The hot writes of an order's life (its transitions, its pair's link and size: ``orders.py``,
``maker_pairs.py``) read the few columns they need and write with Core: loading the row as an ORM object and
flushing it through the unit of work cost several times the statements themselves. A Core UPDATE does not
reach an ORM copy of the row the session already holds (a caller that loaded it), so :func:`update_row`
expires what it changed on that copy: the next access reads the row as written.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Update, bindparam, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from arb.store.models import Base

_UPDATES: dict[type[Base], Update] = {}


def update_row(session: Session, model: type[Base], row_id: int, values: dict[str, Any]) -> None:
    """``UPDATE <model's table> SET <values> WHERE id = row_id``, in the session's transaction."""
    stmt = _UPDATES.get(model)
    if stmt is None:
        table = model.__table__
        # The columns it sets are each execution's parameters besides ``row_id`` (no table has that column).
        stmt = _UPDATES[model] = update(table).where(table.c.id == bindparam("row_id"))
    session.execute(stmt, {"row_id": row_id, **values})
    held = session.identity_map.get(identity_key(model, row_id))
    if held is not None:
        session.expire(held, list(values))
