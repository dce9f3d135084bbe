"""Paths to the real recorded payloads in tests/data (see tests/data/NOTICE)."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"
BINANCE_SPOT = DATA / "binance-spot-btcusdt-20240808.gz"
BINANCE_USDM = DATA / "binance-usdm-btcusdt-20240808.gz"
BINANCE_COINM = DATA / "binance-coinm-btcusd_perp-20240808.gz"
GATE_WS = DATA / "gateio-ws-1.0.txt"
GATE_HTTP = DATA / "gateio-http-0.0.txt"
