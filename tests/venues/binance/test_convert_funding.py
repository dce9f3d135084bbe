"""`arb convert binance` writes a USD-M recording's mark price updates (``<symbol>@markPrice@1s``) as funding
lines (docs/CAPTURE.md): mark, rate, funding time, index, event time, in receive order with the book."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from arb.cli import main
from arb.marketdata.capture import CaptureFunding, read_capture

DATA = Path(__file__).resolve().parents[2] / "data" / "binance-usdm-ethusdt-20240808.gz"


def _mark(ns: int, symbol: str = "ETHUSDT", **fields: object) -> bytes:
    data = {"e": "markPriceUpdate", "E": ns // 1_000_000, "s": symbol, "p": "2680.51000000", "P": "2680.9",
            "i": "2679.93", "r": "0.00010000", "T": 1723190400000, **fields}
    return f"{ns} ".encode() + json.dumps({"stream": f"{symbol.lower()}@markPrice@1s", "data": data}).encode()


def _recording(tmp_path: Path, extra: list[tuple[int, bytes]]) -> Path:
    """The first 3,000 lines of the USD-M ETH recording with ``extra`` lines put after the given line numbers."""
    with gzip.open(DATA, "rb") as f:
        lines = [next(f).rstrip(b"\n") for _ in range(3000)]
    for after, line in sorted(extra, reverse=True):
        lines.insert(after, line)
    out = tmp_path / "raw.txt"
    out.write_bytes(b"\n".join(lines) + b"\n")
    return out


def _ns(path: Path, line_no: int) -> int:
    return int(path.read_bytes().splitlines()[line_no - 1].split(b" ", 1)[0])


def test_mark_price_updates_become_funding_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = _recording(tmp_path, [])
    at = [_ns(base, 500), _ns(base, 1500)]
    raw = _recording(tmp_path, [(500, _mark(at[0])), (1500, _mark(at[1], r="-0.00025000", p="2681")),
                                (1600, _mark(at[1], symbol="BTCUSDT"))])  # another symbol's: passed over
    out = tmp_path / "usdm.jsonl"
    assert main(["convert", "binance", str(raw), "--symbol", "ETH/USDT:USDT", "--out", str(out)]) == 0
    assert "2 funding lines (mark price and rate)" in capsys.readouterr().out
    funding = [e for e in read_capture(out, trades=True) if isinstance(e, CaptureFunding)]
    assert funding == [
        CaptureFunding(at[0] // 1_000_000, "binanceusdm", "ETH/USDT:USDT", "2680.51000000", "0.00010000",
                       1723190400000, "2679.93", at[0] // 1_000_000),
        CaptureFunding(at[1] // 1_000_000, "binanceusdm", "ETH/USDT:USDT", "2681", "-0.00025000", 1723190400000,
                       "2679.93", at[1] // 1_000_000)]


def test_a_malformed_mark_price_update_names_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = _recording(tmp_path, [])
    raw = _recording(tmp_path, [(700, _mark(_ns(base, 700), r="a lot"))])
    out = tmp_path / "usdm.jsonl"
    assert main(["convert", "binance", str(raw), "--symbol", "ETH/USDT:USDT", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{raw}:701" in err and "a malformed mark price update" in err and "'rate'" in err
    assert not out.exists()
