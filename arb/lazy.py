"""A package's names loaded on first use (PEP 562), so importing the package costs only what is used.

``arb.config`` (pydantic, the schema), ``arb.venues.gate`` and ``arb.venues.live`` (ccxt, aiohttp) each name
where their heavy exports live; ``arb --help`` and ``arb config check`` then import none of what they do not
run (``tests/test_startup.py``).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """The ``__getattr__`` of ``package``: each name in ``homes`` imported from its module when first asked
    for, then kept in the package (later lookups are plain attribute reads)."""

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module hook's own name
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(homes[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
