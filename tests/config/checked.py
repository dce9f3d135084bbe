"""The config as ``arb config check`` accepts it: loaded, then preflighted (what the config tests hold a run to)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from arb.config import Config, load_config
from arb.runtime.preflight import preflight


def checked_config(path: str | Path, environ: Mapping[str, str] | None = None, *, ports: bool = True) -> Config:
    config = load_config(path, environ)
    preflight(config, ports=ports, environ=environ)
    return config
