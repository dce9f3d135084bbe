"""arb/store/merge.py: runs copied between databases under new ids, every foreign key remapped, once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from arb.engine import Engine
from arb.runtime.status import StatusReporter
from arb.store import migrate
from arb.store.db import make_engine
from arb.store.merge import AlreadyMerged, merge_run
from arb.store.models import Balance, Fill, FillConflict, Opportunity, Order, OrderEvent, Run

from .helpers import rows_of, small_config, trimmed_capture


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, int]]:
    """Two real replays, each in an SQLite file of its own (different windows: different rows). Ten minutes
    each: ~60 pairs with their orders, events, fills and balance snapshots; an hour only made more rows."""
    tmp = tmp_path_factory.mktemp("sources")
    out = []
    for i, (start, end) in enumerate((("00:00", "00:10"), ("00:10", "00:20"))):
        capture = trimmed_capture(tmp, start, end, name=f"w{i}.jsonl.gz")
        _, config = small_config(tmp, capture)
        url = f"sqlite:///{tmp / f'source{i}.db'}"
        result = Engine(config, db_url=url, capture=capture, force_paper=True, mode="replay",
                        install_signal_handlers=False, status=StatusReporter("off")).main()
        out.append((url, result.run_id))
    return out


def _merge(source_url: str, run_id: int, target_url: str, **link: object) -> int:
    source, target = make_engine(source_url), make_engine(target_url)
    try:
        with Session(source) as src, Session(target) as dst, dst.begin():
            return merge_run(src, dst, run_id, **link)  # type: ignore[arg-type]
    finally:
        source.dispose()
        target.dispose()


def test_two_sources_merge_with_new_ids_and_consistent_keys(sources: list[tuple[str, int]], db_url: str,
                                                            tmp_path: Path) -> None:
    migrate.upgrade_to_head(db_url)
    # Something already in the target, so new ids cannot equal the old ones by accident.
    engine = make_engine(db_url)
    with Session(engine) as s, s.begin():
        s.add(Run(started_at=datetime.now(UTC), mode="replay", status="completed", config_snapshot={}))
    engine.dispose()
    merged = [_merge(url, run_id, db_url) for url, run_id in sources]
    assert len(set(merged)) == 2 and 1 not in merged
    for i, ((url, run_id), new_id) in enumerate(zip(sources, merged, strict=True)):
        before = rows_of(url, run_id)
        if db_url.startswith("sqlite"):
            after = rows_of(db_url, new_id)
        else:  # raw rows read differently per dialect: merge back into SQLite (both directions tested)
            back = f"sqlite:///{tmp_path / f'back{i}.db'}"
            migrate.upgrade_to_head(back)
            after = rows_of(back, _merge(db_url, new_id, back))
        assert len(before["orders"]) >= 2 and len(before["fills"]) >= 2, before  # it traded
        assert before == after
    engine = make_engine(db_url)
    try:
        with Session(engine) as s:
            for new_id in merged:
                # every child points into its own run: orders at its opportunities, events and fills at its orders
                assert s.scalar(select(func.count()).select_from(Order).join(
                    Opportunity, Order.opportunity_id == Opportunity.id).where(
                    Order.run_id == new_id, Opportunity.run_id != new_id)) == 0
                for child in (OrderEvent, Fill):
                    assert s.scalar(select(func.count()).select_from(child).join(
                        Order, child.order_id == Order.id).where(Order.run_id == new_id)) > 0
                assert s.scalar(select(func.count()).select_from(Balance).where(Balance.run_id == new_id)) > 0
                assert s.scalar(select(func.count()).select_from(Balance).join(
                    Opportunity, Balance.opportunity_id == Opportunity.id).where(
                    Balance.run_id == new_id, Opportunity.run_id != new_id)) == 0
                assert s.scalar(select(func.count()).select_from(FillConflict).join(
                    Order, FillConflict.order_id == Order.id).where(FillConflict.run_id != Order.run_id)) == 0
                run = s.get_one(Run, new_id)
                assert run.status == "completed" and run.summary is not None
            if engine.dialect.name == "sqlite":
                assert s.execute(text("PRAGMA foreign_key_check")).all() == []
    finally:
        engine.dispose()


def test_merging_a_run_twice_is_refused_and_adds_nothing(sources: list[tuple[str, int]], tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'target.db'}"
    migrate.upgrade_to_head(target)
    first = _merge(*sources[0], target)
    with pytest.raises(AlreadyMerged, match=f"already in the target database as run {first}"):
        _merge(*sources[0], target)
    engine = make_engine(target)
    try:
        with Session(engine) as s:
            assert s.scalar(select(func.count()).select_from(Run)) == 1
            assert s.scalar(select(func.count()).select_from(Order)) == len(rows_of(sources[0][0], sources[0][1])["orders"])
    finally:
        engine.dispose()


def test_a_run_is_linked_to_its_sweep(sources: list[tuple[str, int]], tmp_path: Path) -> None:
    from arb.store.models import Sweep

    target = f"sqlite:///{tmp_path / 'target.db'}"
    migrate.upgrade_to_head(target)
    engine = make_engine(target)
    try:
        with Session(engine) as s, s.begin():
            sweep = Sweep(started_at=datetime.now(UTC), status="running", grid={"fee": ["0"]})
            s.add(sweep)
            s.flush()
            sweep_id = sweep.id
        new_id = _merge(*sources[0], target, sweep_id=sweep_id, grid_point={"fee": "0"})
        with Session(engine) as s:
            run = s.get_one(Run, new_id)
            assert (run.sweep_id, run.grid_point) == (sweep_id, {"fee": "0"})
    finally:
        engine.dispose()
