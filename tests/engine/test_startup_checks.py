"""Starting with something wrong fails before anything trades, with one clear line."""

from __future__ import annotations

from pathlib import Path

from .helpers import config_with, live_run_on_external_sandbox
from .procs import Proc


def test_live_without_keys_fails_with_one_line_naming_the_variables(tmp_path: Path) -> None:
    config = config_with(tmp_path, extra={
        'mode = "replay"              # replay | paper | live': 'mode = "live"',
        'kind = "sandbox"': 'kind = "live"',
    })
    proc = Proc(["run", "--config", str(config), "--db", f"sqlite:///{tmp_path / 'x.db'}"], cwd=tmp_path,
                env={"ARB_GATE_API_KEY": "", "ARB_GATE_API_SECRET": ""})
    assert proc.finish(60) == 2
    err = "".join(proc.err).strip().splitlines()
    assert len(err) == 1 and "venues.gate" in err[0] and "ARB_GATE_API_KEY" in err[0], err
    assert not (tmp_path / "x.db").exists()  # failed before opening anything


def test_symbol_the_venue_does_not_list_fails_before_trading(tmp_path: Path) -> None:
    with live_run_on_external_sandbox(tmp_path, "k-startup", "s-" + "y" * 40, {
        'symbols = ["LINK/USDT"]': 'symbols = ["DOGE/USDT"]',
        '[symbols."LINK/USDT"]': '[symbols."DOGE/USDT"]',
        'markets."LINK/USDT"': 'markets."DOGE/USDT"',
    }) as proc:
        assert proc.finish(60) == 1, proc.text()
        lines = [line for line in proc.err if line.startswith("arb: error:")]
        assert len(lines) == 1 and "does not list DOGE/USDT" in lines[0], proc.text()
        assert "Traceback" not in "".join(proc.err)
        # The pre-flight against the venue (runtime/online.py) found it before the lease: no database at all.
        assert not (tmp_path / "x.db").exists()


def test_wrong_keys_fail_at_the_venue_check_with_one_line_and_no_run_recorded(tmp_path: Path) -> None:
    # An `arb sandbox` in another process answers its public endpoints (markets, time) to anyone; opening
    # it compares its balances with the config's (a private call), so wrong keys fail there, before a run
    # is recorded or anything trades.
    described = config_with(tmp_path, name="sandbox.toml", extra={
        'mode = "replay"              # replay | paper | live': 'mode = "paper"',
        "speed = 0                    # 0 = as fast as possible; 1 = recorded speed": "speed = 1",
    })
    sandbox = Proc(["sandbox", "--config", str(described), "--port", "0"], cwd=tmp_path,
                   env={"ARB_SANDBOX_KEY": "k-right", "ARB_SANDBOX_SECRET": "s-" + "r" * 40})
    try:
        sandbox.wait_for("sandbox listening", lambda: any("sandbox listening" in line for line in sandbox.out), 30)
        base = next(line for line in sandbox.out if "sandbox listening" in line).split("rest=")[1].split()[0]
        config = config_with(tmp_path, extra={
            'mode = "replay"              # replay | paper | live': 'mode = "live"',
            "speed = 0                    # 0 = as fast as possible; 1 = recorded speed": "speed = 1",
            "port = 0 ": f'url = "{base.removesuffix("/api/v4")}"\nport = 0 ',
        })
        db = tmp_path / "x.db"
        proc = Proc(["run", "--config", str(config), "--db", f"sqlite:///{db}"], cwd=tmp_path,
                    env={"ARB_GATE_API_KEY": "k-wrong", "ARB_GATE_API_SECRET": "s-" + "w" * 40})
        assert proc.finish(60) == 1, proc.text()
        lines = [line.strip() for line in proc.err if line.startswith("arb: error:")]
        assert len(lines) == 1 and "gate" in lines[0] and "Traceback" not in "".join(proc.err), proc.text()
        assert "k-wrong" not in proc.text() and "w" * 40 not in proc.text()
        assert "does not authenticate" in lines[0] and "ARB_GATE_API_KEY" in lines[0], lines
        assert not db.exists()  # the pre-flight against the venue refused it before the lease: nothing written
    finally:
        sandbox.kill()


def test_a_live_venue_arb_cannot_look_orders_up_on_is_refused_at_start(tmp_path: Path) -> None:
    # kraken: ccxt streams its books, but arb has no checked client-id lookup for it: no blind trading.
    config = config_with(tmp_path, extra={
        'mode = "replay"              # replay | paper | live': 'mode = "live"',
        "speed = 0                    # 0 = as fast as possible; 1 = recorded speed": "speed = 1",
        "[venues.gate]\nkind = \"sandbox\"": '[venues.kraken_main]\nadapter = "kraken"\nkind = "live"',
    })
    env = {"ARB_KRAKEN_MAIN_API_KEY": "k", "ARB_KRAKEN_MAIN_API_SECRET": "s"}
    proc = Proc(["run", "--config", str(config), "--db", f"sqlite:///{tmp_path / 'x.db'}"], cwd=tmp_path, env=env)
    assert proc.finish(60) == 2
    err = "".join(proc.err).strip().splitlines()
    assert len(err) == 1 and "venues.kraken_main" in err[0] and "client order id" in err[0], err
    assert not (tmp_path / "x.db").exists()  # refused before opening anything
    # `config check` refuses it by the same code; as a paper venue (or with dry_run) it is fine.
    check = Proc(["config", "check", str(config)], cwd=tmp_path, env=env)
    assert check.finish(60) == 2
    dry = config_with(tmp_path, name="dry.toml", extra={
        'mode = "replay"              # replay | paper | live': 'mode = "live"',
        "speed = 0                    # 0 = as fast as possible; 1 = recorded speed": "speed = 1",
        "dry_run = false": "dry_run = true",
        "[venues.gate]\nkind = \"sandbox\"": '[venues.kraken_main]\nadapter = "kraken"\nkind = "live"',
    })
    assert Proc(["config", "check", str(dry)], cwd=tmp_path, env=env).finish(60) == 0
