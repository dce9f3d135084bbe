"""The books of the capture a run read, as a notebook draws them: the top of book per venue over market
time, each venue's mid at given instants, and the cross between two venues.

Venues are named as in the run's config (``gate``, ``htx``): the capture's own names (``binance``,
``huobi``, the ``capture_venue`` of each) are translated when its books are read. Books are rebuilt from
the capture's start and the events of one instant are applied together, as a replay does.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from arb.config.files import resolve_capture
from arb.marketdata.capture import read_capture
from arb.positions import mid
from arb.store.models import Run


def venue_names(run: Run) -> dict[str, str]:
    """Capture venue -> the config's venue name (a venue with no ``capture_venue`` is its own name)."""
    venues = run.config_snapshot.get("venues") or {}
    return {(section.get("capture_venue") or name): name for name, section in venues.items()}


def read_a_capture(run: Run) -> bool:
    """Whether the run's books came from a capture: a replay, or paper mode with venues fed from one
    (``capture_venue``); live books otherwise."""
    venues = (run.config_snapshot.get("venues") or {}).values()
    return run.mode == "replay" or (run.mode == "paper" and any(v.get("capture_venue") for v in venues))


def capture_of(run: Run, root: Path) -> Path | None:
    """The capture the run read (a relative path is taken from ``root``, where ``arb run`` ran); None when
    it read live books or its config names none."""
    capture = (run.config_snapshot.get("replay") or {}).get("capture")
    if not capture or not read_a_capture(run):
        return None
    return resolve_capture(str(capture), root / "config.toml")


def capture_path(run: Run, root: Path, override: str | None) -> Path | None:
    """The capture a notebook reads the run's books from: ``override`` (its ``CAPTURE`` parameter), else
    the one the run read (:func:`capture_of`)."""
    return Path(override) if override else capture_of(run, root)


def capture_books(run: Run, root: Path, override: str | None, symbol: str,
                  span: tuple[datetime | None, datetime | None]) -> tuple[pd.DataFrame, str]:
    """The top of book over ``span`` from the run's capture (or ``override``), and a note when there is
    none to draw (a live run, a missing file, no books in the window): the spread figure says it."""
    path = capture_path(run, root, override)
    if path is None and not read_a_capture(run):
        return pd.DataFrame(), "the run read live books: no capture to draw the cross from"
    if path is None:
        return pd.DataFrame(), "the run's config names no capture: set CAPTURE to draw the cross"
    if not path.is_file():
        return pd.DataFrame(), f"capture {path} not found: set CAPTURE"
    start, end = span
    if start is None or end is None:
        return pd.DataFrame(), "the run has no market time span"
    margin = timedelta(seconds=30) if start == end else timedelta(0)
    tob = top_of_book(path, symbol, venue_names(run), epoch_ms(start - margin), epoch_ms(end + margin))
    return tob, "" if not tob.empty else f"{path.name} has no {symbol} books in the run's time span"


def top_of_book(path: Path, symbol: str, names: dict[str, str], start_ms: int, end_ms: int) -> pd.DataFrame:
    """Best bid and ask per config venue after every capture instant in [start_ms, end_ms] (books are
    rebuilt from the capture's start; events of one instant are applied together, as a replay does).
    Columns ``(bid|ask, venue)``, index market time; venues the config does not trade are left out."""
    rows: list[dict[Any, float | int]] = []
    for ts, books in _book_states(path, symbol, names, end_ms):
        if ts >= start_ms:
            row: dict[Any, float | int] = {(side, venue): float(price) for venue, (bid, ask) in books.items()
                                           for side, price in (("bid", bid), ("ask", ask))}
            row["ts"] = ts
            rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame.index = pd.to_datetime(frame.pop("ts"), unit="ms", utc=True)
    frame.columns = pd.MultiIndex.from_tuples(frame.columns)  # type: ignore[arg-type]  # (side, venue) keys; pandas-stubs: Index[str]
    return frame


def _book_states(path: Path, symbol: str, names: dict[str, str], end_ms: int
                 ) -> Iterator[tuple[int, dict[str, tuple[Decimal, Decimal]]]]:
    levels: dict[str, tuple[dict[Decimal, str], dict[Decimal, str]]] = {}
    pending: int | None = None
    for event in read_capture(path):
        if pending is not None and event.ts != pending:
            yield pending, _tops(levels)
            pending = None
        if event.ts > end_ms:
            break
        venue = names.get(event.venue)
        if event.symbol != symbol or venue is None:
            continue
        bids, asks = levels.setdefault(venue, ({}, {}))
        if event.type in ("snapshot", "reset", "gap"):
            bids.clear()
            asks.clear()
        for side, changes in ((bids, event.bids), (asks, event.asks)):
            for price, size in changes:
                if Decimal(size) == 0:
                    side.pop(Decimal(price), None)
                else:
                    side[Decimal(price)] = size
        pending = event.ts
    if pending is not None:
        yield pending, _tops(levels)


def _tops(levels: dict[str, tuple[dict[Decimal, str], dict[Decimal, str]]]) -> dict[str, tuple[Decimal, Decimal]]:
    return {venue: (max(bids), min(asks)) for venue, (bids, asks) in levels.items() if bids and asks}


def capture_mids(path: Path, symbol: str, names: dict[str, str], instants_ms: list[int]
                 ) -> dict[int, dict[str, Decimal | None]]:
    """Each config venue's mid (:func:`arb.positions.mid`, exact) as the capture's books stood at each
    instant: after every event at or before it. A venue whose book is not known yet has no entry."""
    wanted = sorted(set(instants_ms))
    out: dict[int, dict[str, Decimal | None]] = {}
    if not wanted:
        return out
    last: dict[str, Decimal | None] = {}
    i = 0
    for ts, tops in _book_states(path, symbol, names, wanted[-1]):
        while i < len(wanted) and wanted[i] < ts:
            out[wanted[i]] = last
            i += 1
        last = {venue: mid(bid, ask) for venue, (bid, ask) in tops.items()}
    for instant in wanted[i:]:
        out[instant] = last
    return out


def top_of_book_cross(tob: pd.DataFrame, buy: str, sell: str) -> pd.Series:
    """(best bid on ``sell`` - best ask on ``buy``) in bps of that ask, where both books are known."""
    if tob.empty or ("ask", buy) not in tob or ("bid", sell) not in tob:
        return pd.Series(dtype=float)
    ask, bid = tob[("ask", buy)].ffill(), tob[("bid", sell)].ffill()
    return ((bid - ask) / ask * 10_000).dropna()


def epoch_ms(at: datetime) -> int:
    return int(pd.Timestamp(at).timestamp() * 1000)
