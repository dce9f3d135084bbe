"""A live rehearsal of automatic transfers (#49): a live-mode run against two in-process Gate sandboxes
connected as peers, ``[rebalance] transfers = "auto"``, one venue holding far more USDT than its band allows.
The rebalancer withdraws USDT through the venue's wallet API to the other sandbox's deposit address (from the
environment), follows the withdrawal and the deposit, and the row goes ``sent`` -> ``arrived`` with the venue's
id and fee; the sandboxes' balances then equal the run's stored end balances, and the inventory check finds no
flow it cannot explain."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from arb.config import load_config
from arb.errors import ConfigError
from arb.runtime.preflight import preflight
from arb.store.db import make_engine, make_session_factory
from arb.store.repo import inventory_check
from arb.venues.gate.adapter import sandbox_deposit_address
from arb.venues.transfers import address_variable

from .paper_rig import SpyEngine, rehearsal_config, until

D = Decimal
# htx becomes a second Gate sandbox (playing the capture's huobi side); gate holds 9,000 USDT, htx 1,000.
SECOND_GATE = {
    '[venues.htx]\nkind = "paper"': '[venues.htx]\nadapter = "gate"\nkind = "sandbox"',
    'balances = { USDT = "5000", LINK = "200" }\n# Optional': 'balances = { USDT = "9000", LINK = "200" }\n# Optional',
    'balances = { USDT = "5000", LINK = "200" }\nlatency_ms': 'balances = { USDT = "1000", LINK = "200" }\nlatency_ms',
}
# The config's fee (3) and minimum (1) are overridden by the sandbox's own terms for USDT on TRX: fee 1,
# minimum 2. Half a second on the sandbox's clock to arrive.
REBALANCE = ('\n[rebalance]\ntransfers = "auto"\ncheck_s = 0.2\n'
             'assets.USDT = { targets = { gate = "0.5", htx = "0.5" }, band = "0.2", fee = "3", minimum = "1", '
             'network = "TRX", delay_s = 0.5 }\n')


def _config(tmp_path: Path) -> Any:
    config = rehearsal_config(tmp_path, "00:00", "01:00", speed=1, extra=SECOND_GATE)
    config.path.write_text(config.path.read_text() + REBALANCE)
    return load_config(config.path)


def _addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    for venue in ("gate", "htx"):
        monkeypatch.setenv(address_variable(venue, "USDT", "TRX"), sandbox_deposit_address(venue, "USDT", "TRX"))


def test_a_missing_address_is_refused_before_the_run_naming_its_variable(tmp_path: Path) -> None:
    config = _config(tmp_path)
    with pytest.raises(ConfigError) as refused:
        preflight(config, ports=False, environ={"ARB_GATE_USDT_TRX_ADDRESS": "x"})
    assert refused.value.key == "ARB_HTX_USDT_TRX_ADDRESS" and "\n" not in str(refused.value)
    preflight(config, ports=False, environ={"ARB_GATE_USDT_TRX_ADDRESS": "x", "ARB_HTX_USDT_TRX_ADDRESS": "y"})


async def test_usdt_moves_between_two_gate_sandboxes_and_their_balances_equal_the_database(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _addresses(monkeypatch)
    config = _config(tmp_path)
    db = f"sqlite:///{tmp_path / 'live.db'}"
    engine = SpyEngine(config, db_url=db, install_signal_handlers=False)
    run = asyncio.create_task(engine.run())
    reader = create_engine(db)

    def statuses() -> list[str]:
        with reader.connect() as c:
            return [s for (s,) in c.execute(text("SELECT status FROM transfers ORDER BY id"))]

    try:
        await until(lambda: engine.venues is not None and bool(engine.venues.transfers), "venues open", run=run)
        assert engine.venues is not None
        links = {name: engine.venues.sandboxes[name] for name in ("gate", "htx")}
        await until(lambda: "arrived" in statuses(), "a transfer arrived", timeout=30, run=run)
        engine.request_stop("test done")
        await asyncio.wait_for(run, 60)
    finally:
        if not run.done():
            engine.request_stop("test failed")
            await asyncio.wait_for(asyncio.gather(run, return_exceptions=True), 30)
    with reader.connect() as c:
        rows = c.execute(text("SELECT source, dest, amount, fee, status, client_id, venue_id, network, failure "
                              "FROM transfers ORDER BY id")).all()
        run_id = c.execute(text("SELECT max(id) FROM runs")).scalar_one()
        end = {(v, a): D(str(t)) for v, a, t in c.execute(text(
            "SELECT venue, asset, total FROM balances WHERE kind = 'end' AND run_id = :r"), {"r": run_id})}
    first = rows[0]
    assert (first.source, first.dest, first.status, first.network, first.failure) == ("gate", "htx", "arrived",
                                                                                      "TRX", None)
    assert D(str(first.fee)) == 1  # the venue's fee, not the config's 3
    assert first.client_id == f"arb{run_id}t1" and first.venue_id
    gate, htx = (links[n].sandbox for n in ("gate", "htx"))
    assert gate is not None and htx is not None
    [withdrawal] = [w for w in gate.wallet.withdrawals if w.client_id == first.client_id]  # type: ignore[attr-defined]
    assert (withdrawal.id, withdrawal.amount + withdrawal.fee, withdrawal.fee) == (
        first.venue_id, D(str(first.amount)), D(1))
    assert [d.amount for d in htx.wallet.deposits] == [withdrawal.amount]  # type: ignore[attr-defined]
    assert D(str(first.amount)) > 2000  # a real move towards the 5,000/5,000 target
    for name, link in links.items():
        assert link.sandbox is not None and link.account is not None
        for asset in ("USDT", "LINK"):
            held = link.sandbox.engine.balance(link.account, asset)  # type: ignore[attr-defined]
            assert held.available + held.locked == end[(name, asset)], (name, asset)
    sessions = make_session_factory(make_engine(db))
    with sessions() as session:
        checked = inventory_check(session, run_id)
    assert {(r.venue, r.asset) for r in checked} >= {("gate", "USDT"), ("htx", "USDT")}
    assert all(r.external_flow == 0 for r in checked), checked
