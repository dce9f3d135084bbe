"""``Config``: the validated configuration, frozen, with where it came from and the credentials found for it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from arb.config.files import beside_config, resolve_capture
from arb.config.schema import (
    DetectionSection,
    EngineSection,
    ExecutionSection,
    MonitoringSection,
    RebalanceSection,
    ReplaySection,
    RiskSection,
    SandboxSection,
    StoreSection,
    SymbolSection,
    VenueSection,
)
from arb.config.secrets import Credentials, mask_alert_url, mask_url
from arb.domain.market_names import MarketNames


@dataclass(frozen=True)
class Config:
    """The validated configuration plus where it came from and the credentials found for it."""

    path: Path
    engine: EngineSection
    store: StoreSection
    replay: ReplaySection | None
    detection: DetectionSection
    symbols: Mapping[str, SymbolSection]
    risk: RiskSection
    execution: ExecutionSection
    venues: Mapping[str, VenueSection]
    sandbox: SandboxSection
    credentials: Mapping[str, Credentials]
    overrides: Mapping[str, str] = dataclasses.field(default_factory=dict)  # key -> the ARB__ variable setting it
    monitoring: MonitoringSection = MonitoringSection()  # alert_urls: the file's and $ARB_ALERT_URLS
    rebalance: RebalanceSection = RebalanceSection()  # inventory targets and transfers (arb/rebalance.py)

    @property
    def simulated(self) -> bool:
        """A replay, or paper mode on a capture: a deterministic simulation on the capture's market time
        (``arb/eventloop/simloop.py``); paper is the same simulation paced in wall time."""
        return self.engine.mode == "replay" or (self.engine.mode == "paper" and self.replay is not None)

    @property
    def testnet_venues(self) -> tuple[str, ...]:
        """The live venues on their test environment (``testnet = true``), as the run's stored config says them
        (:func:`testnet_venues`)."""
        return tuple(name for name, section in self.venues.items() if section.testnet)

    @property
    def taker_symbols(self) -> tuple[str, ...]:
        """The engine symbols detection crosses between venues (``strategy = "taker"``)."""
        return tuple(s for s in self.engine.symbols if self.symbols[s].strategy == "taker")

    @property
    def basis_symbols(self) -> tuple[str, ...]:
        """The engine symbols traded on their spot-perpetual basis (``strategy = "basis"``)."""
        return tuple(s for s in self.engine.symbols if self.symbols[s].strategy == "basis")

    @property
    def maker_symbols(self) -> tuple[str, ...]:
        """The engine symbols quoted on one venue and hedged on another (``strategy = "maker"``)."""
        return tuple(s for s in self.engine.symbols if self.symbols[s].strategy == "maker")

    def quoted_on(self, venue: str) -> tuple[str, ...]:
        """The maker symbols whose quotes rest on ``venue`` (its maker venue, or its taker venue both ways)."""
        out = []
        for symbol in self.maker_symbols:
            maker = self.symbols[symbol].maker
            assert maker is not None
            if venue == maker.maker_venue or (maker.both_ways and venue == maker.taker_venue):
                out.append(symbol)
        return tuple(out)

    def venue_markets(self, venue: str) -> MarketNames:
        """The engine symbols ``venue`` trades and its names for them (validated by :func:`load_config`)."""
        section = self.venues[venue]
        return MarketNames.build(self.engine.symbols, section.symbols, section.market_names)

    def venues_trading(self, symbol: str) -> tuple[str, ...]:
        """The venues that trade ``symbol``, in config order: the only ones detection pairs for it."""
        return tuple(name for name, section in self.venues.items()
                     if section.symbols is None or symbol in section.symbols)

    def listening_ports(self) -> list[tuple[str, int]]:
        """(key, port) of each fixed port a run listens on, on 127.0.0.1: the metrics endpoint, the dashboard
        and the in-process sandbox (0, any free port, and what is off are left out)."""
        m = self.monitoring
        ports = [(key, port) for key, port in (("monitoring.metrics_port", m.metrics_port),
                                                ("monitoring.dashboard_port", m.dashboard_port)) if port]
        if self.sandbox.port and self.sandbox.url is None and any(v.kind == "sandbox" for v in self.venues.values()):
            ports.append(("sandbox.port", self.sandbox.port))
        return ports

    def capture_path(self) -> Path | None:
        if self.replay is None:
            return None
        return resolve_capture(self.replay.capture, self.path)

    def kill_switch_path(self) -> Path:
        """The kill-switch file the risk gate looks for, absolute: ``[risk] kill_switch_file`` in the config's
        directory unless absolute, as ``[replay] capture`` is, so the file beside the config stops a run
        started from anywhere. Its directory is resolved (``..`` and links), not the file itself: a kill switch
        that is a link is watched where the link is, whatever it is repointed to."""
        path = beside_config(self.risk.kill_switch_file, self.path)
        return path.parent.resolve() / path.name

    def latency_profile_path(self, venue: str) -> Path | None:
        """``[venues.<venue>] latency_profile``, in the config's directory unless absolute (as the capture and the
        kill-switch file are); None when the venue names none. That it reads as a profile is the preflight's
        to check (``arb/venues/latency_profile.py``)."""
        text = self.venues[venue].latency_profile
        return None if text is None else beside_config(text, self.path)

    def snapshot(self) -> dict[str, Any]:
        """The effective config as plain JSON-able data, secrets masked. Stored with every run."""
        data: dict[str, Any] = {
            "engine": self.engine.model_dump(mode="json"),
            "store": {"url": mask_url(self.store.url)},
            "replay": self.replay.model_dump(mode="json") if self.replay else None,
            "detection": self.detection.model_dump(mode="json"),
            "symbols": {k: v.model_dump(mode="json") for k, v in self.symbols.items()},
            "risk": self.risk.model_dump(mode="json"),
            "execution": self.execution.model_dump(mode="json"),
            "venues": {k: v.model_dump(mode="json") for k, v in self.venues.items()},
            "sandbox": self.sandbox.model_dump(mode="json"),
            "monitoring": {**self.monitoring.model_dump(mode="json"),
                           "alert_urls": [mask_alert_url(u) for u in self.monitoring.alert_urls]},
            "rebalance": self.rebalance.model_dump(mode="json"),
        }
        for venue in self.venues:
            found = venue in self.credentials
            data["venues"][venue]["credentials"] = "*** (from environment)" if found else "(not set)"
        return _no_floats(data)


def testnet_venues(snapshot: Mapping[str, Any]) -> tuple[str, ...]:
    """The venues a run's stored config (``Config.snapshot``) put on their test environment: a run's mode is
    ``live`` on a testnet too (the runs table's mode is what traded, not where), and this is where the testnet
    is recorded. A snapshot stored before the key existed has none."""
    venues = snapshot.get("venues")
    if not isinstance(venues, Mapping):  # a hand-written snapshot (tests', a notebook's) may list them
        return ()
    return tuple(name for name, section in venues.items() if isinstance(section, Mapping) and section.get("testnet"))


def mode_shown(mode: str, testnet: tuple[str, ...] | list[str]) -> str:
    """A run's mode as every surface shows it (the start line, the status view, the dashboard's header, the
    summary): ``live``, or ``live (testnet: gate_main, binance)`` when venues trade on their test environment."""
    return f"{mode} (testnet: {', '.join(testnet)})" if testnet else mode


def _no_floats(node: Any) -> Any:
    """Durations and speeds are floats in the config; the store keeps numbers exact, so they become the
    decimal they were written as."""
    if isinstance(node, float):
        return Decimal(repr(node))
    if isinstance(node, dict):
        return {k: _no_floats(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_no_floats(v) for v in node]
    return node
