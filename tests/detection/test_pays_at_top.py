"""``vectorized.pays_at_top``: a row whose best levels do not pay after fees is skipped by both detection
paths, on the claim that the kernel would size it to nothing. Checked here against the kernel itself."""

from __future__ import annotations

import numpy as np

from arb.detection.vectorized import F_BUY_COST, F_QUOTE, F_SELL_NET, F_X_CAP, pays_at_top, size_rows


def test_a_row_that_does_not_pay_at_the_top_sizes_to_nothing() -> None:
    rng = np.random.default_rng(11)
    rows, depth = 4000, 20
    mid = rng.uniform(10, 1000, rows)
    tick = mid * 1e-5
    # Asks ascending and bids descending from a best ask and bid up to ~15 bps apart either way.
    best_ask = mid * (1 + rng.uniform(-15e-4, 15e-4, rows))
    asks = best_ask[:, None] + np.cumsum(rng.integers(1, 4, (rows, depth)), axis=1) * tick[:, None] - tick[:, None]
    bids = mid[:, None] - np.cumsum(rng.integers(1, 4, (rows, depth)), axis=1) * tick[:, None] + tick[:, None]
    books = np.stack((asks, rng.lognormal(0, 1, (rows, depth)), bids, rng.lognormal(0, 1, (rows, depth))), axis=1)
    fees = rng.choice([0.0, 1e-4, 5e-4, 1e-3], (rows, 2))
    factors = np.empty((rows, 6))
    factors[:, F_BUY_COST] = 1 + fees[:, 0]
    factors[:, F_SELL_NET] = 1 - fees[:, 1]
    factors[:, 2] = 1.0  # buy net factor (quote fee mode)
    factors[:, 3] = 1.0
    factors[:, F_X_CAP] = rng.choice([0.0, 0.5, 5.0, 1e9], rows)
    factors[:, F_QUOTE] = rng.choice([0.0, 100.0, 1e12], rows)

    out = size_rows(books, factors)
    pays = pays_at_top(books[:, 0, 0], books[:, 2, 0], factors[:, F_BUY_COST], factors[:, F_SELL_NET])
    assert pays.tolist() == [
        pays_at_top(float(a), float(b), float(c), float(s))
        for a, b, c, s in zip(books[:, 0, 0], books[:, 2, 0], factors[:, F_BUY_COST], factors[:, F_SELL_NET],
                              strict=True)
    ]
    skipped = ~pays
    for column in (out.profitable_size, out.size, out.cost, out.proceeds):
        assert (column[skipped] == 0.0).all()
    # Both kinds are common here, and rows that pay do size to something: the screen is not vacuous.
    assert 0.2 < skipped.mean() < 0.8
    assert (out.profitable_size[pays] > 0).all()
