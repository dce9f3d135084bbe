"""The plumbing's metrics (``Engine.counters``): every ``arb_feed_*``, ``arb_fill_stream_*``,
``arb_requests_held_total`` and ``arb_decisions_written_total`` sample is its one counter's figure.

A rehearsal (mode ``live`` against the in-process Gate sandbox: Gate's book over the sandbox's WebSocket
through arb's own feed) whose WebSocket the sandbox closes once: the feed reconnects and resyncs, and the
scraped metrics at the end are the feed's counters. The fill stream and the throttle are read at unit
level: a Gate private stream given a trade pushed twice and a frame it cannot read, and a throttled venue
whose bucket held a request, behind the same ``Engine.counters`` and ``RunMetrics`` a run uses."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import orjson
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from arb.engine import Engine
from arb.eventloop.clock import WallClock
from arb.marketdata.book import Health
from arb.monitoring.metrics import RunMetrics
from arb.runtime.feeds import FeedSet
from arb.runtime.funnel import Funnel
from arb.runtime.venues import VenueSet
from arb.runtime.view import RunView
from arb.venues.gate.private_stream import GatePrivateStream
from arb.venues.throttle import PLACE
from tests.engine.paper_rig import SpyEngine, rehearsal_config, until
from tests.execution.fakes import FakeTime
from tests.venues.gate.test_gate_usertrades import PUSH
from tests.venues.test_guard import guarded

from .scrape import by_label, running, scrape


async def test_a_rehearsals_feed_metrics_are_its_feeds_counters_after_a_reconnect(tmp_path: Path) -> None:
    config = rehearsal_config(tmp_path, "00:00", "05:00", speed=20,
                              extra={"[monitoring]": "[monitoring]\nmetrics_port = 0"})
    engine = SpyEngine(config, db_url=f"sqlite:///{tmp_path / 'counters.db'}", install_signal_handlers=False)
    async with running(engine) as run:
        await until(lambda: engine.feeds is not None and engine.health("gate") is Health.LIVE, "gate live", 60,
                    run=run)
        assert engine.feeds is not None
        feed = engine.feeds.feeds["gate"]
        snapshots = feed.snapshots_fetched
        await engine.sandbox("gate").close_websockets()  # the feed reconnects and syncs its book again
        await until(lambda: feed.connections >= 2 and feed.snapshots_fetched > snapshots
                    and engine.health("gate") is Health.LIVE, "reconnected and resynced", 30, run=run)
        engine.request_stop("test done")
        await run
        assert engine.monitor is not None and engine.monitor.metrics is not None
        after = scrape(engine.monitor.metrics.port or 0)  # the finished run's numbers

    counts = feed.counts()
    assert engine.counters()["feeds"] == {"gate": counts}  # HTX's book is paced from the capture: no feed
    assert by_label(after["arb_feed_connections_total"], "venue") == {("gate",): counts["connections"]} != {}
    assert by_label(after["arb_feed_snapshots_total"], "venue") == {("gate",): counts["snapshots"]}
    assert counts["connections"] >= 2 and counts["snapshots"] >= 2
    frames = by_label(after["arb_feed_frames_total"], "venue", "outcome")
    assert frames == {("gate", outcome): n for outcome, n in counts["frames"].items()}
    assert frames[("gate", "applied")] > 0


def _samples(metrics: RunMetrics) -> dict[str, list[Sample]]:
    out: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(generate_latest(metrics.registry).decode()):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(sample)
    return out


async def test_fill_stream_and_throttle_metrics_are_their_counters() -> None:
    stream = GatePrivateStream("gate", {"BTC/USDT": "BTC_USDT"}, ws_url="ws://127.0.0.1:9/", key="k", secret="s",
                               rest=None, clock_s=lambda: 0.0)  # type: ignore[arg-type]  # no REST here
    fills: list[object] = []
    stream.watch_fills(fills.append)
    push = orjson.dumps({"channel": "spot.usertrades", "event": "update", "result": [PUSH]})
    stream.on_message(push)
    stream.on_message(push)  # the same trade again: left out
    stream.on_message(b"[not an object")
    assert len(fills) == 1

    t = FakeTime()
    venue = guarded(t, [])
    for _ in range(11):  # ten placements a second on a market: the eleventh is held
        await venue.throttle.acquire(PLACE, "LINK/USDT")
    venue.throttle.block_until(t.now + 1.0)
    await venue.throttle.acquire(PLACE, "BTC/USDT")

    engine = SimpleNamespace(feeds=FeedSet(), venues=VenueSet(venues={"gate": venue},  # type: ignore[dict-item]
                                                              fill_stream_counts={"gate": stream.counts}),
                             decisions=SimpleNamespace(trading=SimpleNamespace(writer=SimpleNamespace(written=7))))
    counters = Engine.counters(engine)  # type: ignore[arg-type]  # what a run's view reads
    assert counters["fill_streams"] == {"gate": stream.counts()}
    assert counters["requests_held"] == {"gate": {"reset": 1, "budget": 1}}
    metrics = RunMetrics(RunView(Funnel(), [], WallClock(), lambda: {}, counters=lambda: counters))
    metrics.refresh()  # the view's snapshot, as the monitor's timer takes it
    got = _samples(metrics)
    assert by_label(got["arb_fill_stream_trades_total"], "venue", "outcome") == {
        ("gate", "pushed"): 1, ("gate", "recovered"): 0, ("gate", "duplicate"): 1}
    assert (stream.pushed, stream.recovered, stream.duplicates) == (1, 0, 1)
    for name, key in (("arb_fill_stream_connections_total", "connections"),
                      ("arb_fill_stream_malformed_total", "malformed"),
                      ("arb_fill_stream_reconciliations_total", "reconciliations")):
        assert by_label(got[name], "venue") == {("gate",): getattr(stream, key)}
    assert stream.malformed == 1
    assert by_label(got["arb_requests_held_total"], "venue", "by") == {("gate", "reset"): 1, ("gate", "budget"): 1}
    assert got["arb_decisions_written_total"][0].value == 7
