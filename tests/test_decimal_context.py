"""ccxt's ``decimal_to_precision`` (behind every ``amount_to_precision`` / ``price_to_precision``) sets the
running thread's decimal context to ROUND_HALF_UP, traps Underflow, and leaves it so. arb computes money in
the same thread after ccxt has run (a live venue, the sandbox through ccxt's Gate client), so each rounding
arb does names its rule instead of taking the context's: these figures round half to even whatever the
ambient context says. Found when a notebook figure (63.02 %) and its SQL truth (63.03 %) disagreed only under
pytest-xdist, where a ccxt test had run earlier in the same worker."""

from __future__ import annotations

import decimal
from decimal import Decimal

from ccxt.base.decimal_to_precision import DECIMAL_PLACES, ROUND, decimal_to_precision

from arb.accounting import money
from arb.analysis.frames import to_bps
from arb.runtime.latency import LatencyRecorder
from arb.runtime.summary import _ms


def test_arb_rounds_half_even_after_ccxt_left_the_context_half_up() -> None:
    with decimal.localcontext():  # the leak is ccxt's; this test must not leave it to the next one
        decimal_to_precision("1.5", ROUND, 0, DECIMAL_PLACES)
        assert decimal.getcontext().rounding == decimal.ROUND_HALF_UP  # the condition this test is about
        assert Decimal("0.25").quantize(Decimal("0.1")) == Decimal("0.3")  # a bare quantize now rounds up

        latency = LatencyRecorder()
        latency.add(1_250)  # 1.25 us: a tie at 0.1 us
        assert latency.summary_us()["max"] == Decimal("1.2")
        assert _ms(Decimal("0.125")) == Decimal("0.12")  # the summary's per-venue latency, ms
        assert to_bps(Decimal("0.00000125"), Decimal(1)) == 0.01  # 0.0125 bps: the notebooks' edges
        assert money(Decimal("0.0000000000025")) == Decimal("0.000000000002")  # stored money, 1e-12
