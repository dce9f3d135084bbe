"""A failure is printed once (issue 32): ``arb: error: ...`` at the top, not also by every layer it passed.

Before: a bad capture line in a replay or run was printed three times (the supervisor's ERROR, the engine's
``run 1 failed`` ERROR, then ``arb: error:``), and a port already in use two or three times, after the run's
row was written. The run's row still says why it failed, and ``--debug`` shows the traceback.
"""

from __future__ import annotations

import gzip
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from .helpers import config_with, trimmed_capture
from .procs import Proc


def _bad_capture(tmp_path: Path) -> Path:
    capture = trimmed_capture(tmp_path, "00:40:00", "00:41:00")
    with gzip.open(capture, "rb") as f:
        lines = f.readlines()
    lines.insert(10, b'{"ts": "soon", "venue": "huobi"}\n')  # line 11: past the start, read by the run
    with gzip.open(capture, "wb") as f:
        f.writelines(lines)
    return capture


def _config(tmp_path: Path, capture: Path, extra: dict[str, str] | None = None) -> Path:
    return config_with(tmp_path, extra={
        '"bundled:linkusdt-binance-huobi-2021-08-20"': f'"{capture}"',
        'status = "auto"': 'status = "plain"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
        **(extra or {}),
    })


@pytest.mark.parametrize("command", ["replay", "run"])
def test_a_bad_capture_line_is_one_line_on_stderr(tmp_path: Path, command: str) -> None:
    capture = _bad_capture(tmp_path)
    config = _config(tmp_path, capture)
    db = f"sqlite:///{tmp_path / 'r.db'}"
    args = ["replay", str(capture)] if command == "replay" else ["run"]
    proc = Proc([*args, "--config", str(config), "--db", db], cwd=tmp_path)
    assert proc.finish(120) == 2, proc.text()
    where = f"{capture}:11:"
    mentions = [line for line in proc.err if where in line]
    assert len(mentions) == 1 and mentions[0].startswith(f"arb: error: {where} missing field"), proc.text()
    assert "Traceback" not in "".join(proc.err)
    with create_engine(db).connect() as c:  # the run's row keeps the reason
        status, reason = c.execute(text("SELECT status, status_reason FROM runs")).one()
    assert status == "failed" and reason.startswith(where), reason


@pytest.fixture
def held_port() -> Iterator[int]:
    """A loopback port another process (here: this one) is listening on."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield int(server.getsockname()[1])


@pytest.mark.parametrize("key", ["metrics_port", "dashboard_port"])
def test_a_port_in_use_is_one_line_before_anything_is_written(tmp_path: Path, held_port: int, key: str) -> None:
    config = _config(tmp_path, trimmed_capture(tmp_path, "00:40:00", "00:41:00"),
                     {"# metrics_port = 9108": f"{key} = {held_port}"})
    db = tmp_path / "r.db"
    line = f"arb: error: {config}: monitoring.{key}: cannot listen on 127.0.0.1:{held_port}: Address already in use"
    for args in (["config", "check", str(config)], ["run", "--config", str(config), "--db", f"sqlite:///{db}"]):
        proc = Proc(args, cwd=tmp_path)
        assert proc.finish(120) == 2, proc.text()
        assert [line.rstrip("\n") for line in proc.err if str(held_port) in line] == [line], proc.text()
        assert proc.err == [line + "\n"], proc.text()
    assert not db.exists() and not db.with_name("r.db.lock").exists()  # no database, no run row
