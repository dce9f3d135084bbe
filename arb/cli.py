"""The ``arb`` command: one entry point, one top-level error handler, exit codes.

Each feature package contributes its subcommands through a ``register(subparsers)`` function in its own
``cli`` module (listed in ``COMMAND_MODULES``); ``register`` sets ``func`` on its parser, called with the
parsed ``argparse.Namespace`` and returning the exit status.

Exit codes: 0 ok, 1 runtime failure, 2 bad input (config, arguments, capture file) or a database another
engine holds, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from arb import __version__
from arb.errors import ArbError, CaptureFormatError, ConfigError, DatabaseInUse

COMMAND_MODULES = (
    "arb.commands.run",
    "arb.commands.config",
    "arb.commands.db",
    "arb.sandbox.cli",
    "arb.marketdata.cli",
    "arb.commands.replay",
    "arb.commands.report",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="arb",
        description="Cross-exchange crypto arbitrage engine. Runs offline by default on bundled data.",
    )
    parser.add_argument("--version", action="version", version=f"arb {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ConfigError, CaptureFormatError, DatabaseInUse) as exc:
        print(f"arb: error: {exc}", file=sys.stderr)
        return 2
    except ArbError as exc:
        print(f"arb: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("arb: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
