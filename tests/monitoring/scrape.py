"""Reading a Prometheus endpoint the way a scraper does: HTTP, then prometheus_client's own parser."""

from __future__ import annotations

import asyncio
import contextlib
import urllib.request
from collections.abc import AsyncIterator

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from arb.engine import Engine, RunResult


def scrape(port: int) -> dict[str, list[Sample]]:
    """Every sample of ``http://127.0.0.1:port/metrics``, by sample name (``arb_orders_total``...)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def by_label(samples: list[Sample], *labels: str) -> dict[tuple[str, ...], float]:
    """``{(label values...): value}`` of one sample name."""
    return {tuple(s.labels[name] for name in labels): s.value for s in samples}


async def run_and_scrape(engine: Engine) -> tuple[RunResult, dict[str, list[Sample]]]:
    """Run ``engine`` to its end, then scrape what its metrics endpoint serves for the finished run; the
    endpoint outlives the run until closed, so it is closed here whatever happened."""
    try:
        result = await engine.run()
        assert engine.monitor is not None and engine.monitor.metrics is not None
        return result, scrape(engine.monitor.metrics.port or 0)
    finally:
        if engine.monitor is not None:
            engine.monitor.close()


@contextlib.asynccontextmanager
async def running(engine: Engine) -> AsyncIterator[asyncio.Task[RunResult]]:
    """``engine`` running in a task, for a test that scrapes it meanwhile and stops it itself; a run the test
    left running (it failed) is stopped, and the endpoint closed, whatever happened."""
    run = asyncio.create_task(engine.run())
    try:
        yield run
    finally:
        if not run.done():
            engine.request_stop("test failed")
            await asyncio.wait_for(asyncio.gather(run, return_exceptions=True), 30)
        if engine.monitor is not None:
            engine.monitor.close()
