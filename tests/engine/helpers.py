"""Shared helpers for engine tests: config variants, trimmed real captures, running the CLI in-process."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from arb.marketdata.capture import CaptureWriter, read_capture

if TYPE_CHECKING:
    from .procs import Proc

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config.toml"
BUNDLED = ROOT / "arb/data/linkusdt-binance-huobi-2021-08-20.jsonl.gz"


def config_with(tmp_path: Path, *, fee: str | None = None, name: str = "config.toml", extra: dict[str, str] | None = None) -> Path:
    """The shipped config with every venue's taker_fee set to ``fee`` and any literal replacements."""
    text = SHIPPED.read_text()
    if fee is not None:
        text = re.sub(r'taker_fee = "[0-9.]+"', f'taker_fee = "{fee}"', text)
    for old, new in (extra or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text)
    return path


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def trimmed_capture(tmp_path: Path, start: str, end: str, name: str = "window.jsonl.gz") -> Path:
    """The bundled real capture cut to [start, end) (ISO times, UTC, on 2021-08-20)."""
    lo, hi = ms(f"2021-08-20T{start}"), ms(f"2021-08-20T{end}")
    out = tmp_path / name
    with CaptureWriter(out) as writer:
        writer.write_all(e for e in read_capture(BUNDLED) if lo <= e.ts < hi)
    return out


def summary_number(stdout: str, label: str) -> str:
    match = re.search(rf"^{re.escape(label)}\s+(\S+)", stdout, re.M)
    assert match, f"{label!r} not in summary:\n{stdout}"
    return match.group(1)


def bench_module(name: str) -> ModuleType:
    """A script of ``bench/`` imported as a module (its workload builders are what several tests run)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def live_run_on_external_sandbox(tmp_path: Path, key: str, secret: str, extra: dict[str, str]) -> Iterator[Proc]:
    """``arb run`` in live mode against an ``arb sandbox`` in another process (LINK_USDT, keys ``key`` /
    ``secret``), on the shipped config with ``extra`` replacements; yields the run's process (not finished)
    and stops the sandbox after."""
    from .procs import Proc

    sandbox = Proc(["sandbox", "--port", "0", "--pair", "LINK_USDT"], cwd=tmp_path,
                   env={"ARB_SANDBOX_KEY": key, "ARB_SANDBOX_SECRET": secret})
    try:
        sandbox.wait_for("sandbox listening", lambda: any("sandbox listening" in line for line in sandbox.out), 30)
        base = next(line for line in sandbox.out if "sandbox listening" in line).split("rest=")[1].split()[0]
        config = config_with(tmp_path, extra={
            'mode = "replay"              # replay | paper | live': 'mode = "live"',
            "speed = 0                    # 0 = as fast as possible; 1 = recorded speed": "speed = 1",
            "port = 0 ": f'url = "{base.removesuffix("/api/v4")}"\nport = 0 ',
            **extra,
        })
        yield Proc(["run", "--config", str(config), "--db", f"sqlite:///{tmp_path / 'x.db'}"], cwd=tmp_path,
                   env={"ARB_GATE_API_KEY": key, "ARB_GATE_API_SECRET": secret})
    finally:
        sandbox.kill()


def halted_config(tmp_path: Path) -> Path:
    """A replay (the shipped config's mode; the first 30 min of its capture, low fee) whose leg policy halts on
    a naked leg: htx 1,500 ms away, ``leg_policy = "halt"``, no status screen; exits 3 with an open position."""
    capture = trimmed_capture(tmp_path, "00:00", "00:30")
    return config_with(tmp_path, fee="0.0001", extra={
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
        'status = "auto"': 'status = "off"',
        'leg_policy = "unwind"': 'leg_policy = "halt"',
        "latency_ms = 20 ": "latency_ms = 1500\n#",
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
    })


def assert_same_opportunities(*databases: Path, where: str = "1 = 1") -> None:
    """The ``opportunities`` rows of each database (``where``), column for column but their ids: the same, and some."""
    from sqlalchemy import create_engine, text

    from arb.store.models import Opportunity

    columns = [c.key for c in Opportunity.__table__.columns if c.key not in ("id", "run_id")]
    stored = []
    for db in databases:
        with create_engine(f"sqlite:///{db}").connect() as c:
            stored.append(c.execute(text(f"SELECT {', '.join(columns)} FROM opportunities WHERE {where} "
                                         "ORDER BY id")).all())
    assert stored[0] and all(rows == stored[0] for rows in stored[1:])
