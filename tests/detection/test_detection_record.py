"""Decisions persist as ``opportunities`` rows exactly (real SQLite, real models)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from detection_books import SYMBOL, book
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from arb.detection import DetectionParams, Opportunity, Rejection, detect
from arb.detection.record import opportunity_columns
from arb.store import models

PARAMS = DetectionParams(max_size=D(10))
NOW = datetime(2021, 8, 20, 0, 49, 7, tzinfo=UTC)


def _store(*decisions: Opportunity | Rejection) -> list[models.Opportunity]:
    engine = create_engine("sqlite://")
    models.Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        run = models.Run(started_at=NOW, mode="replay", config_snapshot={})
        session.add(run)
        session.flush()
        for d in decisions:
            session.add(models.Opportunity(run_id=run.id, detected_at=NOW, **opportunity_columns(d)))
    with Session(engine) as session:
        return list(session.scalars(select(models.Opportunity).order_by(models.Opportunity.id)))


def test_an_opportunity_and_rejections_round_trip_exactly():
    opp = detect(
        SYMBOL, [book("a", [(99.0, 1.0)], [(100.0, 1.0)]), book("b", [(101.0, 1.0)], [(102.0, 1.0)])], PARAMS
    )
    unsized = detect(
        SYMBOL, [book("a", [(99.0, 1.0)], [(100.0, 1.0)]), book("b", [(100.1, 1.0)], [(102.0, 1.0)])], PARAMS
    )
    stale = detect(
        SYMBOL,
        [book("a", [(99.0, 1.0)], [(100.0, 1.0)]), book("b", [(101.0, 1.0)], [(102.0, 1.0)], age_ms=5000)],
        PARAMS,
    )
    assert isinstance(opp, Opportunity) and isinstance(unsized, Rejection) and isinstance(stale, Rejection)
    row, unsized_row, stale_row = _store(opp, unsized, stale)

    assert (row.decision, row.reason) == ("executed", None)
    assert (row.size, row.buy_price, row.sell_price) == (D("1.000"), D(100), D(101))
    assert (row.buy_limit, row.sell_limit, row.expected_profit) == (D("100.00"), D("101.00"), D("0.799"))
    assert (row.buy_book_seq, row.sell_book_age_ms, row.buy_fee_rate) == (7, 10, D("0.001"))
    assert row.detail is not None and row.detail["buy_cost"] == "100.100000000000"

    assert (unsized_row.decision, unsized_row.reason) == ("rejected", "unprofitable_after_fees")
    assert (unsized_row.size, unsized_row.expected_profit) == (0, 0)
    assert (unsized_row.buy_price, unsized_row.sell_price) == (D(100), D("100.1"))

    assert (stale_row.reason, stale_row.sell_book_age_ms) == ("book_stale", 5000)
    assert stale_row.expected_profit == D("0.799")  # what the stale cross would have paid


def test_a_later_stage_can_turn_an_opportunity_down():
    opp = detect(
        SYMBOL, [book("a", [(99.0, 1.0)], [(100.0, 1.0)]), book("b", [(101.0, 1.0)], [(102.0, 1.0)])], PARAMS
    )
    assert isinstance(opp, Opportunity)
    cols = opportunity_columns(opp, reject_reason="risk_max_exposure")
    assert (cols["decision"], cols["reason"]) == ("rejected", "risk_max_exposure")


def test_a_rejection_s_values_are_its_fields_in_the_columns_order():
    """``rejection_values`` writes the columns out by position: each book column is the field of its name,
    and the detail holds the exact strings of what was seen (the amount only when there was one)."""
    from arb.detection.record import REJECTION_COLUMNS, rejection_columns, rejection_values
    from arb.domain.opportunity import BOOK_COLUMNS

    books = [book("a", [(99.0, 1.0)], [(100.0, 1.0)]), book("b", [(101.0, 1.0)], [(102.0, 1.0)], age_ms=5000)]
    stale = detect(SYMBOL, books, PARAMS)
    unsized = detect(SYMBOL, [books[0], book("b", [(100.1, 1.0)], [(102.0, 1.0)])], PARAMS)
    assert isinstance(stale, Rejection) and isinstance(unsized, Rejection)
    assert stale.buy_amount is not None and unsized.buy_amount is None
    for r in (stale, unsized):
        columns = rejection_columns(r)
        assert columns == dict(zip(REJECTION_COLUMNS, rejection_values(r), strict=True))
        assert {name: columns[name] for name in BOOK_COLUMNS} == {name: getattr(r, name) for name in BOOK_COLUMNS}
        amount = {} if r.buy_amount is None else {"buy_amount": str(r.buy_amount)}
        assert columns["detail"] == {**amount, "best_ask": str(r.best_ask), "best_bid": str(r.best_bid),
                                     "gross_edge_bps": str(r.gross_edge_bps), "sized": r.size is not None}
    assert list(rejection_columns(stale)["detail"])[0] == "buy_amount"  # its place in the stored text
