"""`arb run` as users run it: the shipped config end to end, SIGTERM mid-run, SIGKILL mid-trade + restart."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from arb.display import money
from arb.venues.gate import GateExchange

from .helpers import SHIPPED, config_with, summary_number, trimmed_capture
from .procs import Proc


def test_shipped_config_runs_offline_and_sql_matches_the_summary(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(SHIPPED.read_text())
    db = f"sqlite:///{tmp_path / 'arb.db'}"
    proc = Proc(["run", "--db", db], cwd=tmp_path)
    assert proc.finish(300) == 0, proc.text()
    out = "".join(proc.out)
    executed = int(summary_number(out, "executed"))
    assert executed >= 1, out  # the shipped fees trade the real capture's best moments
    with create_engine(db).connect() as c:
        run = c.execute(text("SELECT id, ended_at, summary, status, pid, host, market_started_at, market_ended_at "
                             "FROM runs")).one()
        assert run.ended_at is not None
        assert (run.status, run.pid, run.host) == ("completed", proc.popen.pid, socket.gethostname())
        # A replay's market span is the capture's time (2021-08-20 00:00-02:00), not the wall clock.
        assert "2021-08-20 00:00" <= str(run.market_started_at) <= str(run.market_ended_at) < "2021-08-20 02:01"
        q = lambda sql: c.execute(text(sql), {"r": run.id}).scalar()  # noqa: E731
        assert q("SELECT count(*) FROM opportunities WHERE run_id=:r AND decision='executed'") == executed
        assert q("SELECT count(*) FROM opportunities WHERE run_id=:r AND decision='rejected'") == int(
            summary_number(out, "rejected"))
        assert q("SELECT count(*) FROM orders WHERE run_id=:r") == int(summary_number(out, "orders"))
        assert q("SELECT count(*) FROM fills f JOIN orders o ON o.id=f.order_id WHERE o.run_id=:r") == int(
            summary_number(out, "fills"))
        # Gate orders went through the sandbox (real signatures over loopback): it assigned their ids.
        assert q("SELECT count(*) FROM orders WHERE run_id=:r AND venue='gate' AND venue_order_id IS NOT NULL") >= 1
        # Every order's lifecycle is recorded: created, submitted, then its outcome.
        assert q("SELECT min(n) FROM (SELECT count(*) n FROM order_events e JOIN orders o ON o.id=e.order_id "
                 "WHERE o.run_id=:r GROUP BY o.id) t") >= 3
        expected = sum((Decimal(v) for (v,) in c.execute(
            text("SELECT expected_profit FROM opportunities WHERE run_id=:r AND decision='executed'"), {"r": run.id})),
            Decimal(0))
        realized = sum((Decimal(v) for (v,) in c.execute(
            text("SELECT realized_pnl FROM opportunities WHERE run_id=:r AND decision='executed'"), {"r": run.id})),
            Decimal(0))
    # Printed at display precision; stored exactly, and equal to the settled rows' sum.
    assert money(expected) == summary_number(out, "expected profit")
    assert money(realized) == summary_number(out, "realized pnl")
    summary = json.loads(run.summary) if isinstance(run.summary, str) else run.summary
    assert summary["funnel"]["executed"] == executed
    assert (Decimal(summary["expected_profit"]), Decimal(summary["realized_pnl"])) == (expected, realized)


def _paper_config(tmp_path: Path, capture: Path, *, speed: int, extra: dict[str, str] | None = None) -> Path:
    edits = {
        'mode = "replay"              # replay | paper | live': 'mode = "paper"',
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
        "speed = 0                    # 0 = as fast as possible; 1 = recorded speed": f"speed = {speed}",
        'status = "auto"': 'status = "plain"',
        "status_interval_s = 5.0": "status_interval_s = 0.2",
    }
    edits.update(extra or {})
    return config_with(tmp_path, fee="0", extra=edits)


@pytest.mark.parametrize("to_its_group", [False, True], ids=["to the process", "to the process and its group"])
def test_sigterm_mid_run_stops_cleanly(tmp_path: Path, to_its_group: bool) -> None:
    """Also as ``timeout`` sends it: to the process and then to its process group, two deliveries of one
    request (they forced the exit as a second Ctrl-C does, leaving the run "running" and no summary)."""
    capture = trimmed_capture(tmp_path, "00:40:00", "00:50:00")
    config = _paper_config(tmp_path, capture, speed=10)
    db = f"sqlite:///{tmp_path / 'arb.db'}"
    proc = Proc(["run", "--config", str(config), "--db", db], cwd=tmp_path, own_group=to_its_group)
    try:
        # Running for real: books are flowing and at least one pair has been decided.
        proc.wait_for("trading activity", lambda: any(" executed " in line and " executed 0 " not in line
                                                      for line in proc.err), timeout=120)
        proc.popen.send_signal(signal.SIGTERM)
        if to_its_group:
            # The second delivery once the first has been (the kernel merges a signal sent while the same one
            # is pending: an idle process would take both as one whatever arb did), microseconds later, as
            # ``timeout`` sends it to a process busy on another core.
            _wait_delivered(proc.popen.pid, signal.SIGTERM)
            os.killpg(proc.popen.pid, signal.SIGTERM)
        assert proc.finish(60) == 0, proc.text()
        assert "(again to force)" in "".join(proc.err), proc.text()
    finally:
        proc.kill()
    assert "== arb run summary ==" in "".join(proc.out)
    with create_engine(db).connect() as c:
        run = c.execute(text("SELECT id, ended_at, summary, status FROM runs")).one()
        summary = json.loads(run.summary) if isinstance(run.summary, str) else run.summary
        in_flight = c.execute(text("SELECT count(*) FROM orders WHERE status IN ('created','submitted','unknown')"
                                   " OR status = 'open'")).scalar()
        executed = c.execute(text("SELECT count(*) FROM opportunities WHERE decision='executed'")).scalar()
    assert run.ended_at is not None and run.status == "completed"
    assert summary["stop_reason"] == "SIGTERM"
    assert in_flight == 0  # every leg resolved; nothing left resting
    assert executed == summary["funnel"]["executed"] >= 1


def _wait_delivered(pid: int, sig: signal.Signals) -> None:
    """Until ``sig`` sent to process ``pid`` is no longer pending there (its handler has it): /proc's ShdPnd."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = Path(f"/proc/{pid}/status").read_text()
        pending = int(next(line for line in status.splitlines() if line.startswith("ShdPnd:")).split()[1], 16)
        if not pending & (1 << (sig - 1)):
            return
    raise AssertionError(f"{sig.name} still pending in process {pid} after 10 s")


@dataclass
class _Rehearsal:
    """A live run's set-up against the Gate sandbox in a process of its own (a rehearsal: no real venue)."""

    sandbox: Proc
    base: str  # the sandbox's REST root
    config: Path
    db: str
    env: dict[str, str]  # the engine's: the sandbox's keys as Gate's
    key: str
    secret: str

    def fault(self, **knobs: object) -> None:
        req = urllib.request.Request(self.base + "/_sandbox/faults", data=json.dumps(knobs).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=10).read()

    def gate_orders_in_flight(self) -> list[str]:
        try:
            with create_engine(self.db).connect() as c:
                return [r[0] for r in c.execute(text(
                    "SELECT client_order_id FROM orders WHERE venue='gate' AND status IN ('created','submitted')"))]
        except Exception:  # noqa: BLE001 - the database may not exist yet
            return []

    def run(self) -> Proc:
        return Proc(["run", "--config", str(self.config), "--db", self.db], cwd=self.config.parent, env=self.env)

    def restart_reconciled(self) -> Proc:
        """A restart with the sandbox answering again and the kill switch engaged: it reconciles what the run
        before it left, trades nothing new, and is stopped (SIGTERM) once it has reconciled."""
        self.fault(order_response_delay_s=0)
        (self.config.parent / "arb.kill").write_text("stop")
        restart = self.run()
        try:
            restart.wait_for("reconciliation", lambda: any("reconciled with venues" in line for line in restart.err),
                             120)
            restart.popen.send_signal(signal.SIGTERM)
            assert restart.finish(60) == 0, restart.text()
        finally:
            restart.kill()
        return restart


@contextmanager
def _rehearsal(tmp_path: Path, key: str) -> Iterator[_Rehearsal]:
    capture = trimmed_capture(tmp_path, "00:40:00", "00:50:00")
    secret = "s-" + "x" * 40
    # The sandbox in its own process, started as the engine's config describes its gate venue (fees, rules,
    # balances, its side of the capture at the config's speed): arb refuses one that differs.
    described = _paper_config(tmp_path, capture, speed=10)
    sandbox = Proc(["sandbox", "--config", str(described), "--port", "0"], cwd=tmp_path,
                   env={"ARB_SANDBOX_KEY": key, "ARB_SANDBOX_SECRET": secret})
    try:
        sandbox.wait_for("sandbox listening", lambda: any("sandbox listening" in line for line in sandbox.out), 30)
        line = next(line for line in sandbox.out if "sandbox listening" in line)
        base = line.split("rest=")[1].split()[0].removesuffix("/api/v4")
        # Against a sandbox in another process the run is real time: mode live (a rehearsal, no real venue).
        config = _paper_config(tmp_path, capture, speed=10, extra={
            "port = 0": f'port = 0\nurl = "{base}"',
            'mode = "replay"              # replay | paper | live': 'mode = "live"'})
        yield _Rehearsal(sandbox, base, config, f"sqlite:///{tmp_path / 'arb.db'}",
                         {"ARB_GATE_API_KEY": key, "ARB_GATE_API_SECRET": secret}, key, secret)
    finally:
        sandbox.kill()


def test_sigkill_mid_trade_then_restart_reconciles(tmp_path: Path) -> None:
    with _rehearsal(tmp_path, "k-sigkill") as rehearsal:
        db, config, engine_env, base = rehearsal.db, rehearsal.config, rehearsal.env, rehearsal.base
        key, secret = rehearsal.key, rehearsal.secret
        engine = create_engine(db)
        gate_orders_in_flight, fault = rehearsal.gate_orders_in_flight, rehearsal.fault

        # Orders are placed at once but answered only after 60 s: the process dies in between.
        fault(order_response_delay_s=60)
        first = Proc(["run", "--config", str(config), "--db", db], cwd=tmp_path, env=engine_env)
        try:
            first.wait_for("a Gate order in flight", lambda: bool(gate_orders_in_flight()), timeout=120)
            stuck = gate_orders_in_flight()[0]
            # A second engine now would reconcile the first one's order in flight as "not on the venue":
            # it is refused before it touches anything, naming the holder.
            intruder = Proc(["run", "--config", str(config), "--db", db], cwd=tmp_path, env=engine_env)
            assert intruder.finish(60) == 2, intruder.text()
            refusal = "".join(intruder.err).strip()
            assert refusal.startswith("arb: error: ") and "\n" not in refusal, intruder.text()
            assert f"pid {first.popen.pid} on host {socket.gethostname()}, run 1, since " in refusal, refusal
            first.popen.send_signal(signal.SIGKILL)
            first.popen.wait(10)
        finally:
            first.kill()
        second = rehearsal.restart_reconciled()
        # The killed run was found (the lease died with its process) and marked before reconciling.
        log = "".join(second.err)
        assert log.index("run 1 marked crashed") < log.index("reconciled with venues"), second.text()
        with engine.connect() as c:
            runs = c.execute(text("SELECT id, status, status_reason, ended_at FROM runs ORDER BY id")).all()
        assert [(r.id, r.status) for r in runs] == [(1, "crashed"), (2, "completed")]
        assert runs[0].status_reason == f"process {first.popen.pid} on host {socket.gethostname()} died; found by run 2"
        assert runs[0].ended_at is None and runs[1].ended_at is not None

        with engine.connect() as c:
            row = c.execute(text("SELECT id, status, filled FROM orders WHERE client_order_id=:c"), {"c": stuck}).one()
            db_fills = c.execute(text("SELECT trade_id, amount FROM fills WHERE order_id=:o"), {"o": row.id}).all()
            copies = c.execute(text("SELECT count(*) FROM orders WHERE client_order_id=:c"), {"c": stuck}).scalar()
        assert copies == 1
        assert row.status in ("filled", "canceled"), row  # resolved from the venue's truth, not left in flight

        import asyncio

        async def venue_truth() -> tuple[list[dict], list[dict]]:
            ex = GateExchange.for_endpoint(base + "/api/v4", None, key, secret)
            try:
                await ex.load_markets()
                orders = await ex.fetch_closed_orders("LINK/USDT")
                trades = await ex.fetch_my_trades("LINK/USDT")
                return orders, trades
            finally:
                await ex.close()

        orders, trades = asyncio.run(venue_truth())
        on_venue = [o for o in orders if o["clientOrderId"] == stuck]
        assert len(on_venue) == 1  # placed exactly once, never resent under another id
        venue_trades = {t["id"]: Decimal(str(t["amount"])) for t in trades if t["order"] == on_venue[0]["id"]}
        assert {tid: Decimal(amt) for tid, amt in db_fills} == venue_trades  # nothing lost, nothing doubled
        assert Decimal(row.filled) == sum(venue_trades.values(), Decimal(0))
        # And over both runs: every trade the venue made is a fill in the database, once.
        with engine.connect() as c:
            gate_fills = {tid: Decimal(amt) for tid, amt in c.execute(
                text("SELECT trade_id, amount FROM fills WHERE venue='gate'"))}
        assert gate_fills == {t["id"]: Decimal(str(t["amount"])) for t in trades}


def test_a_second_ctrl_c_mid_trade_leaves_at_once_and_its_run_says_so(tmp_path: Path) -> None:
    """The first Ctrl-C waits for the pair in flight; a second one leaves now (exit status 130), and the run's
    row says so as it goes: ``crashed``, with the reason and the time, where it stayed ``running`` and the next
    start said its process had died. The next start then finds nothing to mark and reconciles the order the
    exit left in flight."""
    with _rehearsal(tmp_path, "k-forced") as rehearsal:
        # Orders are placed at once but answered only after 60 s: the first Ctrl-C's stop waits for the pair.
        rehearsal.fault(order_response_delay_s=60)
        first = rehearsal.run()
        try:
            first.wait_for("a Gate order in flight", lambda: bool(rehearsal.gate_orders_in_flight()), timeout=120)
            stuck = rehearsal.gate_orders_in_flight()[0]
            first.popen.send_signal(signal.SIGINT)
            first.wait_for("the first Ctrl-C", lambda: "(again to force)" in "".join(first.err), timeout=30)
            # A person's second Ctrl-C, not the first delivered again (``arb/signals.py``: 0.05 s apart or more).
            time.sleep(0.2)
            first.popen.send_signal(signal.SIGINT)
            assert first.finish(30) == 130, first.text()
        finally:
            first.kill()
        last = first.err[-1].strip()
        assert last.startswith("arb: run 1 recorded as crashed: forced to exit by a second SIGINT: "), first.text()
        assert last.endswith("orders in flight are reconciled at the next start"), first.text()
        assert "== arb run summary ==" not in "".join(first.out)  # no shutdown, no summary
        with create_engine(rehearsal.db).connect() as c:
            run = c.execute(text("SELECT status, status_reason, ended_at FROM runs")).one()
        assert (run.status, run.status_reason) == ("crashed", last.removeprefix("arb: run 1 recorded as crashed: "))
        assert run.ended_at is not None
        assert stuck in rehearsal.gate_orders_in_flight()  # what the exit left: reconciled at the next start

        second = rehearsal.restart_reconciled()
        assert "marked crashed" not in "".join(second.err), second.text()  # its own exit said so already
        with create_engine(rehearsal.db).connect() as c:
            runs = c.execute(text("SELECT id, status, status_reason FROM runs ORDER BY id")).all()
            resolved = c.execute(text("SELECT status FROM orders WHERE client_order_id=:c"), {"c": stuck}).scalar()
        assert [(r.id, r.status) for r in runs] == [(1, "crashed"), (2, "completed")]
        assert runs[0].status_reason == run.status_reason
        assert resolved in ("filled", "canceled")  # from the venue's truth, not left in flight
