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


def test_a_basis_stopped_while_held_is_reconciled_and_closed_by_the_next_start(tmp_path: Path) -> None:
    capture = moving_basis_capture(tmp_path, funding=("0.0001", 26), seconds=46, basis=_basis)
    described = basis_config(tmp_path, capture, name="described.toml", mode="live", speed="1")
    _gate_sandbox_venues(described)
    sandbox = Proc(["sandbox", "--config", str(described), "--port", "0"], cwd=tmp_path,
                   env={"ARB_SANDBOX_KEY": KEY, "ARB_SANDBOX_SECRET": SECRET})
    try:
        sandbox.wait_for("sandbox listening", lambda: any("sandbox listening" in line for line in sandbox.out), 30)
        line = next(line for line in sandbox.out if "sandbox listening" in line)
        base = line.split("rest=")[1].split()[0].removesuffix("/api/v4")
        # It says how the config's two venues sign in with its one account, never the secret.
        sandbox.wait_for("the keys line", lambda: any(x.startswith("account keys") for x in sandbox.out), 10)
        keys = next(x for x in sandbox.out if x.startswith("account keys"))
        assert "as ARB_SPOT_API_KEY / ARB_SPOT_API_SECRET and ARB_PERP_API_KEY / ARB_PERP_API_SECRET" in keys
        assert SECRET not in keys
        config = tmp_path / "live.toml"
        config.write_text(described.read_text() + f'\n[sandbox]\nurl = "{base}"\n')
        env = {f"ARB_{venue}_API_{part}": value for venue in ("SPOT", "PERP")
               for part, value in (("KEY", KEY), ("SECRET", SECRET))}
        db = f"sqlite:///{tmp_path / 'basis.db'}"

        first = Proc(["run", "--config", str(config), "--db", db], cwd=tmp_path, env=env)
        try:
            first.wait_for("the carry opened to max_position", lambda: len(_executed(db, 1)) >= 4, timeout=60)
            first.popen.send_signal(signal.SIGTERM)
            assert first.finish(60) == 0, first.text()
        finally:
            first.kill()
        held = "".join(first.out)
        assert "BASIS POSITION" in held, first.text()
        assert _sandbox_state(base)["contracts"] == -200  # 2 ETH short, in contracts of 0.01

        # The funding time passes with no arb running: the sandbox pays the short. (Asked once a second: the
        # sandbox answers 200 requests per 10 s, as Gate does.)
        for _ in range(40):
            if _sandbox_state(base)["funding"]:
                break
            time.sleep(1)
        else:
            raise AssertionError(f"no funding paid in 40 s:\n{sandbox.text()}")

        second = Proc(["run", "--config", str(config), "--db", db], cwd=tmp_path, env=env)
        try:
            second.wait_for("the carry closed", lambda: len(_executed(db, 2)) >= 4, timeout=60)
            second.popen.send_signal(signal.SIGTERM)
            assert second.finish(60) == 0, second.text()
        finally:
            second.kill()
        venue = _sandbox_state(base)
    finally:
        sandbox.kill()

    log, out = "".join(second.err), "".join(second.out)
    assert "perp ETH/USDT position -2 on the venue, as arb's stored fills imply" in log, second.text()
    assert _executed(db, 2) == [("perp", "spot")] * 4
    with create_engine(db).connect() as c:
        fills = c.execute(text("SELECT o.run_id, o.side, f.amount, f.fee FROM fills f JOIN orders o "
                               "ON o.id = f.order_id WHERE f.venue = 'perp'")).all()
        funding = c.execute(text("SELECT run_id, amount FROM funding_payments WHERE venue = 'perp'")).all()
        summary = c.execute(text("SELECT summary FROM runs WHERE id = 2")).scalar_one()
    summary = json.loads(summary) if isinstance(summary, str) else summary
    # The database's fills are the venue's trades (in base: one contract is 0.01 ETH), and add up to the
    # venue's position: flat.
    assert sorted((side, D(amount) * 100, D(fee)) for _, side, amount, fee in fills) == sorted(venue["trades"])
    assert sum(D(a) * (1 if side == "buy" else -1) for _, side, a, _ in fills) == 0 == venue["contracts"]
    # The payment made while nothing ran is stored once, by the restart, as the venue's account book has it.
    assert [(run, D(amount)) for run, amount in funding] == [(2, change) for change in venue["funding"]]
    assert venue["funding"][0] > 0
    assert not [i for i in summary["incidents"] if i["kind"] == "position_mismatch"]
    # Run 2 closed what run 1 left: the desk ends flat, and no basis is claimed held.
    assert "POSITION                perp ETH/USDT 0 ETH at the end (-2 ETH held at the start; the run's change 2 " \
        "at " in out, second.text()
    # What the venue's wallet did is what the fills imply from the position held at the start (closing it
    # realized against the venue's entry): nothing came from outside.
    assert "EXTERNAL FLOWS" not in out, second.text()
    # Valued at the books as the run ended (a live feed's books are emptied when it closes, after that).
    assert "unknown" not in out and "no mark" not in out and "no mark" not in held, second.text()
    assert "BASIS POSITION" not in out, second.text()
    report = Proc(["report", "--db", db], cwd=tmp_path, env={"COLUMNS": "250"})  # the latest run: run 2
    assert report.finish(60) == 0, report.text()
    assert "position change (-2 held at the start, 0 at the end)" in "".join(report.out), report.text()
