"""A sweep point's transfers reach the sweep's database: ``store/merge.py`` copies a run's ``transfers`` with
the run's new id, every row as stored, so a sweep over ``[rebalance]`` reads each point's transfers and fees."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from arb.config import load_config
from arb.engine import Engine
from arb.runtime.status import StatusReporter
from arb.store import migrate
from arb.store.db import make_engine
from arb.store.merge import merge_run
from arb.store.transfers import transfer_fees

from .helpers import small_config, trimmed_capture

REBALANCE = """
[rebalance]
transfers = "auto"
assets.USDT = { targets = { gate = "0.5", htx = "0.5" }, band = "0.1", delay_s = 5, fee = "0.5" }
assets.LINK = { targets = { gate = "0.5", htx = "0.5" }, band = "0.1", delay_s = 5, fee = "0.05" }
"""
COLUMNS = ("asset, amount, source, dest, network, fee, minimum, fee_value, value_currency, status, reason, "
           "planned_at, expected_at, sent_at, arrived_at")


def _transfers(url: str, run_id: int) -> list[tuple[object, ...]]:
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            return [tuple(r) for r in c.execute(text(f"SELECT {COLUMNS} FROM transfers WHERE run_id = :r ORDER BY id"),
                                                {"r": run_id})]
    finally:
        engine.dispose()


def test_a_run_s_transfers_are_merged_with_it(tmp_path: Path) -> None:
    capture = trimmed_capture(tmp_path, "00:00", "00:10")
    path, _ = small_config(tmp_path, capture)
    path.write_text(path.read_text().replace('balances = { USDT = "5000", LINK = "200" }',
                                             'balances = { USDT = "1000", LINK = "60" }') + REBALANCE)
    source = f"sqlite:///{tmp_path / 'point.db'}"
    result = Engine(load_config(path), db_url=source, capture=capture, force_paper=True, mode="replay",
                    install_signal_handlers=False, status=StatusReporter("off")).main()
    before = _transfers(source, result.run_id)
    assert len(before) >= 2, before  # it rebalanced

    target = f"sqlite:///{tmp_path / 'sweep.db'}"
    migrate.upgrade_to_head(target)
    src, dst = make_engine(source), make_engine(target)
    try:
        with Session(src) as s, Session(dst) as d, d.begin():
            new_id = merge_run(s, d, result.run_id)
        with Session(src) as s, Session(dst) as d:
            assert transfer_fees(d, new_id) == transfer_fees(s, result.run_id)
    finally:
        src.dispose()
        dst.dispose()
    assert _transfers(target, new_id) == before
