"""``arb sandbox``: run a venue's local exchange (the one ``kind = "sandbox"`` venues use) in the foreground
until interrupted.

The exchange is found through the venue registry, as ``arb convert`` finds converters: the adapter with a
sandbox gives its own arguments, the sandbox they describe and the serving (``VenueAdapter.sandbox_command``),
so this module names no venue. What is the command's own: ``--config``/``--venue`` (start it as an arb
config's sandbox venue describes, after the same checks ``arb run`` makes), ``--host`` and ``--port``.
"""

from __future__ import annotations

import argparse
from typing import Any

from arb.commands.arguments import capture_argument, port
from arb.errors import ConfigError
from arb.venues.adapter import SandboxCommand
from arb.venues.registry import ADAPTERS, sandbox_adapters


def _command() -> SandboxCommand:
    """The one sandbox arb ships (its adapter's). A second venue with a sandbox would add an ``--adapter``
    choice here; until then there is nothing to choose."""
    (key,) = sandbox_adapters()
    found = ADAPTERS[key].sandbox_command()
    assert found is not None  # has_sandbox
    return found


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("sandbox")
    p.add_argument("--config", default=None, metavar="FILE",
                   help="start as this arb config's sandbox venue says: its pairs, fees, market rules, "
                        "balances and capture (the options below then only set host and port)")
    p.add_argument("--venue", action="append", default=None,
                   help="a sandbox venue of --config to serve (repeatable; default: all of them: one spot "
                        "venue and one futures venue share the sandbox's one account)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    p.add_argument("--port", type=port, default=8765, help="port (0: any free port)")
    _command().add_arguments(p, capture_argument)
    p.set_defaults(func=run)


def from_arb_config(args: argparse.Namespace) -> tuple[Any, list[str]]:
    """The sandbox an arb config's sandbox venues describe, so that config's runs trade what it says: those
    ``--venue`` names, or every sandbox venue of the config (its ``[sandbox] url`` is one for all of them);
    and the names served."""
    from arb.config import load_config
    from arb.runtime.preflight import preflight
    from arb.venues.registry import ref_for

    config = load_config(args.config)
    preflight(config, ports=False)  # as `arb run` would refuse it; the sandbox's port is --port's
    venues = [name for name, section in config.venues.items() if section.kind == "sandbox"]
    names = list(dict.fromkeys(args.venue or venues))
    for name in names or [None]:
        if name not in venues:
            raise ConfigError(str(config.path), "venues", f"no sandbox venue {name!r} (sandbox venues: "
                              f"{', '.join(venues) or 'none'})")
    command = ref_for(config, names[0]).adapter.sandbox_command()  # the one adapter with a sandbox: all of theirs
    assert command is not None  # preflight refuses a sandbox venue whose adapter has none
    return command.from_config(config, names, args), names


def sandbox_config(args: argparse.Namespace) -> tuple[Any, list[str] | None]:
    """The sandbox's configuration and the config's venues it serves (None from the command line: the
    adapter's own venue)."""
    if args.config is not None:
        return from_arb_config(args)
    return _command().from_arguments(args), None


def run(args: argparse.Namespace) -> int:
    config, venues = sandbox_config(args)
    return _command().serve(config, venues)
