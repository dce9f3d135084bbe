"""The process the SIGKILL test kills: one pair against the test's two sandboxes, frozen after sending.

Run by ``test_sigkill.py`` as ``python -m execution.sigkill_child '<json>'`` with ``tests/`` on the path.
Each leg's ``send`` reaches the sandbox and gets its answer; then, *before* the executor can record that
answer, the leg writes ``<client id>.sent`` into the marker directory and blocks forever. The parent
waits for both markers and SIGKILLs this process: the database is left with both orders as written
before sending (``created``), exactly the state a crash between "on the wire" and "recorded" leaves.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from arb.domain.venue import OrderReport, PreparedOrder
from arb.execution.executor import PairedExecutor
from arb.execution.risk import RiskGate, RiskLimits
from arb.store.db import make_engine, make_session_factory
from arb.venues.live import LiveVenue
from execution.harness import Opp
from execution.sandbox_rig import gate_venues

D = Decimal


class FreezeAfterSend:
    """A live venue whose ``send`` never returns once the venue has answered."""

    def __init__(self, inner: LiveVenue, markers: Path) -> None:
        self.inner, self.markers, self.name = inner, markers, inner.name

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)

    async def send(self, prepared: PreparedOrder) -> OrderReport:
        await self.inner.send(prepared)
        tmp = self.markers / f".{prepared.request.client_order_id}.tmp"
        tmp.write_text(self.name)
        os.replace(tmp, self.markers / f"{prepared.request.client_order_id}.sent")  # appears whole
        await asyncio.Event().wait()  # the answer is never recorded
        raise AssertionError("unreachable")


async def main(args: dict[str, Any]) -> None:
    sessions = make_session_factory(make_engine(args["db_url"]))
    venues = {name: FreezeAfterSend(venue, Path(args["markers"]))
              for name, venue in (await gate_venues(args["venues"])).items()}
    risk = RiskGate(RiskLimits(max_notional_per_trade=D("1000"), max_unhedged_exposure=D("10"),
                               daily_loss_limit=D("50")))
    executor = PairedExecutor(venues, sessions, args["run_id"], risk)  # type: ignore[arg-type]
    await executor.execute(Opp(buy_venue="gate_a", sell_venue="gate_b"))
    raise AssertionError("the pair finished: the legs should have frozen after sending")


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
