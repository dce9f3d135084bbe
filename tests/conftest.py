"""Shared test fixtures: a fresh database on SQLite and on PostgreSQL, and a populated one.

``db_url`` is parametrized over both databases, so every test using it (or ``engine`` /
``session_factory`` / ``populated``) runs twice. PostgreSQL comes from ``$ARB_TEST_POSTGRES_URL``; each
test gets its own schema (via ``search_path`` in the URL), dropped afterwards, so tests never see each
other's rows. Without that variable the PostgreSQL cases skip locally but FAIL under CI (``$CI`` set):
CI must prove the PostgreSQL suite ran.
"""

from __future__ import annotations

import logging
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from built_once import ENV as BUILT_ONCE_ENV
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from arb.store.db import make_engine, make_session_factory
from arb.store.migrate import upgrade_to_head

POSTGRES_ENV = "ARB_TEST_POSTGRES_URL"


def _postgres_url_or_skip() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    if os.environ.get("CI"):
        pytest.fail(f"${POSTGRES_ENV} is not set: CI must run the PostgreSQL tests", pytrace=False)
    pytest.skip(f"${POSTGRES_ENV} not set (set it, or run .ci/start-postgres)")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database of each kind; no schema yet (see ``engine`` for a migrated one)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'arb.db'}"
        return
    base = make_url(_postgres_url_or_skip())
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        options = f"-csearch_path={schema}"
        yield base.update_query_dict({"options": options}).render_as_string(hide_password=False)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a database migrated to head."""
    upgrade_to_head(db_url)
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture(scope="session", autouse=True)
def _built_once_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The session's folder of files built once (``tests/built_once.py``): beside the xdist workers' own
    temporary folders, so every worker of this session shares it and no other session does."""
    base = tmp_path_factory.getbasetemp()
    os.environ[BUILT_ONCE_ENV] = str((base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "built-once")
    yield
    os.environ.pop(BUILT_ONCE_ENV, None)


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """An in-process ``arb`` command installs its log handler on the root logger, bound to the stderr of
    that moment (pytest's capture, closed after the test): put the root logger back after every test, so
    a later test never logs into a closed stream ("--- Logging error ---")."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


# --- a small populated database ---------------------------------------------------------------------

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """``T0`` plus ``seconds``: every timestamp in the populated database is relative to it."""
    return T0 + timedelta(seconds=seconds)


@dataclass(frozen=True)
class Populated:
    """What :func:`populated` wrote; numbers tests check are spelled out in its docstring."""

    url: str
    factory: sessionmaker[Session]
    old_run_id: int
    run_id: int
    btc_opportunity_id: int
    eth_opportunity_id: int
    order_ids: dict[str, int]  # by client_order_id


@pytest.fixture
def populated(db_url: str, session_factory: sessionmaker[Session]) -> Populated:
    """Two runs; the latest (paper) has 2 executed and 6 rejected opportunities, 5 orders, 6 fills.

    - BTC/USDT: buy 0.5 on gate (fills 0.2 @ 100.00 + 0.3 @ 100.02, fee in BTC), sell 0.5 on okx
      (one fill @ 101.00, fee 0.0505 USDT). Expected profit 0.3995 USDT.
    - ETH/USDT: buy 2 on okx (fill @ 2000, fee 4 USDT), sell on gate canceled after 1.5 @ 2003, the 0.5
      left unwound on okx @ 1999 (purpose ``unwind``). Expected profit 1.9 USDT.
    - Settled (arb.accounting), marks BTC 99.9 and ETH 1997.001: BTC realized 50.5 - 50.006 - 0.0505 -
      0.0005 BTC * 99.9 = 0.39355; ETH realized 3004.5 + 999.5 - 4000 - 8.004 = -4.004 (no base left).
    - Rejected: below_min_profit x3, book_stale x2, balance_insufficient x1.
    - Balances at start and end of run for gate and okx (snapshot kinds ``start`` and ``end``).
    """
    from arb.store.models import Fill, Order, OrderEvent
    from arb.store.repo import BalanceSnapshot, end_run, record_balances, record_opportunities, start_run
    from arb.store.settlement import settle_pending

    with session_factory.begin() as s:
        old = start_run(s, mode="replay", config_snapshot={"mode": "replay"}, started_at=at(-86_400))
        rejected_old = _opportunity(old.id, at(-86_000), "BTC/USDT", "gate", "okx", "0.1", "100", "100.01",
                                    "-0.0190", "rejected", "unprofitable_after_fees")
        record_opportunities(s, [rejected_old])
        end_run(s, old.id, ended_at=at(-85_000), summary={"detected": 1, "executed": 0})

        run = start_run(s, mode="paper", config_snapshot={"mode": "paper", "venues": ["gate", "okx"]},
                        started_at=at(0))
        btc_id, eth_id = record_opportunities(s, [
            _opportunity(run.id, at(10), "BTC/USDT", "gate", "okx", "0.5", "100.012", "101.00", "0.3995",
                         "executed", None) | {"mark_price": Decimal("99.9")},
            _opportunity(run.id, at(20), "ETH/USDT", "okx", "gate", "2", "2000", "2003", "1.9", "executed",
                         None) | {"mark_price": Decimal("1997.001")},
        ])
        reasons = ["below_min_profit"] * 3 + ["book_stale"] * 2 + ["balance_insufficient"]
        record_opportunities(s, [
            _opportunity(run.id, at(30 + i), "BTC/USDT", "okx", "gate", "0.01", "101", "101.02", "0.0001",
                         "rejected", reason)
            for i, reason in enumerate(reasons)
        ])

        def order(opp: int, venue: str, symbol: str, side: str, coid: str, price: str, amount: str,
                  filled: str, status: str, t: float, purpose: str = "entry") -> Order:
            o = Order(opportunity_id=opp, run_id=run.id, venue=venue, symbol=symbol, side=side, type="limit",
                      time_in_force="IOC", purpose=purpose, client_order_id=coid, venue_order_id=f"v-{coid}",
                      price=Decimal(price), amount=Decimal(amount), filled=Decimal(filled), status=status,
                      created_at=at(t), updated_at=at(t + 1), sent_at=at(t + 0.01), acked_at=at(t + 0.05))
            s.add(o)
            return o

        btc_buy = order(btc_id, "gate", "BTC/USDT", "buy", "t-1-btc-b", "100.05", "0.5", "0.5", "filled", 10)
        btc_sell = order(btc_id, "okx", "BTC/USDT", "sell", "t-1-btc-s", "100.95", "0.5", "0.5", "filled", 10)
        eth_buy = order(eth_id, "okx", "ETH/USDT", "buy", "t-2-eth-b", "2001", "2", "2", "filled", 20)
        eth_sell = order(eth_id, "gate", "ETH/USDT", "sell", "t-2-eth-s", "2002", "2", "1.5", "canceled", 20)
        eth_unwind = order(eth_id, "okx", "ETH/USDT", "sell", "t-2-eth-u", "1998", "0.5", "0.5", "filled", 22,
                           purpose="unwind")
        s.flush()

        def events(o: Order, t: float, *path: str) -> None:
            previous = None
            for i, status in enumerate(path):
                s.add(OrderEvent(order_id=o.id, ts=at(t + i * 0.1), from_status=previous, to_status=status,
                                 venue_status=None if status == "created" else status))
                previous = status

        events(btc_buy, 10, "created", "submitted", "open", "partially_filled", "filled")
        events(btc_sell, 10, "created", "submitted", "filled")
        events(eth_buy, 20, "created", "submitted", "filled")
        events(eth_sell, 20, "created", "submitted", "partially_filled", "canceled")
        events(eth_unwind, 22, "created", "submitted", "filled")

        def fill(o: Order, trade_id: str, price: str, amount: str, fee: str, fee_ccy: str, t: float) -> None:
            s.add(Fill(order_id=o.id, venue=o.venue, trade_id=trade_id, price=Decimal(price),
                       amount=Decimal(amount), fee=Decimal(fee), fee_currency=fee_ccy, ts=at(t), received_at=at(t)))

        fill(btc_buy, "g-1", "100.00", "0.2", "0.0002", "BTC", 10.2)
        fill(btc_buy, "g-2", "100.02", "0.3", "0.0003", "BTC", 10.3)
        fill(btc_sell, "o-1", "101.00", "0.5", "0.0505", "USDT", 10.2)
        fill(eth_buy, "o-2", "2000", "2", "4", "USDT", 20.2)
        fill(eth_sell, "g-3", "2003", "1.5", "3.0045", "USDT", 20.2)
        fill(eth_unwind, "o-3", "1999", "0.5", "0.9995", "USDT", 22.2)

        start = [BalanceSnapshot("gate", "BTC", Decimal(0), Decimal(0), Decimal(0)),
                 BalanceSnapshot("gate", "ETH", Decimal(2), Decimal(0), Decimal(2)),
                 BalanceSnapshot("gate", "USDT", Decimal(1000), Decimal(0), Decimal(1000)),
                 BalanceSnapshot("okx", "BTC", Decimal(1), Decimal(0), Decimal(1)),
                 BalanceSnapshot("okx", "ETH", Decimal(0), Decimal(0), Decimal(0)),
                 BalanceSnapshot("okx", "USDT", Decimal(5000), Decimal(0), Decimal(5000))]
        record_balances(s, run.id, at(0), start, kind="start")
        end = [BalanceSnapshot("gate", "BTC", Decimal("0.4995"), Decimal(0), Decimal("0.4995")),
               BalanceSnapshot("gate", "ETH", Decimal("0.5"), Decimal(0), Decimal("0.5")),
               BalanceSnapshot("gate", "USDT", Decimal("3951.4895"), Decimal(0), Decimal("3951.4895")),
               BalanceSnapshot("okx", "BTC", Decimal("0.5"), Decimal(0), Decimal("0.5")),
               BalanceSnapshot("okx", "ETH", Decimal("1.5"), Decimal(0), Decimal("1.5")),
               BalanceSnapshot("okx", "USDT", Decimal("2044.95"), Decimal(0), Decimal("2044.95"))]
        record_balances(s, run.id, at(60), end, kind="end")
        s.flush()
        assert settle_pending(s, at(60)) == [btc_id, eth_id]
        end_run(s, run.id, ended_at=at(60), summary={"detected": 8, "executed": 2})
        order_ids = {o.client_order_id: o.id for o in (btc_buy, btc_sell, eth_buy, eth_sell, eth_unwind)}
        return Populated(db_url, session_factory, old.id, run.id, btc_id, eth_id, order_ids)


def _opportunity(run_id: int, detected_at: datetime, symbol: str, buy: str, sell: str, size: str, buy_price: str,
                 sell_price: str, profit: str, decision: str, reason: str | None) -> dict[str, Any]:
    return {
        "run_id": run_id, "detected_at": detected_at, "symbol": symbol, "buy_venue": buy, "sell_venue": sell,
        "size": Decimal(size), "buy_price": Decimal(buy_price), "sell_price": Decimal(sell_price),
        "expected_profit": Decimal(profit), "decision": decision, "reason": reason,
        "buy_fee_rate": Decimal("0.001"), "sell_fee_rate": Decimal("0.001"), "buy_book_age_ms": 40,
        "sell_book_age_ms": 55, "buy_book_seq": 1000, "sell_book_seq": 2000,
    }


ROOT = Path(__file__).resolve().parents[1]
ARB = ROOT / "arb"


def stale_extensions(root: Path = ARB) -> list[str]:
    """The Cython-built modules under ``root`` older than their ``.py`` or ``.pxd`` (``.ci/stale-build``'s rule,
    which run.sh and test.sh rebuild by): an extension shadows its source, so an edit there would not run."""
    found = subprocess.run(["bash", str(ROOT / ".ci" / "stale-build"), str(root)], capture_output=True, text=True)
    if found.returncode not in (0, 1):
        raise RuntimeError(f".ci/stale-build {root}: exit {found.returncode}: {found.stderr.strip()}")
    return found.stdout.split()


def pytest_sessionstart(session: pytest.Session) -> None:
    """No test runs an old build of a compiled module: it would test the code as it was, not as edited."""
    if stale := stale_extensions():
        pytest.exit(f"edited since the build, their extension modules shadow the edit: {', '.join(stale)}; "
                    "rebuild with `.venv/bin/python -m pip install -e . --no-deps`", returncode=2)


def pytest_report_header(config: pytest.Config) -> str:
    url = os.environ.get(POSTGRES_ENV)
    return f"PostgreSQL for store tests: {url}" if url else f"PostgreSQL for store tests: none (${POSTGRES_ENV} unset)"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say in CI's output how many tests ran against the real PostgreSQL server, and that none skipped."""
    stats = terminalreporter.stats
    ran = sum(1 for r in stats.get("passed", []) if "postgresql" in r.nodeid)
    skipped = sum(1 for r in stats.get("skipped", []) if "postgresql" in getattr(r, "nodeid", ""))
    terminalreporter.write_line(f"PostgreSQL store tests: {ran} passed, {skipped} skipped")
