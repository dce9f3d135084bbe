"""Shared helpers for engine tests: config variants, trimmed real captures, running the CLI in-process."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from arb.marketdata.capture import CaptureWriter, read_capture

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
