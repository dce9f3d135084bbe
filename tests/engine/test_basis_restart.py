"""A live spot-perpetual rehearsal against an `arb sandbox` in its own process, stopped while it holds the basis
and started again: the restart reads the position from the venue, finds it is what arb's stored fills imply,
stores the funding the venue paid while nothing ran, and closes the position.

One sandbox serves both venues of the config on one account (``arb sandbox --config``: the spot wallet and
the futures wallet), plays the capture in real time and pays its funding line at its funding time. The
capture: the perpetual 15 bps over spot from 12 s to 36 s (the run opens the carry: buy spot, sell the
perpetual), funding due at 26 s (a short receives it), then back to spot's price (the basis closes).

- run 1 opens 4 x 0.5 ETH and is stopped (SIGTERM) holding it: its summary says so;
- the sandbox pays the funding while no arb runs;
- run 2 checks the venue's position against the database's fills (agreeing), stores the payment from the
  venue's account book, closes the position, and says the desk ends flat with what it held at its start.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from arb.venues.gate.exchange import GateExchange

from .procs import Proc
from .test_basis import basis_config, moving_basis_capture
from .test_basis_gate_sandbox import _gate_sandbox_venues

KEY, SECRET = "k-basis", "s-" + "b" * 40
PERP = "ETH/USDT:USDT"


def _basis(second: int) -> D:
    return D(3) if 12 <= second < 36 else D(0)


def _sandbox_state(base: str) -> dict[str, Any]:
    """What the sandbox's one account shows through ccxt's gate class: the perpetual's position, its trades and
    its funding entries."""
    async def read() -> dict[str, Any]:
        perp = GateExchange.for_endpoint(base + "/api/v4", None, KEY, SECRET, enableRateLimit=False,
                                         options={"fetchMarkets": {"types": ["swap"]}, "defaultType": "swap"})
        try:
            await perp.load_markets()
            positions = [p for p in await perp.fetch_positions([PERP]) if p["contracts"]]
            return {"contracts": sum(D(str(p["contracts"])) * (1 if p["side"] == "long" else -1) for p in positions),
                    "trades": [(t["side"], D(str(t["amount"])), D(str(t["fee"]["cost"])))
                               for t in await perp.fetch_my_trades(PERP, 0)],
                    "funding": [D(f["info"]["change"]) for f in await perp.fetch_funding_history(PERP, 0)]}
        finally:
            await perp.close()

    return asyncio.run(read())


def _executed(db: str, run_id: int) -> list[tuple[str, str]]:
    try:
        with create_engine(db).connect() as c:
            return [tuple(r) for r in c.execute(text(
                "SELECT buy_venue, sell_venue FROM opportunities WHERE decision = 'executed' AND run_id = :r"),
                {"r": run_id})]
    except Exception:  # noqa: BLE001 - the database or its tables may not exist yet
        return []


def _serve(tmp_path: Path) -> tuple[Proc, str, Path, dict[str, str], str]:
    """The sandbox the config describes, in its own process; the live config pointing at it, the engine's
    environment and the database."""
    # Played in real time from the sandbox's start. The basis is back at 36 s; the books must stay live long after
    # it for run 2 to close (start-up, preflight and the position check took ~10 s on a busy CI machine, and a
    # capture of 46 s left run 2 books gone stale before it could close: it timed out holding the short).
    capture = moving_basis_capture(tmp_path, funding=("0.0001", 26), seconds=120, basis=_basis)
    described = basis_config(tmp_path, capture, name="described.toml", mode="live", speed="1")
    _gate_sandbox_venues(described)
    sandbox = Proc(["sandbox", "--config", str(described), "--port", "0"], cwd=tmp_path,
                   env={"ARB_SANDBOX_KEY": KEY, "ARB_SANDBOX_SECRET": SECRET})
    try:
        sandbox.wait_for("sandbox listening", lambda: any("sandbox listening" in line for line in sandbox.out), 30)
        # It says how the config's two venues sign in with its one account, never the secret.
        sandbox.wait_for("the keys line", lambda: any(x.startswith("account keys") for x in sandbox.out), 10)
    except BaseException:
        sandbox.kill()
        raise
    line = next(line for line in sandbox.out if "sandbox listening" in line)
    keys = next(x for x in sandbox.out if x.startswith("account keys"))
    assert "as ARB_SPOT_API_KEY / ARB_SPOT_API_SECRET and ARB_PERP_API_KEY / ARB_PERP_API_SECRET" in keys
    assert SECRET not in keys
    base = line.split("rest=")[1].split()[0].removesuffix("/api/v4")
    config = tmp_path / "live.toml"
    config.write_text(described.read_text() + f'\n[sandbox]\nurl = "{base}"\n')
    env = {f"ARB_{venue}_API_{part}": value for venue in ("SPOT", "PERP")
           for part, value in (("KEY", KEY), ("SECRET", SECRET))}
    return sandbox, base, config, env, f"sqlite:///{tmp_path / 'basis.db'}"


def _await_funding(sandbox: Proc, base: str) -> None:
    """Until the sandbox has paid the funding (asked once a second: it answers 200 requests per 10 s, as Gate
    does)."""
    for _ in range(40):
        if _sandbox_state(base)["funding"]:
            return
        time.sleep(1)
    raise AssertionError(f"no funding paid in 40 s:\n{sandbox.text()}")


def _in_flight(db: str) -> int:
    with create_engine(db).connect() as c:
        return c.execute(text("SELECT count(*) FROM orders WHERE status IN ('created', 'submitted', 'unknown')")
                         ).scalar_one()


def _pairs_all(db: str) -> tuple[int, int]:
    """Opens and closes executed by every run."""
    with create_engine(db).connect() as c:
        rows = c.execute(text("SELECT buy_venue, count(*) FROM opportunities WHERE decision = 'executed' "
                              "GROUP BY buy_venue")).all()
    counts = dict(rows)
    return counts.get("spot", 0), counts.get("perp", 0)


def _run_until(tmp_path: Path, config: Path, env: dict[str, str], db: str, what: str,
               reached: Callable[[], bool], stop: signal.Signals = signal.SIGTERM) -> Proc:
    """``arb run`` until ``reached``, then stopped by ``stop``: SIGTERM ends it as a completed run (exit 0),
    SIGKILL leaves it as a process that died."""
    proc = Proc(["run", "--config", str(config), "--db", db], cwd=tmp_path, env=env)
    try:
        proc.wait_for(what, reached, timeout=60)
        proc.popen.send_signal(stop)
        if stop == signal.SIGKILL:
            proc.popen.wait(10)
        else:
            assert proc.finish(60) == 0, proc.text()
    finally:
        proc.kill()
    return proc


def _venue_agrees_with_the_database(db: str, venue: dict[str, Any], second: Proc) -> dict[str, Any]:
    """The database's perpetual fills are the venue's trades (in base: one contract is 0.01 ETH) and add up to
    its position, flat; the funding paid while nothing ran is stored once, by the restart; run 2's summary."""
    with create_engine(db).connect() as c:
        fills = c.execute(text("SELECT o.run_id, o.side, f.amount, f.fee FROM fills f JOIN orders o "
                               "ON o.id = f.order_id WHERE f.venue = 'perp'")).all()
        funding = c.execute(text("SELECT run_id, amount FROM funding_payments WHERE venue = 'perp'")).all()
        summary = c.execute(text("SELECT summary FROM runs WHERE id = 2")).scalar_one()
    summary = json.loads(summary) if isinstance(summary, str) else summary
    assert sorted((side, D(amount) * 100, D(fee)) for _, side, amount, fee in fills) == sorted(venue["trades"])
    assert sum(D(a) * (1 if side == "buy" else -1) for _, side, a, _ in fills) == 0 == venue["contracts"]
    assert [(run, D(amount)) for run, amount in funding] == [(2, change) for change in venue["funding"]]
    assert venue["funding"][0] > 0
    assert not [i for i in summary["incidents"] if i["kind"] == "position_mismatch"], second.text()
    out = "".join(second.out)
    # What the venue's wallet did is what the fills imply from the position held at the start (closing it
    # realized against the venue's entry): nothing came from outside. Valued at the books as the run ended (a
    # live feed's books are emptied when it closes, after that); no basis is claimed held.
    assert "EXTERNAL FLOWS" not in out and "unknown" not in out and "no mark" not in out, second.text()
    assert "BASIS POSITION" not in out, second.text()
    return summary


def test_a_basis_stopped_while_held_is_reconciled_and_closed_by_the_next_start(tmp_path: Path) -> None:
    sandbox, base, config, env, db = _serve(tmp_path)
    try:
        first = _run_until(tmp_path, config, env, db, "the carry opened to max_position",
                           lambda: len(_executed(db, 1)) >= 4)
        held = "".join(first.out)
        assert "BASIS POSITION" in held and "no mark" not in held, first.text()
        assert _sandbox_state(base)["contracts"] == -200  # 2 ETH short, in contracts of 0.01

        _await_funding(sandbox, base)  # the funding time passes with no arb running: the short is paid
        second = _run_until(tmp_path, config, env, db, "the carry closed", lambda: len(_executed(db, 2)) >= 4)
        venue = _sandbox_state(base)
    finally:
        sandbox.kill()

    assert "perp ETH/USDT position -2 on the venue, as arb's stored fills imply" in "".join(second.err), second.text()
    assert _executed(db, 2) == [("perp", "spot")] * 4
    _venue_agrees_with_the_database(db, venue, second)
    # Run 2 closed what run 1 left: the desk ends flat.
    assert "POSITION                perp ETH/USDT 0 ETH at the end (-2 ETH held at the start; the run's change 2 " \
        "at " in "".join(second.out), second.text()
    report = Proc(["report", "--db", db], cwd=tmp_path, env={"COLUMNS": "250"})  # the latest run: run 2
    assert report.finish(60) == 0, report.text()
    assert "position change (-2 held at the start, 0 at the end)" in "".join(report.out), report.text()


def test_a_basis_killed_while_held_is_found_on_the_venue_and_closed_by_the_next_start(tmp_path: Path) -> None:
    """SIGKILL once the carry has opened (its opens come tens of milliseconds apart, so some or all of them),
    with no order in flight: no summary, no end snapshot, the run left ``running``. The next start marks it
    crashed, finds the venue's short equal to what the stored fills imply, opens whatever is left while the
    basis still pays, and closes all of it."""
    sandbox, base, config, env, db = _serve(tmp_path)
    try:
        _run_until(tmp_path, config, env, db, "an open, no order in flight",
                   lambda: len(_executed(db, 1)) >= 1 and not _in_flight(db), signal.SIGKILL)
        opened = _sandbox_state(base)["contracts"]
        assert opened <= -50  # at least one open of 0.5 ETH short, in contracts of 0.01

        _await_funding(sandbox, base)
        second = _run_until(tmp_path, config, env, db, "every open closed",
                            lambda: _pairs_all(db)[1] > 0 and len(set(_pairs_all(db))) == 1)
        venue = _sandbox_state(base)
    finally:
        sandbox.kill()

    start = (D(opened) / 100).normalize()
    log = "".join(second.err)
    found = f"perp ETH/USDT position {start:f} on the venue, as arb's stored fills imply"
    assert "run 1 marked crashed" in log and found in log, second.text()
    assert log.index("run 1 marked crashed") < log.index(found)
    _venue_agrees_with_the_database(db, venue, second)
    assert f"POSITION                perp ETH/USDT 0 ETH at the end ({start:f} ETH held at the start;" in \
        "".join(second.out), second.text()
