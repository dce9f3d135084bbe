"""`arb audit` on a live run against an `arb sandbox` in another process (Gate's API over loopback, real
signatures): a clean run audits clean; a fill row deleted, an order placed on the sandbox behind arb's back
and an amount changed in the database are each found, one line naming venue, symbol, ids and both values;
bad input is one line and exit 2 (or 1: a run the database does not hold, as `arb report` says it)."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import create_engine, delete, select
from sqlalchemy.orm import Session

from arb.cli import main
from arb.store.models import Fill, Order, Run
from arb.venues.gate.exchange import GateExchange

from .helpers import config_with, trimmed_capture
from .procs import Proc

KEY, SECRET = "k-audit", "s-" + "a" * 40
MODE = 'mode = "replay"              # replay | paper | live'


@dataclass(frozen=True)
class LiveRun:
    base: str  # the sandbox's URL
    db: Path  # the run's database, as the run left it (each test audits a copy)
    started: datetime
    ended: datetime


@pytest.fixture(scope="module")
def live_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRun]:
    """Five minutes of the bundled capture at 10x: a live run of ~30 s against the sandbox the config describes
    (fee 0, so it trades), the sandbox kept up for the audits. The sandbox plays its side from its own start
    and the run its paper side from the run's: the window leaves the run's start-up on a loaded machine (two
    suites at once took more than a one-minute window's 6 s) most of the time the two books overlap."""
    tmp = tmp_path_factory.mktemp("audit")
    capture = trimmed_capture(tmp, "00:40:00", "00:45:00")
    edits = {'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
             "speed = 0                    # 0 = as fast as possible; 1 = recorded speed": "speed = 10",
             'status = "auto"': 'status = "off"'}
    described = config_with(tmp, fee="0", name="sandbox.toml", extra={**edits, MODE: 'mode = "paper"'})
    sandbox = Proc(["sandbox", "--config", str(described), "--port", "0"], cwd=tmp,
                   env={"ARB_SANDBOX_KEY": KEY, "ARB_SANDBOX_SECRET": SECRET})
    try:
        sandbox.wait_for("sandbox listening", lambda: any("sandbox listening" in line for line in sandbox.out), 30)
        line = next(line for line in sandbox.out if "sandbox listening" in line)
        base = line.split("rest=")[1].split()[0].removesuffix("/api/v4")
        config = config_with(tmp, fee="0", extra={**edits, MODE: 'mode = "live"',
                                                  "port = 0 ": f'url = "{base}"\nport = 0 '})
        db = tmp / "arb.db"
        run = Proc(["run", "--config", str(config), "--db", f"sqlite:///{db}"], cwd=tmp,
                   env={"ARB_GATE_API_KEY": KEY, "ARB_GATE_API_SECRET": SECRET})
        assert run.finish(120) == 0, run.text()
        with Session(create_engine(f"sqlite:///{db}")) as s:
            row = s.execute(select(Run)).scalar_one()
            assert row.ended_at is not None
            assert s.scalar(select(Fill).where(Fill.venue == "gate").limit(1)) is not None, "the run never traded"
            yield LiveRun(base, db, row.started_at, row.ended_at)
    finally:
        sandbox.kill()


@pytest.fixture
def audit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
          live_run: LiveRun) -> Iterator[tuple[Path, object]]:
    """A copy of the run's database, and ``arb audit ARGS`` on it in-process: (exit status, stdout lines,
    stderr)."""
    copy = tmp_path / "audited.db"
    shutil.copy(live_run.db, copy)
    monkeypatch.setenv("ARB_GATE_API_KEY", KEY)
    monkeypatch.setenv("ARB_GATE_API_SECRET", SECRET)
    monkeypatch.delenv("ARB_DB_URL", raising=False)
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> tuple[int, list[str], str]:
        code = main(["audit", "--db", f"sqlite:///{copy}", *args])
        out, err = capsys.readouterr()
        return code, out.splitlines(), err

    yield copy, run


def _session(db: Path) -> Session:
    return Session(create_engine(f"sqlite:///{db}"))


def test_a_clean_run_audits_clean_in_one_line(audit: tuple[Path, object]) -> None:
    """Clean, and the stored orders add up: those the venue refused (here one more, as a leg refused 429 "too
    many requests" is stored; a loaded CI run's own had one) are said apart from the matched ones."""
    db, run = audit
    with _session(db) as s, s.begin():
        last = s.scalars(select(Order).where(Order.venue == "gate").order_by(Order.id.desc()).limit(1)).first()
        assert last is not None
        columns = {c.key: getattr(last, c.key) for c in Order.__table__.columns if c.key not in ("id", "venue_order_id")}
        s.add(Order(**{**columns, "client_order_id": "t-refused", "status": "rejected", "filled": Decimal(0)}))
    with _session(db) as s:
        gate = select(Order.id).where(Order.venue == "gate")
        refused = len(s.scalars(gate.where(Order.status == "rejected", Order.venue_order_id.is_(None))).all())
        n_orders = len(s.scalars(gate).all()) - refused
        n_fills = len(s.scalars(select(Fill.id).where(Fill.venue == "gate")).all())
    assert refused >= 1 and n_orders > 0
    code, out, err = run("--run", "1")  # type: ignore[operator]
    assert (code, err) == (0, ""), (out, err)
    orders_word = "order" if refused == 1 else "orders"
    assert out == [f"audit: {n_orders} orders and {n_fills} fills on gate match the database (run 1); {refused} "
                   f"{orders_word} refused by gate, never on it; htx not audited: a paper venue (its orders never left "
                   "arb)"]
    code, out, err = run("--format", "json")  # type: ignore[operator]
    doc = json.loads("\n".join(out))
    assert code == 0 and doc["findings"] == [] and doc["venues"]["gate"] == {
        "orders": n_orders, "fills": n_fills, "refused": refused, "findings": 0}


def test_a_deleted_fill_is_missing_from_the_database(audit: tuple[Path, object]) -> None:
    db, run = audit
    with _session(db) as s, s.begin():
        fill = s.scalars(select(Fill).where(Fill.venue == "gate").order_by(Fill.id)).first()
        assert fill is not None
        order = fill.order
        head = (f"missing fill: gate LINK/USDT trade_id={fill.trade_id} client_order_id={order.client_order_id} "
                f"venue_order_id={order.venue_order_id}: on the venue, not in the database (")
        row = (order.side, fill.amount, fill.price, fill.fee, fill.fee_currency)
        s.execute(delete(Fill).where(Fill.id == fill.id))
    code, out, _ = run("--run", "1")  # type: ignore[operator]
    assert code == 1, out
    assert len(out) == 2 and out[0].startswith(head), out
    side, amount, _, price, _, fee, currency = out[0].removeprefix(head).rstrip(")").replace(",", "").split()
    assert (side, Decimal(amount), Decimal(price), Decimal(fee), currency) == row  # the venue's text, exact
    assert out[-1].startswith("audit: 1 findings in run 1 (")


def test_an_amount_changed_in_the_database_is_different_naming_both_values(audit: tuple[Path, object]) -> None:
    db, run = audit
    with _session(db) as s, s.begin():
        order = s.scalars(select(Order).where(Order.venue == "gate").order_by(Order.id)).first()
        assert order is not None
        was = order.amount
        order.amount = was + Decimal("1.5")
        fill = order.fills[0]
        fill_was = fill.amount
        fill.amount = fill_was * 2
        cid, vid, trade_id = order.client_order_id, order.venue_order_id, fill.trade_id
    code, out, _ = run("--run", "1")  # type: ignore[operator]
    assert code == 1, out
    assert len(out) == 3, out
    order_head = f"different order: gate LINK/USDT client_order_id={cid} venue_order_id={vid}: "
    fill_head = f"different fill: gate LINK/USDT trade_id={trade_id} client_order_id={cid} venue_order_id={vid}: "
    assert out[0].startswith(order_head) and out[1].startswith(fill_head), out
    # Only the amount differs (the venue's figures as it writes them: 20.0 for 20), both values named.
    assert _differences(out[0].removeprefix(order_head)) == {"amount": (was + Decimal("1.5"), was)}
    assert _differences(out[1].removeprefix(fill_head)) == {"amount": (fill_was * 2, fill_was)}


def _differences(text: str) -> dict[str, tuple[Decimal, Decimal]]:
    out = {}
    for part in text.split("; "):
        name, database, db_value, venue, venue_value = part.split()
        assert (database, venue) == ("database", "venue"), text
        out[name] = (Decimal(db_value), Decimal(venue_value))
    return out


def test_orders_placed_behind_arbs_back_are_missing_in_their_window(audit: tuple[Path, object],
                                                                    live_run: LiveRun) -> None:
    """Placed on the sandbox with the run's keys, not through arb: one that fills (its trades too) and one
    that rests. The run's own audit stays clean (they came after it); a window that holds them finds them."""
    _, run = audit

    async def place() -> list[dict]:
        ex = GateExchange.for_endpoint(live_run.base + "/api/v4", None, KEY, SECRET)
        try:
            # Funded for these two orders whatever the run left: how much it traded, and spent, depends on the
            # machine's speed (a loaded CI run spent every USDT and this buy was refused).
            async with aiohttp.ClientSession() as http:
                async with http.post(f"{live_run.base}/_sandbox/balance",
                                     json={"key": KEY, "currency": "USDT", "available": "1000"}) as answer:
                    assert answer.status == 200, await answer.text()
            await ex.load_markets()
            book = await ex.fetch_order_book("LINK/USDT")
            taken = await ex.create_order("LINK/USDT", "limit", "buy", 1, book["asks"][0][0] * 1.01,
                                          {"timeInForce": "IOC"})
            resting = await ex.create_order("LINK/USDT", "limit", "buy", 2, round(book["bids"][0][0] * 0.5, 3))
            return [taken, resting]
        finally:
            await ex.close()

    since = datetime.now(UTC) - timedelta(seconds=1)
    taken, resting = asyncio.run(place())
    code, out, _ = run("--run", "1")  # type: ignore[operator]
    assert code == 0, out
    code, out, _ = run("--since", since.isoformat(), "--until",  # type: ignore[operator]
                       (datetime.now(UTC) + timedelta(seconds=5)).isoformat())
    assert code == 1, out
    # Gate's own text for an order sent without one ("apiv4") is its client order id.
    order = "missing order: gate LINK/USDT client_order_id=apiv4 venue_order_id={}: on the venue, not in the database ("
    assert len(out) == 4, out
    assert out[0].startswith(order.format(taken["id"]) + "buy 1.0 @ ") and out[0].endswith(", filled)"), out
    assert out[1].startswith(order.format(resting["id"]) + "buy 2.0 @ ") and out[1].endswith(", filled 0.0, open)"), out
    assert out[2].startswith("missing fill: gate LINK/USDT trade_id=") and (
        f" client_order_id=apiv4 venue_order_id={taken['id']}: on the venue, not in the database (buy 1.0 @ " in out[2])
    assert out[3].startswith("audit: 3 findings in the window ")


def test_hostile_input_is_one_line(audit: tuple[Path, object], live_run: LiveRun, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    db, run = audit
    code, out, err = run("--run", "9")  # type: ignore[operator]
    assert (code, out) == (1, []) and err == "arb: error: no run with id 9 in the database (1 runs)\n"
    with pytest.raises(SystemExit) as exit_:
        run("--since", "yesterday")  # type: ignore[operator]
    assert exit_.value.code == 2
    assert capsys.readouterr().err == ("arb audit: error: argument --since: not an ISO time: 'yesterday' "
                                       "(e.g. 2026-11-25T09:00:00Z) (see arb audit --help)\n")
    code, out, err = run("--until", "2026-01-01")  # type: ignore[operator]
    assert (code, out) == (2, []) and err == "arb: error: arb audit: --until needs --since (a window), or give --run\n"
    code, out, err = run("--since", "2001-01-01", "--until", "2001-01-02")  # type: ignore[operator]
    assert code == 2 and err.count("\n") == 1 and "no run in the database started before 2001-01-02T00:00:00.000Z" in err
    # Keys not in the environment: named as `arb run` names them, nothing read.
    with pytest.MonkeyPatch.context() as m:
        m.delenv("ARB_GATE_API_KEY")
        code, out, err = run("--run", "1")  # type: ignore[operator]
    assert code == 2 and err.count("\n") == 1 and "ARB_GATE_API_KEY" in err and SECRET not in err, err


def test_a_replay_has_nothing_to_audit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 2, not 0: no audit passed (nothing outlived the run to hold the database against), and a script
    checking `arb audit` must not read it as clean."""
    capture = trimmed_capture(tmp_path, "00:40:00", "00:40:30")
    config = config_with(tmp_path, extra={
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
        'status = "auto"': 'status = "off"'})
    db = f"sqlite:///{tmp_path / 'replay.db'}"
    replay = Proc(["run", "--config", str(config), "--db", db], cwd=tmp_path)
    assert replay.finish(120) == 0, replay.text()
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "--db", db]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == (
        "arb: error: audit: run 1 has no venue whose history outlives it (gate: a replay's venues are simulated "
        "inside its process; htx: a replay's venues are simulated inside its process); nothing to audit\n")
