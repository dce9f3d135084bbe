"""Every example query in README's "Reviewing trade history in SQL" runs, on SQLite and PostgreSQL.

The queries are read from README.md itself, so a query edited in the README is the query tested. Each must return rows from the
populated database; a few results are checked against numbers worked out by hand in ``populated``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import text

if TYPE_CHECKING:
    from conftest import Populated

ROOT = Path(__file__).resolve().parents[2]
HEADING = "Reviewing trade history in SQL"
SOURCES = ("README.md",)
MIN_QUERIES = 5


def section_queries(markdown: str) -> list[str]:
    """The ```sql blocks between the heading and the next heading of the same or a higher level."""
    match = re.search(rf"^(#+) {re.escape(HEADING)}\s*$", markdown, re.M)
    if match is None:
        return []
    level = len(match[1])
    rest = markdown[match.end():]
    following = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    body = rest[: following.start()] if following else rest
    return [q.strip() for q in re.findall(r"^```sql\s*\n(.*?)^```", body, re.M | re.S)]


def _by_source() -> dict[str, list[str]]:
    return {s: section_queries((ROOT / s).read_text(encoding="utf-8")) for s in SOURCES}


BY_SOURCE = _by_source()


@pytest.mark.parametrize(("source", "queries"), [pytest.param(s, q, id=s) for s, q in BY_SOURCE.items()])
def test_section_has_example_queries(source: str, queries: list[str]) -> None:
    assert len(queries) >= MIN_QUERIES, f"{source}: section '{HEADING}' has {len(queries)} ```sql blocks"


@pytest.mark.parametrize(
    "query", [pytest.param(q, id=f"{s}-{i + 1}") for s, qs in BY_SOURCE.items() for i, q in enumerate(qs)]
)
def test_query_returns_rows(populated: Populated, query: str) -> None:
    with populated.factory() as s:
        rows = s.execute(text(query)).all()
    assert rows, f"no rows from:\n{query}"


def _run(populated: Populated, needle: str) -> list[list[Any]]:
    """Results of the query containing ``needle``, from each document that has it (the draft always)."""
    results = []
    for source, queries in BY_SOURCE.items():
        matching = [q for q in queries if needle in q]
        assert len(matching) <= 1, (source, needle)
        if matching:
            with populated.factory() as s:
                results.append(list(s.execute(text(matching[0])).all()))
    assert results, needle
    return results


def _close(value: Any, expected: str) -> bool:
    # PostgreSQL returns exact NUMERIC; SQLite's SQL arithmetic on decimal text goes through float.
    return abs(Decimal(str(value)) - Decimal(expected)) < Decimal("1e-9")


def test_pnl_query_numbers(populated: Populated) -> None:
    """The README's PnL query reads the stored settlement: the same numbers as ``arb report``."""
    from arb.store.views import opportunity_pnl

    for result in _run(populated, "SUM(realized_pnl) AS realized"):
        rows = {r.symbol: r for r in result}
        assert set(rows) == {"BTC/USDT", "ETH/USDT"}
        assert _close(rows["BTC/USDT"].realized, "0.39355") and _close(rows["ETH/USDT"].realized, "-4.004")
        assert (rows["BTC/USDT"].executed, rows["BTC/USDT"].unsettled) == (1, 0)
        with populated.factory() as s:
            report = {r.symbol: r for r in opportunity_pnl(s, populated.run_id)}
        for symbol, row in rows.items():
            want = report[symbol]
            for column, value in (("expected", want.expected_pnl), ("realized", want.realized_pnl),
                                  ("slippage", want.pnl_slippage), ("fees", want.pnl_fees),
                                  ("unfilled", want.pnl_unfilled), ("imbalance", want.pnl_imbalance)):
                assert _close(getattr(row, column), str(value)), (symbol, column)


def test_funnel_query_numbers(populated: Populated) -> None:
    for result in _run(populated, "GROUP BY decision, reason"):
        assert [tuple(r) for r in result] == [
            ("rejected", "below_min_profit", 3),
            ("executed", None, 2),
            ("rejected", "book_stale", 2),
            ("rejected", "balance_insufficient", 1),
        ]


def test_fills_per_order_query_agrees_with_orders(populated: Populated) -> None:
    for rows in _run(populated, "filled_by_fills"):
        assert [r.fills for r in rows] == [2, 1, 1, 1, 1]
        assert all(_close(r.filled_by_fills, str(r.filled)) for r in rows)


def test_slippage_query_numbers(populated: Populated) -> None:
    for rows in _run(populated, "slippage_quote"):
        assert len(rows) == 5
        assert rows[0].client_order_id == "t-2-eth-u" and _close(rows[0].slippage_quote, "2")


def test_section_queries_reads_only_that_section() -> None:
    doc = "\n".join([
        "# arb", "```sql", "SELECT 0;", "```",
        "## Reviewing trade history in SQL", "text", "```sql", "SELECT 1;", "```", "```bash", "ls", "```",
        "### A subsection", "```sql", "SELECT 2\nFROM runs;", "```",
        "## Data", "```sql", "SELECT 3;", "```",
    ])
    assert section_queries(doc) == ["SELECT 1;", "SELECT 2\nFROM runs;"]
    assert section_queries("# nothing here") == []
