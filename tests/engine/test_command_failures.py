"""`arb run` / `arb replay` / `arb sandbox` failing honestly (issue 13, "Commands"): an unreachable venue is
one line naming it, Ctrl-C leaves no unretrieved future behind, a database deleted mid-run is an error and
not a summary, and `bundled:<name>` works on the command line as in the config."""

from __future__ import annotations

import signal
from pathlib import Path

from arb.cli import build_parser
from arb.commands.sandbox import sandbox_config
from arb.config.files import BUNDLED_DIR
from arb.venues.gate.sandbox.config import CaptureFeed

from .helpers import config_with, trimmed_capture
from .procs import Proc

BUNDLED_NAME = "linkusdt-binance-huobi-2021-08-20"


def _paper(tmp_path: Path, extra: dict[str, str] | None = None) -> Path:
    capture = trimmed_capture(tmp_path, "00:40:00", "00:50:00")
    return config_with(tmp_path, fee="0", extra={
        'mode = "replay"              # replay | paper | live': 'mode = "paper"',
        f'capture = "bundled:{BUNDLED_NAME}"': f'capture = "{capture.as_posix()}"',
        "speed = 0                    # 0 = as fast as possible; 1 = recorded speed": "speed = 10",
        'status = "auto"': 'status = "off"',
        **(extra or {}),
    })


def _started(proc: Proc) -> bool:
    return any("run 1 started" in line for line in proc.err)


def test_unreachable_venue_is_one_line_naming_it(tmp_path: Path) -> None:
    # An external sandbox URL on a loopback port nothing listens on: the same ccxt ExchangeNotAvailable that
    # `mode = "live"` without a network raises from load_markets, through the same opening code.
    config = _paper(tmp_path, {"port = 0 ": 'url = "http://127.0.0.1:1"\nport = 0 ',
                               'mode = "paper"': 'mode = "live"'})
    env = {"ARB_GATE_API_KEY": "k", "ARB_GATE_API_SECRET": "s" * 40}
    db = f"sqlite:///{tmp_path / 'x.db'}"
    proc = Proc(["run", "--config", str(config), "--db", db], cwd=tmp_path, env=env)
    assert proc.finish(60) == 1, proc.text()
    err = "".join(proc.err)
    lines = [line for line in proc.err if line.startswith("arb: error:")]
    assert len(lines) == 1 and lines[0].startswith("arb: error: gate: exchange not available"), proc.text()
    assert "Traceback" not in err and "ccxt.base.errors" not in err
    debug = Proc(["--debug", "run", "--config", str(config), "--db", db], cwd=tmp_path, env=env)
    assert debug.finish(60) == 1
    assert "Traceback" in "".join(debug.err) and "ExchangeNotAvailable" in "".join(debug.err)


def test_ctrl_c_in_paper_mode_leaves_no_unretrieved_future(tmp_path: Path) -> None:
    config = _paper(tmp_path)
    proc = Proc(["run", "--config", str(config), "--db", f"sqlite:///{tmp_path / 'x.db'}"], cwd=tmp_path)
    try:
        proc.wait_for("the run to start", lambda: _started(proc), timeout=60)
        proc.popen.send_signal(signal.SIGINT)
        assert proc.finish(60) == 0, proc.text()
    finally:
        proc.kill()
    err = "".join(proc.err)
    assert "never retrieved" not in err and "CancelledError" not in err and "Traceback" not in err, err
    assert "stopped: SIGINT" in "".join(proc.out)


def test_database_deleted_mid_run_is_an_error_not_a_summary(tmp_path: Path) -> None:
    config = _paper(tmp_path)
    db = tmp_path / "x.db"
    proc = Proc(["run", "--config", str(config), "--db", f"sqlite:///{db}"], cwd=tmp_path)
    try:
        proc.wait_for("the run to start", lambda: _started(proc), timeout=60)
        db.unlink()
        proc.popen.send_signal(signal.SIGINT)
        assert proc.finish(60) == 1, proc.text()
    finally:
        proc.kill()
    lines = [line for line in proc.err if line.startswith("arb: error:")]
    assert len(lines) == 1 and "x.db was deleted or replaced during the run" in lines[0], proc.text()
    assert "Traceback" not in "".join(proc.err)
    assert "run id" not in "".join(proc.out) and "summary" not in "".join(proc.out)


def test_bundled_names_work_on_the_command_line() -> None:
    capture = BUNDLED_DIR / f"{BUNDLED_NAME}.jsonl.gz"
    args = build_parser().parse_args(["replay", f"bundled:{BUNDLED_NAME}"])
    assert args.capture == capture
    sandbox, _ = sandbox_config(build_parser().parse_args(["sandbox", "--capture", f"bundled:{BUNDLED_NAME}",
                                                         "--port", "0"]))
    feed = sandbox.feeds[0]
    assert isinstance(feed, CaptureFeed) and Path(feed.path) == capture


def test_replay_of_a_bundled_name_runs(tmp_path: Path) -> None:
    config = config_with(tmp_path, extra={'status = "auto"': 'status = "off"'})
    proc = Proc(["replay", f"bundled:{BUNDLED_NAME}", "--config", str(config), "--db",
                 f"sqlite:///{tmp_path / 'r.db'}"], cwd=tmp_path)
    assert proc.finish(300) == 0, proc.text()
    assert "run id 1" in "".join(proc.out)
