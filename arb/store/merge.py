"""Copy one run, with everything it wrote, from one database into another under new ids.

``arb sweep`` replays each grid point into an SQLite file of its own (one engine per database: each
replay holds that database's lease) and then merges the finished run into the sweep's database here. Every
row of the run is copied: ``runs``, ``opportunities``, ``orders``, ``order_events``, ``fills``,
``fill_conflicts`` and ``balances``. The target gives each row a new id, and every foreign key is remapped
to the new ids of the rows it pointed at; nothing else changes, so what a run recorded (decisions, fills,
the stored settlement) reads the same in both databases.

Between two SQLite files (what a sweep on one machine merges) the rows are copied as stored, each table in
one ``executemany``, under ids shifted past the target's largest: the same schema stores the same values
the same way, so nothing needs converting, and no row needs a round trip for its new id. Any other pair
(PostgreSQL either way round) goes through SQLAlchemy Core on the models' tables, each new id returned by
the insert. The tables, which rows belong to the run and the duplicate checks are the same either way. Both
sessions belong to the caller, who commits or rolls back the target.

A run is merged once: a run in the target with the same start instant, process and host is the same run,
and merging it again is refused (:class:`AlreadyMerged`), as is a run whose client order ids or venue trade
ids the target already holds under another run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from arb.errors import StoreError
from arb.store.models import Base

# Children in the order they are copied: each table after every table it refers to. The value says how a
# row belongs to the run: its own run_id, or its order's.
_TABLES = Base.metadata.tables
_CHILDREN: tuple[tuple[Table, str], ...] = (
    (_TABLES["opportunities"], "run_id"),
    (_TABLES["orders"], "run_id"),
    (_TABLES["order_events"], "order_id"),
    (_TABLES["fills"], "order_id"),
    (_TABLES["fill_conflicts"], "run_id"),
    (_TABLES["balances"], "run_id"),
    (_TABLES["transfers"], "run_id"),
)
_RUNS, _ORDERS, _FILLS = _TABLES["runs"], _TABLES["orders"], _TABLES["fills"]
_CHUNK = 500  # bound parameters per IN (...) query


class AlreadyMerged(StoreError):
    """The run (or rows only it can own) is already in the target database."""

    retryable = False


def merge_run(source: Session, target: Session, run_id: int, *, sweep_id: int | None = None,
              grid_point: Mapping[str, Any] | None = None) -> int:
    """Copy run ``run_id`` of ``source`` into ``target``; returns the run's id in ``target``.

    ``sweep_id``/``grid_point``, when given, link the copied run to a sweep (``runs.sweep_id``,
    ``runs.grid_point``). Runs in one transaction of ``target``: on any error nothing of the run is left
    once the caller rolls back.
    """
    found = source.execute(select(_RUNS).where(_RUNS.c.id == run_id)).mappings().one_or_none()
    if found is None:
        raise StoreError(f"run {run_id} is not in the source database")
    run = dict(found)
    _refuse_duplicates(source, target, run)
    values = {k: v for k, v in run.items() if k != "id"}
    if sweep_id is not None:
        values["sweep_id"] = sweep_id
    if grid_point is not None:
        values["grid_point"] = dict(grid_point)
    new_run = target.execute(insert(_RUNS).returning(_RUNS.c.id), values).scalar_one()
    if _dialect(source) == _dialect(target) == "sqlite":
        _copy_stored(source, target, run_id, new_run)
        return int(new_run)
    # old id -> new id, per referred table name
    ids: dict[str, dict[int, int]] = {"runs": {run_id: new_run}}
    for table, owner in _CHILDREN:
        rows = _owned_rows(source, table, owner, run_id, ids)
        ids[table.name] = _copy(target, table, rows, ids)
    return int(new_run)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _copy_stored(source: Session, target: Session, run_id: int, new_run: int) -> None:
    """SQLite to SQLite: each table's rows of the run as stored, ids shifted past the target's largest
    (``BEGIN IMMEDIATE`` holds the target's write lock, so no other writer takes them meanwhile), every
    foreign key shifted as the table it refers to was."""
    src, dst = source.connection(), target.connection()
    shifts: dict[str, int] = {}
    for table, owner in _CHILDREN:
        columns = [c.name for c in table.columns]
        where = "run_id = ?" if owner == "run_id" else "order_id IN (SELECT id FROM orders WHERE run_id = ?)"
        rows = src.exec_driver_sql(
            f"SELECT {', '.join(columns)} FROM {table.name} WHERE {where} ORDER BY id", (run_id,)).all()
        shifts[table.name] = dst.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table.name}").scalar_one()
        referred = {fk.parent.name: fk.column.table.name for fk in table.foreign_keys}
        # Per id column: (its index, the run's new id to set, or the shift to add to a non-null id).
        fixes: list[tuple[int, int | None, int]] = []
        for i, name in enumerate(columns):
            if name == "id":
                fixes.append((i, None, shifts[table.name]))
            elif referred.get(name) == "runs":
                fixes.append((i, new_run, 0))
            elif name in referred:  # a table copied before this one (``_CHILDREN`` order)
                fixes.append((i, None, shifts[referred[name]]))
        copied = []
        for row in rows:
            values = list(row)
            for i, run, shift in fixes:
                if values[i] is not None:
                    values[i] = run if run is not None else values[i] + shift
            copied.append(tuple(values))
        if copied:
            dst.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(columns)}) "
                                f"VALUES ({', '.join('?' * len(columns))})", copied)


def _owned_rows(source: Session, table: Table, owner: str, run_id: int,
                ids: Mapping[str, Mapping[int, int]]) -> list[dict[str, Any]]:
    if owner == "run_id":
        query = select(table).where(table.c.run_id == run_id)
    else:  # through the run's orders
        query = select(table).where(table.c.order_id.in_(select(_ORDERS.c.id).where(_ORDERS.c.run_id == run_id)))
    return [dict(row) for row in source.execute(query.order_by(table.c.id)).mappings()]


def _copy(target: Session, table: Table, rows: Sequence[dict[str, Any]],
          ids: Mapping[str, Mapping[int, int]]) -> dict[int, int]:
    """Insert ``rows`` with new ids and remapped foreign keys; old id -> new id."""
    if not rows:
        return {}
    remap = [(fk.parent.name, fk.column.table.name) for fk in table.foreign_keys]
    params = []
    for row in rows:
        values = {k: v for k, v in row.items() if k != "id"}
        for column, referred in remap:
            if values.get(column) is not None:
                values[column] = ids[referred][values[column]]
        params.append(values)
    # One executemany with RETURNING in parameter order (SQLAlchemy's "insertmanyvalues"): new ids line up.
    new_ids = target.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), params).scalars()
    return dict(zip((row["id"] for row in rows), new_ids, strict=True))


def _refuse_duplicates(source: Session, target: Session, run: Mapping[str, Any]) -> None:
    same = target.execute(select(_RUNS.c.id).where(
        _RUNS.c.started_at == run["started_at"], _RUNS.c.pid == run["pid"], _RUNS.c.host == run["host"],
        _RUNS.c.mode == run["mode"])).scalar()
    if same is not None:
        raise AlreadyMerged(f"run {run['id']} is already in the target database as run {same} "
                            f"(started {run['started_at'].isoformat()} by pid {run['pid']} on {run['host']})")
    client_ids = source.execute(select(_ORDERS.c.client_order_id).where(_ORDERS.c.run_id == run["id"])).scalars()
    for chunk in _chunks(client_ids):
        clash = target.execute(select(_ORDERS.c.client_order_id).where(_ORDERS.c.client_order_id.in_(chunk))).scalar()
        if clash is not None:
            raise AlreadyMerged(f"run {run['id']}: client order id {clash} is already in the target database")
    trades = source.execute(select(_FILLS.c.venue, _FILLS.c.trade_id).join(_ORDERS, _ORDERS.c.id == _FILLS.c.order_id)
                            .where(_ORDERS.c.run_id == run["id"])).all()
    by_venue: dict[str, list[str]] = {}
    for venue, trade_id in trades:
        by_venue.setdefault(venue, []).append(trade_id)
    for venue, trade_ids in by_venue.items():
        for chunk in _chunks(trade_ids):
            clash = target.execute(select(_FILLS.c.trade_id).where(
                _FILLS.c.venue == venue, _FILLS.c.trade_id.in_(chunk))).scalar()
            if clash is not None:
                raise AlreadyMerged(f"run {run['id']}: {venue} trade id {clash} is already in the target database")


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    batch: list[str] = []
    for value in values:
        batch.append(value)
        if len(batch) == _CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch
