"""A damaged capture ends the run with the reader's ``file:line`` error, whatever the mode and status view.

Issue 13: a truncated gzip capture gave an ``EOFError`` traceback when the status view was on (the progress
bar's line count read the file before the strict reader); in paper mode a bad line was swallowed, both
books went stale and the run never ended.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from arb.cli import main
from arb.engine import Engine
from arb.errors import ArbError
from arb.runtime.logs import RUN_ID

from .helpers import config_with, trimmed_capture
from .paper_rig import paper_config


@pytest.fixture
def arb_logging() -> Iterator[None]:
    """Undo the logging `arb run` sets up: its handler writes to the stream captured for this test."""
    root = logging.getLogger()
    level = root.level
    yield
    root.handlers[:] = [h for h in root.handlers if not getattr(h, "_arb", False)]
    root.setLevel(level)
    RUN_ID.run_id = None


def _truncated(tmp_path: Path) -> Path:
    capture = trimmed_capture(tmp_path, "00:40:00", "00:41:00")
    data = capture.read_bytes()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) * 2 // 3])  # the first lines read; the stream ends mid-way
    return cut


@pytest.mark.parametrize("status", ["plain", "off"])
def test_truncated_gzip_is_a_file_and_line_error_with_the_status_view_on_or_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], status: str, arb_logging: None
) -> None:
    cut = _truncated(tmp_path)
    config = config_with(tmp_path, extra={
        '"bundled:linkusdt-binance-huobi-2021-08-20"': f'"{cut}"',
        'status = "auto"': f'status = "{status}"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
    })
    db = f"sqlite:///{tmp_path / 'r.db'}"
    assert main(["config", "check", str(config)]) == 0  # its start is intact: only the run can find the cut
    capsys.readouterr()
    assert main(["run", "--config", str(config), "--db", db]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "EOFError" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("arb: error:")]
    assert len(lines) == 1, err
    assert f"{cut}:" in lines[0] and "unreadable: Compressed file ended" in lines[0], lines[0]
    with create_engine(db).connect() as c:
        status_, reason = c.execute(text("SELECT status, status_reason FROM runs")).one()
    assert status_ == "failed" and f"{cut}:" in reason


async def test_a_bad_line_in_paper_mode_ends_the_run_with_file_and_line(tmp_path: Path) -> None:
    config = paper_config(tmp_path, "00:40:00", "00:40:20", speed=20)
    capture = config.capture_path()
    assert capture is not None
    with gzip.open(capture, "rb") as f:
        lines = f.readlines()
    lines.insert(10, b'{"ts": "soon", "venue": "huobi"}\n')  # line 11, before both venues' next events
    with gzip.open(capture, "wb") as f:
        f.writelines(lines)
    db = f"sqlite:///{tmp_path / 'p.db'}"
    with pytest.raises(ArbError) as failed:
        # Before the fix this never returned: the pacer died silently and the sandbox's side never ended.
        await asyncio.wait_for(Engine(config, db_url=db, install_signal_handlers=False).run(), 60)
    assert f"{capture}:11: missing field(s)" in str(failed.value), failed.value
    with create_engine(db).connect() as c:
        status, reason = c.execute(text("SELECT status, status_reason FROM runs")).one()
    assert status == "failed" and f"{capture}:11:" in reason


async def test_a_bad_line_ends_the_run_when_only_sandboxes_play_the_capture(tmp_path: Path) -> None:
    # Both venues are sandboxes: each plays its side of the capture itself, and no pacer of ours reads it.
    config = paper_config(tmp_path, "00:40:00", "00:40:20", speed=20, extra={
        'kind = "paper"': 'adapter = "gate"  # a second Gate account, named htx\nkind = "sandbox"',
        'price_step = "0.0001", amount_step = "0.01", min_amount = "0.01", min_notional = "5"':
        'price_step = "0.0001", amount_step = "0.01", min_amount = "0.01", min_notional = "5"',
    })
    assert {v.kind for v in config.venues.values()} == {"sandbox"}
    capture = config.capture_path()
    assert capture is not None
    with gzip.open(capture, "rb") as f:
        lines = f.readlines()
    lines.insert(10, b"not json\n")
    with gzip.open(capture, "wb") as f:
        f.writelines(lines)
    db = f"sqlite:///{tmp_path / 's.db'}"
    with pytest.raises(ArbError) as failed:
        await asyncio.wait_for(Engine(config, db_url=db, install_signal_handlers=False).run(), 60)
    assert f"{capture}:11: malformed JSON" in str(failed.value), failed.value
    with create_engine(db).connect() as c:
        status, reason = c.execute(text("SELECT status, status_reason FROM runs")).one()
    assert status == "failed" and f"{capture}:11:" in reason
