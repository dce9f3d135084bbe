"""The replay progress bar: the capture is counted up front and the status view reports progress."""

from __future__ import annotations

import io
from pathlib import Path

from arb.marketdata.timeline import count_lines
from arb.runtime.status import StatusReporter

from .helpers import BUNDLED, trimmed_capture


def test_count_lines_counts_events_of_a_gzip_capture(tmp_path: Path) -> None:
    assert count_lines(BUNDLED) == 14_400
    assert count_lines(trimmed_capture(tmp_path, "00:00:00", "00:00:10")) == 20  # 10 s x 2 venues


def test_progress_shows_in_plain_lines_and_in_the_rich_view() -> None:
    class FakeEngine:  # just what the reporter reads
        from arb.runtime.funnel import Funnel

        funnel = Funnel()
        books: list[object] = []
        maker = None  # no maker symbol
        testnet = ()

        class clock:  # noqa: N801
            @staticmethod
            def now_ms() -> int:
                return 0

            watched_ms = now_ms  # what the status view shows as now

    reporter = StatusReporter("plain", stream=io.StringIO())
    reporter._engine, reporter._run_id = FakeEngine(), 7  # type: ignore[assignment]
    reporter.total_events, reporter.done_events = 400, 100
    assert reporter.line().endswith(" progress 25%")

    from rich.console import Console

    out = io.StringIO()
    Console(file=out, width=100, force_terminal=False).print(reporter._renderable())
    assert "capture 100/400 events (25%)" in out.getvalue()



def test_the_status_line_says_market_time_elapsed_and_why_decisions_were_rejected() -> None:
    from arb.runtime.funnel import Funnel

    funnel = Funnel()
    funnel.rejected.update({"unprofitable_after_fees": 1335, "below_min_edge": 2, "below_min_amount": 1,
                            "book_stale": 1})

    class View:
        books: list[object] = []
        maker = None
        incidents = None
        testnet = ()

        def __init__(self) -> None:
            self.funnel = funnel

        class clock:  # noqa: N801
            @staticmethod
            def now_ms() -> int:
                return 1_629_420_160_000  # 2021-08-20 00:42:40 UTC, the capture's market time

            watched_ms = now_ms  # what the status view shows as now

    reporter = StatusReporter("plain", stream=io.StringIO())
    reporter._engine, reporter._run_id = View(), 3  # type: ignore[assignment]
    line = reporter.line()
    assert line.startswith("run 3 market 2021-08-20 00:42:40Z elapsed 0:00:00 "), line
    assert ("rejected 1339 (unprofitable_after_fees 1335, below_min_edge 2, below_min_amount 1, +1 more)"
            in line), line


def test_a_replay_reading_trades_ends_its_progress_at_the_book_events_it_counted(tmp_path: Path) -> None:
    """A paper venue reads the capture's trades too (the queue rule), which the bar's total does not count:
    the bar counts book lines, so it ends at 100%, not past it (it showed 8363/3784 events, 221%)."""
    from arb.config import load_config
    from arb.engine import Engine
    from arb.marketdata.timeline import count_events

    from .maker_capture import binance_maker_capture, first_seconds, maker_config

    capture = first_seconds(binance_maker_capture(tmp_path), 20)
    path = maker_config(tmp_path, capture)
    path.write_text(path.read_text().replace('status = "off"', 'status = "plain"\nstatus_interval_s = 3600'))
    engine = Engine(load_config(path), db_url=f"sqlite:///{tmp_path / 'p.db'}", install_signal_handlers=False,
                    status=StatusReporter("plain", interval_s=3600, stream=io.StringIO()))
    import asyncio

    asyncio.run(engine.run())
    total = count_events(capture)
    assert engine.status.total_events == total > 0
    assert engine.status.done_events == total
