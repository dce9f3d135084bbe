"""A latency profile measured live is what a replay then draws (issue #46, "latency as measured").

A live rehearsal (mode ``live``, speed 1: the shipped config quoting LINK/USDT on the gate venue, arb's in-process
Gate sandbox, with latency injected there through its ``latency_s`` fault knob, switched between 20, 50 and 90 ms
as it runs so the profile has a spread), ``arb latency`` turning its stored order times into gate's profile, and a
replay of the shipped config (taking on the bundled capture, the gate venue on the in-process sandbox) naming
that profile: the replay's stored round trips (``acked_at - sent_at``, on market time) have the profile's
distribution.

The tolerance: the replay draws M round trips from the profile's distribution, so its empirical distribution
function is within ``eps = sqrt(ln(2 / alpha) / (2 M))`` of the profile's everywhere with probability 1 - alpha
(the Dvoretzky-Kiefer-Wolfowitz inequality; alpha = 0.001 here, eps about 0.08 for the ~600 gate orders of the
bundled capture), widened by the store's microsecond on each side. The draws are seeded, so the test gives the
same answer every time; eps says how far a correct sampler may land, so it neither passes a wrong distribution
nor fails on an unlucky seed.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from bisect import bisect_left, bisect_right
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from arb.cli import main
from arb.config import load_config
from arb.engine import Engine
from arb.store import views
from arb.venues.latency_profile import read_profile

from .helpers import config_with
from .paper_rig import SpyEngine, rehearsal_config, until
from .test_maker_rehearsal import MAKER

INJECTED_S = (0.02, 0.05, 0.09)  # the sandbox's latency_s, in turn, 0.3 s each
ORDERS = 20  # gate orders answered in the rehearsal: about 10 s of the capture at speed 1
ALPHA = 0.001
US = 0.001  # ms: the store's resolution


def _timed(db: str, venue: str) -> int:
    try:
        with create_engine(db).connect() as c:
            return int(c.execute(text("SELECT COUNT(*) FROM orders WHERE venue = :v AND acked_at IS NOT NULL"),
                                 {"v": venue}).scalar_one())
    except Exception:  # noqa: BLE001 - the database may not exist yet
        return 0


def _round_trips(db: str, run_id: int, venue: str) -> list[float]:
    engine = create_engine(db)
    try:
        with Session(engine) as s:
            return sorted(float(leg.sent_to_ack_ms) for leg in views.legs(s, run_id)
                          if leg.venue == venue and leg.sent_to_ack_ms is not None)
    finally:
        engine.dispose()


async def test_a_profile_built_from_a_live_rehearsal_is_what_a_replay_draws(tmp_path: Path) -> None:
    # 1. The live rehearsal, latency injected on the sandbox once its venues are open.
    config = rehearsal_config(tmp_path, "00:40:00", "00:50:00", speed=1, extra={
        '[symbols."LINK/USDT"]\nmax_size = "20"              # base units per opportunity\n': MAKER})
    live_db = f"sqlite:///{tmp_path / 'live.db'}"
    engine = SpyEngine(config, db_url=live_db, install_signal_handlers=False)
    run = asyncio.create_task(engine.run())
    injecting: asyncio.Task[None] | None = None
    try:
        await until(lambda: engine.venues is not None and bool(engine.venues.sandboxes), "venues", run=run)
        faults = engine.sandbox("gate").faults

        async def inject() -> None:
            k = 0
            while True:
                faults.latency_s = INJECTED_S[k % len(INJECTED_S)]
                k += 1
                await asyncio.sleep(0.3)

        injecting = asyncio.create_task(inject())
        await until(lambda: _timed(live_db, "gate") >= ORDERS, f"{ORDERS} gate orders answered", 60, run=run)
        injecting.cancel()
        faults.latency_s = 0.0
        engine.request_stop("rehearsal done")
        result = await asyncio.wait_for(run, 60)
    finally:
        if injecting is not None:
            injecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await injecting
        if not run.done():
            engine.request_stop("test failed")
            await asyncio.wait_for(asyncio.gather(run, return_exceptions=True), 30)
    measured = _round_trips(live_db, result.run_id, "gate")
    # The injected latency is what they measure (but for an order sent before the knob was first set).
    assert len(measured) >= ORDERS and sum(ms >= 1000 * min(INJECTED_S) for ms in measured) >= len(measured) - 2

    # 2. arb latency: the profile, beside the replay's config.
    (tmp_path / "profiles").mkdir()
    profile_path = tmp_path / "profiles" / "gate.json"
    assert main(["latency", "--run", str(result.run_id), "--db", live_db, "--venue", "gate",
                 "--out", str(profile_path)]) == 0
    profile = read_profile(profile_path)

    def round_trip(u: float) -> float:  # the profile's round trip at draw u: both halves from one draw
        return profile.order.out.at(u) + profile.order.back.at(u)

    assert round_trip(0.0) == min(measured) and math.isclose(round_trip(0.999999), max(measured), abs_tol=0.01)

    # 3. A replay of the shipped config whose gate venue names the profile.
    path = config_with(tmp_path, fee="0", name="replay.toml", extra={
        'capture_venue = "binance"\n': 'capture_venue = "binance"\nlatency_profile = "profiles/gate.json"\n',
        'min_edge_bps = "0.5"': 'min_edge_bps = "0.1"',
        'min_profit = "0.01"': 'min_profit = "0.001"',
        'status = "auto"': 'status = "off"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
    })
    replay_db = f"sqlite:///{tmp_path / 'replay.db'}"
    replayed = await Engine(load_config(path), db_url=replay_db, install_signal_handlers=False).run()
    drawn = _round_trips(replay_db, replayed.run_id, "gate")
    m = len(drawn)
    eps = math.sqrt(math.log(2 / ALPHA) / (2 * m))
    assert m >= 300, m
    assert round_trip(0.0) - US <= drawn[0] and drawn[-1] <= round_trip(0.999999) + US  # within its range
    for k in range(1, 20):
        p = k / 20
        q = round_trip(p)
        below, at_most = bisect_left(drawn, q - US) / m, bisect_right(drawn, q + US) / m
        assert below <= p + eps and at_most >= p - eps, (p, q, below, at_most, eps)
    # Every gate order of the replay took a draw of the profile: none is faster than its fastest, and its median
    # is the profile's median within the same bound.
    assert abs(Decimal(str(drawn[m // 2])) - Decimal(str(round_trip(0.5)))) <= Decimal(str(
        round_trip(min(0.5 + eps, 0.999999)) - round_trip(max(0.5 - eps, 0.0)))), (drawn[m // 2], round_trip(0.5))
