"""CLI subcommands that wire several packages together."""

from __future__ import annotations

import argparse
from typing import Any, Protocol


class Subcommands(Protocol):
    """What a command module's ``register`` is given (``arb.cli._Listing``): argparse's ``add_parser``,
    the command's ``help`` (its line in ``arb --help``) filled in from ``arb.cli.COMMANDS``."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser: ...
