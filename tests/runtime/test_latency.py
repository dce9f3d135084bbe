"""The hot path's latency recorder: exact while its samples are kept, within a bucket's width once they are
folded into its histogram, in bounded memory either way; and the metrics histogram sees every sample."""

from __future__ import annotations

import random
import tracemalloc
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from arb.monitoring.metrics import HOT_PATH_BUCKETS_S, Buckets
from arb.runtime.latency import LatencyRecorder


def exact_us(samples: list[int]) -> dict[str, Decimal | int]:
    """The summary's rule on every sample: the (p x n)-th of them sorted, in µs to 0.1."""
    data = sorted(samples)
    n = len(data)

    def us(ns: int) -> Decimal:
        return (Decimal(ns) / 1000).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)

    return {"count": n, **{k: us(data[min(n - 1, int(p * n))]) for k, p in
                           (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))}, "max": us(data[-1])}


latencies = st.lists(st.integers(0, 10**9) | st.integers(5_000, 200_000), min_size=1, max_size=400)


@settings(max_examples=200, deadline=None)
@given(latencies, st.integers(1, 50), st.integers(1, 50))
@example([650], 1, 1)  # 0.65 µs: half to even, 0.6, on both sides
def test_percentiles_are_exact_until_folded_then_within_a_bucket(samples: list[int], fold_every: int,
                                                                   chunk: int) -> None:
    kept, folding = LatencyRecorder(), LatencyRecorder(fold_every=fold_every, chunk=min(chunk, fold_every))
    for ns in samples:
        kept.add(ns)
        folding.add(ns)
    want = exact_us(samples)
    assert kept.summary_us() == want
    got = folding.summary_us()
    assert got["count"] == want["count"] and got["max"] == want["max"]
    for key in ("p50", "p90", "p99"):
        # A bucket is at most 1/1024 of its values wide, its middle within half of that; plus the rounding to 0.1.
        assert abs(got[key] - want[key]) <= want[key] / 2048 + Decimal("0.1"), (key, got, want)  # type: ignore[operator]


def test_a_long_run_keeps_a_bounded_number_of_samples() -> None:
    """Two million decisions hold under the fold's worth of samples and the histogram (~0.5 MB); kept, they
    were 16 MB, and the summary sorted them into a Python list (~90 MB)."""
    recorder = LatencyRecorder(fold_every=50_000, chunk=5_000)
    rnd = random.Random(3)
    values = [int(rnd.lognormvariate(10.5, 0.6)) for _ in range(10_000)]
    tracemalloc.start()
    try:
        for _ in range(200):
            for ns in values:
                recorder.add(ns)
        held = tracemalloc.get_traced_memory()[0]
        summary = recorder.summary_us()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(recorder) == summary["count"] == 2_000_000
    assert held < 2_000_000 and peak < 4_000_000, (held, peak)
    want = exact_us(values)  # the same 10,000 values 200 times: the same percentiles
    assert summary["max"] == want["max"]
    assert abs(summary["p99"] - want["p99"]) <= want["p99"] / 2048 + Decimal("0.1")  # type: ignore[operator]


def test_the_metrics_histogram_counts_every_sample_across_folds() -> None:
    recorder = LatencyRecorder(fold_every=1_000, chunk=250)
    histogram = Buckets(HOT_PATH_BUCKETS_S)
    rnd = random.Random(5)
    every = [int(rnd.lognormvariate(11, 1.5)) for _ in range(25_000)]
    for i, ns in enumerate(every):
        recorder.add(ns)
        if i % 7_000 == 0:  # read now and then: far fewer reads than folds
            histogram.update(recorder)
    histogram.update(recorder)
    cumulative, total_s = histogram.cumulative()
    bounds_ns = np.array([round(b * 1e9) for b in HOT_PATH_BUCKETS_S], dtype=np.int64)
    want = np.cumsum(np.bincount(np.searchsorted(bounds_ns, np.array(every), side="left"),
                                 minlength=len(bounds_ns) + 1))
    assert [n for _, n in cumulative] == [float(n) for n in want]
    assert total_s == sum(every) / 1e9
    with pytest.raises(ValueError, match="folded"):
        recorder.samples(0)  # gone: read before the fold, as the histogram did


def test_the_hot_path_never_counts_more_than_a_chunk_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counting a chunk is the only numpy work ``add`` does (~1 ms at 16,384): the first fold, at a million
    samples, counted all of them at once before (77 ms on the decision loop, metrics' read included)."""
    from arb.runtime import latency

    counted: list[int] = []
    histogram = latency._histogram
    monkeypatch.setattr(latency, "_histogram", lambda samples: counted.append(len(samples)) or histogram(samples))
    recorder = LatencyRecorder(fold_every=10_000, chunk=1_000)
    for ns in range(35_000):
        recorder.add(ns)
    assert counted and max(counted) == 1_000 and sum(counted) == 35_000
    assert recorder.summary_us()["count"] == 35_000
