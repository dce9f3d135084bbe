"""Repository functions for runs, opportunities and balances. (Orders, events, fills: ``orders.py``.)

Every function takes the caller's :class:`~sqlalchemy.orm.Session` and neither commits nor rolls back:
the caller owns the unit of work (``with factory.begin() as session: ...``), so several writes that
belong together (an opportunity and its orders) land in one transaction. Functions that create rows
flush, so returned ids are real.

Rows come in as plain mappings keyed by column name (the detection and execution types keep their own
names; the engine maps them). Unknown keys are an error, not silently dropped: a typo would otherwise
lose audit data.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session

from arb.domain.market import MarketKind
from arb.domain.venue import FundingReport
from arb.errors import StoreError
from arb.inventory import FillFlow, FundingFlow, InventoryRow, inventory
from arb.margin import PositionState
from arb.store import transfers
from arb.store.models import (
    BALANCE_KINDS,
    Balance,
    Fill,
    FundingPayment,
    OpeningPosition,
    Opportunity,
    Order,
    Run,
)
from arb.store.prepared import PreparedInsert
from arb.store.runs import get_run

if TYPE_CHECKING:
    from arb.detection.types import Rejection

_OPPORTUNITY_COLUMNS = frozenset(c.key for c in Opportunity.__table__.columns) - {"id"}
_SECRET_KEYS = re.compile(r"^(api_?key|api_?secret|secret(_key)?|password|passphrase|private_key|token)$", re.I)
_URL_PASSWORD = re.compile(r"://[^/:@\s]*:(?P<pw>[^@\s]*)@")


@dataclass(frozen=True, slots=True)
class BalanceSnapshot:
    """One asset's balance on one venue, as the venue (or the paper ledger) reported it."""

    venue: str
    asset: str
    free: Decimal
    used: Decimal
    total: Decimal


# --- runs -------------------------------------------------------------------------------------------


def start_run(session: Session, *, mode: str, config_snapshot: Mapping[str, Any], started_at: datetime,
              pid: int | None = None, host: str | None = None, market_started_at: datetime | None = None) -> Run:
    """Record the start of a run (status ``running``). ``config_snapshot`` must already have its secrets
    masked. ``started_at`` is wall clock; ``pid``/``host`` name the process (the lease holder).

    As a last line of defence, a snapshot that still holds something secret-looking (a credential key
    with a plain value, a URL with a password) is refused: secrets never reach the database.
    """
    snapshot = jsonable(config_snapshot)
    _refuse_secrets(snapshot)
    run = Run(mode=mode, config_snapshot=snapshot, started_at=started_at, status="running", pid=pid, host=host,
              market_started_at=market_started_at)
    session.add(run)
    session.flush()
    return run


def end_run(session: Session, run_id: int, *, ended_at: datetime, summary: Mapping[str, Any],
            market_started_at: datetime | None = None, market_ended_at: datetime | None = None,
            halted: str | None = None) -> Run:
    """Mark a run ``completed`` with its summary (funnel, PnL...; Decimals are stored as exact strings), or
    ``halted`` with ``halted`` as its reason: the leg policy stopped it with a position it could not hedge.

    ``ended_at`` is wall clock; the market-time span, when given, replaces what was recorded at the start
    (a replay learns its first market time only from its first event)."""
    run = get_run(session, run_id)
    _ended(run, "halted" if halted else "completed", halted, ended_at)
    run.summary = jsonable(summary)
    _market_span(run, market_started_at, market_ended_at)
    session.flush()
    return run


def fail_run(session: Session, run_id: int, *, reason: str, ended_at: datetime,
             market_started_at: datetime | None = None, market_ended_at: datetime | None = None) -> Run:
    """Mark a run ``failed``: stopped by an error its process caught. ``reason`` is kept to one line."""
    run = get_run(session, run_id)
    _ended(run, "failed", reason, ended_at)
    _market_span(run, market_started_at, market_ended_at)
    session.flush()
    return run


def mark_forced(session: Session, run_id: int, *, reason: str, ended_at: datetime) -> bool:
    """Mark a run still ``running`` as ``crashed`` by its own process, which is being forced to exit (a second
    Ctrl-C): it ends without its shutdown, as a process that dies does, but ``reason`` says why and when it
    ended is known. False when the run had already ended (the second signal came as its summary printed)."""
    run = get_run(session, run_id)
    if run.status != "running":
        return False
    _ended(run, "crashed", reason, ended_at)
    session.flush()
    return True


def _ended(run: Run, status: str, reason: str | None, ended_at: datetime) -> None:
    """``run`` ended at ``ended_at`` with ``status``, and ``reason`` kept to one line (None: no reason)."""
    run.status = status
    run.status_reason = one_line(reason) if reason else None
    run.ended_at = ended_at


def mark_crashed(session: Session, *, found_by: int) -> list[Run]:
    """Mark every other run still ``running`` as ``crashed``; those runs, oldest first.

    Call only while holding the database's lease (:mod:`arb.store.lease`): the lease dies with its
    process, so with it held, any other run still ``running`` belongs to a process that is gone. Their
    ``ended_at`` stays NULL (nobody saw them end); ``found_by`` is the run that found them.
    """
    runs = list(session.scalars(
        select(Run).where(Run.status == "running", Run.id != found_by).order_by(Run.id)))
    for run in runs:
        who = f"process {run.pid} on host {run.host}" if run.pid is not None else "its process"
        run.status = "crashed"
        run.status_reason = f"{who} died; found by run {found_by}"
    session.flush()
    return runs


def one_line(text: str, limit: int = 500) -> str:
    """``text`` as one line of at most ``limit`` characters (a status reason, a log line)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _market_span(run: Run, started: datetime | None, ended: datetime | None) -> None:
    if started is not None:
        run.market_started_at = started
    if ended is not None:
        run.market_ended_at = ended


# --- opportunities ----------------------------------------------------------------------------------


def record_opportunities(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert many opportunities in one round trip (the batched writer); their ids, in input order.

    Optional columns may be left out. ``detail`` is made JSON-safe (Decimals become exact strings).
    """
    if not rows:
        return []
    params = [_opportunity_params(row) for row in rows]
    # Every dict must have the same keys for one executemany; fill the optional ones that are missing.
    keys = set().union(*params)
    params = [{key: p.get(key) for key in keys} for p in params]
    stmt = insert(Opportunity).returning(Opportunity.id, sort_by_parameter_order=True)
    return list(session.scalars(stmt, params))


class OpportunityRows:
    """``record_opportunities`` for the batched decision writer, prepared (``arb/store/prepared.py``): each row
    becomes the driver's parameters (:meth:`params`, which refuses a bad row as the ORM would), and a batch
    is one ``executemany`` (:meth:`write`), with none of the ORM's bulk-insert machinery around it. A
    detection's ``Rejection``, nearly every row of a run, goes the short way (:meth:`write_rejected`). The
    stored rows are ``record_opportunities``' (``tests/store/test_repo.py`` compares them as the database
    holds them); no ids come back."""

    _COLUMNS = tuple(c.key for c in Opportunity.__table__.columns if c.key != "id")

    def __init__(self, dialect: Dialect) -> None:
        # Detection's record, imported here: what reads a stored run (``arb report``) loads no numpy.
        from arb.detection.record import REJECTION_COLUMNS, rejection_values

        # A rejection's row as write_rejected binds it: these two, then ``rejection_values``; ``strategy`` is
        # left to the column's default (taker: detection's), one value fewer to bind in every row.
        self._rejected_columns = ("run_id", "detected_at", *REJECTION_COLUMNS)
        self._rejected_at = {column: i for i, column in enumerate(self._rejected_columns)}
        # The columns a rejection may leave None: those the table lets be NULL (unsized: no limits, no edge;
        # a capture without sequences), each statement by which of them are None.
        table = Opportunity.__table__
        self._may_be_null = tuple(c for c in self._rejected_columns if table.columns[c].nullable)
        self._may_be_null_at = tuple(self._rejected_at[column] for column in self._may_be_null)
        self._rejection_values = rejection_values
        self._dialect = dialect
        self._insert = PreparedInsert.compile(Opportunity.__table__, self._COLUMNS, dialect)
        self._rejected: dict[tuple[bool, ...], PreparedInsert] = {}  # by which of _may_be_null are None

    def params(self, row: Mapping[str, Any], instants: dict[datetime, Any] | None = None
               ) -> Sequence[Any] | dict[str, Any]:
        """The driver's parameters for ``row`` (keys as for ``record_opportunities``, optional ones left out);
        ``instants`` as for ``PreparedInsert.params``, shared by the rows of one batch."""
        given = _opportunity_params(row)
        return self._insert.params(({key: given.get(key) for key in self._COLUMNS},), instants)

    def write(self, connection: Connection, batch: Sequence[Sequence[Any] | dict[str, Any]]) -> None:
        """Insert the rows whose :meth:`params` are ``batch``, in ``connection``'s transaction."""
        if batch:
            connection.exec_driver_sql(self._insert.sql, list(batch))

    def write_rejected(self, connection: Connection, rejected: Iterable[tuple[int, datetime, Rejection]],
                       instants: dict[datetime, Any] | None = None) -> None:
        """Insert the rows of ``rejected`` ((run id, detected at, ``Rejection``) each), in order, in
        ``connection``'s transaction: the values ``rejection_values`` gives (arb's own: no enum, no float,
        a detail of strings, so nothing :meth:`params` checks), bound as they come, each row in a statement
        of the columns it sets. The settlement columns, and a rejection's own Nones, are left out rather than
        bound NULL: the driver adapts a None through a registry lookup, ~10 times an ordinary value's cost (a
        rejection has up to five)."""
        statement: PreparedInsert | None = None
        batch: list[Sequence[Any] | dict[str, Any]] = []
        may_be_null_at, rejection_values = self._may_be_null_at, self._rejection_values
        for run_id, detected_at, rejection in rejected:
            row = (run_id, detected_at, *rejection_values(rejection))
            nulls = tuple([row[at] is None for at in may_be_null_at])
            insert = self._rejected.get(nulls)
            if insert is None:
                insert = self._rejected[nulls] = self._rejected_insert(nulls)
            if insert is not statement:
                if statement is not None:  # a run of one shape, in queue order: the ids follow it
                    connection.exec_driver_sql(statement.sql, batch)
                statement, batch = insert, []
            batch.append(insert.params((row,), instants))
        if statement is not None:
            connection.exec_driver_sql(statement.sql, batch)

    def _rejected_insert(self, nulls: tuple[bool, ...]) -> PreparedInsert:
        """The statement of a rejection's columns but those of ``_may_be_null`` that ``nulls`` says are None."""
        left_out = {column for column, null in zip(self._may_be_null, nulls, strict=True) if null}
        return PreparedInsert.compile(Opportunity.__table__, [c for c in self._rejected_columns if c not in left_out],
                                      self._dialect, positions=self._rejected_at)


def _opportunity_params(row: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(row) - _OPPORTUNITY_COLUMNS
    if unknown:
        raise ValueError(f"not opportunities columns: {', '.join(sorted(unknown))}")
    params = dict(row)
    params.setdefault("strategy", "taker")  # detection's decisions; a maker pair's row names its strategy
    for key in ("decision", "reason"):
        if isinstance(params.get(key), enum.Enum):
            params[key] = params[key].value
    if params.get("detail") is not None:
        params["detail"] = jsonable(params["detail"])
    return params


# --- balances ---------------------------------------------------------------------------------------


def record_balances(session: Session, run_id: int, ts: datetime, balances: Iterable[BalanceSnapshot], *,
                    kind: str, opportunity_id: int | None = None) -> int:
    """Insert one snapshot (several venues and assets at time ``ts``, market clock); the rows written.

    ``kind``: ``start`` (after reconciliation, before trading), ``after_pair`` (after an executed pair:
    ``opportunity_id`` says which) or ``end`` (after resting orders are cancelled).
    """
    if kind not in BALANCE_KINDS:
        raise ValueError(f"balance snapshot kind {kind!r} is not one of {', '.join(BALANCE_KINDS)}")
    rows = [
        {"run_id": run_id, "ts": ts, "venue": b.venue, "asset": b.asset, "free": b.free, "used": b.used,
         "total": b.total, "kind": kind, "opportunity_id": opportunity_id}
        for b in balances
    ]
    if rows:
        session.execute(insert(Balance), rows)
    return len(rows)


def record_funding(session: Session, run_id: int, payment: FundingReport) -> None:
    """Insert one funding payment of a run (``funding_payments``)."""
    session.execute(insert(FundingPayment), [{
        "run_id": run_id, "venue": payment.venue, "symbol": payment.symbol, "ts": payment.ts, "rate": payment.rate,
        "mark": payment.mark, "position": payment.position, "amount": payment.amount, "currency": payment.currency}])


def last_funding(session: Session, venue: str, symbol: str) -> datetime | None:
    """The latest funding time stored for ``venue``'s ``symbol`` by any run: where reading the venue's own
    funding history resumes (a restart stores what was paid while nothing ran)."""
    return session.scalar(select(func.max(FundingPayment.ts)).where(FundingPayment.venue == venue,
                                                                    FundingPayment.symbol == symbol))


def record_opening_positions(session: Session, run_id: int, held: Mapping[tuple[str, str], PositionState]) -> None:
    """The perpetual positions ``run_id`` started with, (venue, symbol) -> as its venue reported it."""
    session.add_all(OpeningPosition(run_id=run_id, venue=venue, symbol=symbol, amount=p.amount, entry=p.entry)
                    for (venue, symbol), p in sorted(held.items()) if p.amount)


def opening_positions(session: Session, run_id: int) -> dict[tuple[str, str], PositionState]:
    """What :func:`record_opening_positions` stored for ``run_id``."""
    return {(p.venue, p.symbol): PositionState(p.amount, p.entry) for p in session.scalars(
        select(OpeningPosition).where(OpeningPosition.run_id == run_id))}


def implied_positions(session: Session, markets: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Decimal]:
    """What every stored fill of each (venue, engine symbol) in ``markets`` adds up to (bought less sold), over
    every run that traded it as a perpetual: the position arb's own records imply, which a restart checks
    against the venue's (``runtime/position_check.py``)."""
    wanted = set(markets)
    out = {key: Decimal(0) for key in wanted}
    venues = {venue for venue, _ in wanted}
    for run in session.scalars(select(Run).where(Run.id.in_(
            select(Order.run_id).where(Order.venue.in_(venues)).distinct()))):
        kinds = _snapshot_market_kinds(run.config_snapshot or {})
        perpetual = {key for key in wanted
                     if kinds.get(key) in (MarketKind.LINEAR_PERPETUAL, MarketKind.INVERSE_PERPETUAL)}
        if not perpetual:
            continue
        for venue, symbol, side, amount in session.execute(
                select(Fill.venue, Order.symbol, Order.side, Fill.amount).join(Order, Fill.order_id == Order.id)
                .where(Order.run_id == run.id, Fill.venue.in_({v for v, _ in perpetual}))):
            if (venue, symbol) in perpetual:
                out[(venue, symbol)] += amount if side == "buy" else -amount
    return out


def funding_flows(session: Session, run_id: int, since: datetime | None = None) -> list[FundingFlow]:
    """The run's funding payments, in time order, as the inventory check and the valuation read them; those
    paid at ``since`` or later, when given."""
    stmt = select(FundingPayment).where(FundingPayment.run_id == run_id)
    if since is not None:
        stmt = stmt.where(FundingPayment.ts >= since)
    return [FundingFlow(f.venue, f.symbol, f.amount, f.currency)
            for f in session.scalars(stmt.order_by(FundingPayment.ts, FundingPayment.id))]


def latest_balances(session: Session, run_id: int) -> list[Balance]:
    """For each (venue, asset) of a run, its most recent balance row; sorted by venue then asset."""
    newest = (
        select(Balance.venue, Balance.asset, func.max(Balance.ts).label("ts"))
        .where(Balance.run_id == run_id)
        .group_by(Balance.venue, Balance.asset)
        .subquery()
    )
    stmt = (
        select(Balance)
        .join(
            newest,
            (Balance.venue == newest.c.venue) & (Balance.asset == newest.c.asset) & (Balance.ts == newest.c.ts),
        )
        .where(Balance.run_id == run_id)
        .order_by(Balance.venue, Balance.asset, Balance.id.desc())
    )
    seen: set[tuple[str, str]] = set()
    result = []
    for balance in session.scalars(stmt):  # two rows with the same newest ts: keep the last inserted
        if (balance.venue, balance.asset) not in seen:
            seen.add((balance.venue, balance.asset))
            result.append(balance)
    return result


def inventory_check(session: Session, run_id: int) -> list[InventoryRow]:
    """Per (venue, asset) of a run: its ``start`` and ``end`` balance totals, the change its fills imply
    and the external flow, as :func:`arb.inventory.inventory` defines them (a perpetual's reductions realizing
    against the position it started with)."""
    snapshots = session.scalars(
        select(Balance).where(Balance.run_id == run_id, Balance.kind.in_(("start", "end"))).order_by(Balance.id)
    ).all()
    start = [b for b in snapshots if b.kind == "start"]
    # A payment a restart stored that was made while nothing ran is in the start balances already.
    paid_since = min((b.ts for b in start), default=None)
    return inventory(start, [b for b in snapshots if b.kind == "end"], fill_flows(session, run_id),
                     funding_flows(session, run_id, paid_since), opening_positions(session, run_id),
                     transfers.balance_moves(session, run_id))


def _snapshot_market_kinds(snapshot: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    """(venue, engine symbol) -> the market's kind, read from a run's stored config snapshot: the kinds its venues
    reported at its start (``market_kinds``), else (a run stored before they were kept) its markets' ``kind``,
    else spot. What the inventory check and the valuation of a run's holdings read back from the database."""
    table, texts = _table, _texts
    # A snapshot is whatever the database holds (an older arb's, or an edited row): what is not in the shape
    # this arb writes counts as spot, as every market was before kinds existed.
    recorded = table(snapshot, "market_kinds")  # what the open venues reported at the run's start
    if recorded:
        return {(venue, symbol): kind for venue, kinds in recorded.items() if isinstance(kinds, dict)
                for symbol, kind in kinds.items() if isinstance(kind, str)}
    symbols = texts(table(snapshot, "engine").get("symbols"))
    out = {}
    for venue, section in table(snapshot, "venues").items():
        if not isinstance(section, dict):
            continue
        markets = table(section, "markets")
        for symbol in texts(section.get("symbols")) or symbols:
            kind = table(markets, symbol).get("kind")
            out[(venue, symbol)] = kind if isinstance(kind, str) else "spot"
    return out


def _snapshot_contract_sizes(snapshot: Mapping[str, Any]) -> dict[tuple[str, str], Decimal]:
    """(venue, engine symbol) -> an inverse perpetual's contract size: as the open venues reported it at the
    run's start (``contract_sizes``), else its market's ``contract_size`` in the config."""
    recorded = _table(snapshot, "contract_sizes")
    out = {(venue, symbol): size for venue, sizes in recorded.items() if isinstance(sizes, dict)
           for symbol, size in sizes.items()}
    for venue, section in _table(snapshot, "venues").items():
        for symbol, market in _table(section, "markets").items():
            if isinstance(market, dict) and market.get("contract_size") is not None:
                out.setdefault((venue, symbol), market["contract_size"])
    return {key: Decimal(str(size)) for key, size in out.items()}


def _table(node: Any, key: str) -> dict[str, Any]:
    value = node.get(key) if isinstance(node, dict) else None
    return value if isinstance(value, dict) else {}


def _texts(node: Any) -> list[str]:
    return [t for t in node if isinstance(t, str)] if isinstance(node, list) else []


def fill_flows(session: Session, run_id: int) -> list[FillFlow]:
    """The run's fills in the order they happened (each with its order's symbol and side, and whether its
    market is a linear perpetual or an inverse one, with its contract size, as the run's venues or config
    gave it)."""
    run = session.get(Run, run_id)
    snapshot = run.config_snapshot if run is not None else {}
    kinds, sizes = _snapshot_market_kinds(snapshot), _snapshot_contract_sizes(snapshot)

    def contract_size(venue: str, symbol: str) -> Decimal | None:
        if kinds.get((venue, symbol)) != MarketKind.INVERSE_PERPETUAL:
            return None
        size = sizes.get((venue, symbol))
        if size is None:  # its fills cannot be valued: an amount of contracts of unknown size
            raise ValueError(f"run {run_id}: {venue} {symbol} is an inverse perpetual with no contract size stored")
        return size

    return [
        FillFlow(f.venue, symbol, side, f.price, f.amount, f.fee, f.fee_currency,
                 linear=kinds.get((f.venue, symbol)) == MarketKind.LINEAR_PERPETUAL,
                 contract_size=contract_size(f.venue, symbol))
        for f, symbol, side in session.execute(
            select(Fill, Order.symbol, Order.side).join(Order, Fill.order_id == Order.id)
            .where(Order.run_id == run_id).order_by(Fill.ts, Fill.id)
        )
    ]


# --- JSON columns -----------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """``value`` with Decimals as exact strings, datetimes as ISO 8601, enums as their values.

    JSON numbers would pass through float on the way back; a Decimal written as a string comes back exact
    with ``Decimal(text)``.
    """
    # The plain types first, by exact type, and a dict before the ABC check (a detail, once a decision, is a
    # dict of a few strings and Decimals); an enum member or a subclass takes the checks below.
    kind = type(value)
    if value is None or kind is str or kind is int or kind is bool:
        return value
    if kind is dict or isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, Decimal):
        return format(value, "f") if value.is_finite() else str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        raise TypeError("floats are not stored in JSON columns either: pass a Decimal")
    if value is None or isinstance(value, (str, int, bool)):
        return value
    raise TypeError(f"cannot store {type(value).__name__} in a JSON column")


def _refuse_secrets(node: Any, path: str = "") -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            dotted = f"{path}.{key}" if path else key
            if _SECRET_KEYS.match(key) and isinstance(value, str) and value and "*" not in value:
                raise StoreError(f"refusing to store an unmasked secret in the run's config snapshot ({dotted})")
            _refuse_secrets(value, dotted)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _refuse_secrets(value, f"{path}[{i}]")
    elif isinstance(node, str):
        match = _URL_PASSWORD.search(node)
        if match and match["pw"] and set(match["pw"]) != {"*"}:
            raise StoreError(f"refusing to store a URL with a password in the run's config snapshot ({path})")
