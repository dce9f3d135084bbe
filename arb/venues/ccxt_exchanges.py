"""ccxt's exchange ids, read from the installed ccxt package's source without importing it.

``import ccxt`` costs ~0.5 s (every exchange class, aiohttp); resolving a configured venue only needs the
lists of ids, which ccxt writes out as literals: ``exchanges = [...]`` in ``ccxt/__init__.py`` (every
exchange, ``ccxt.exchanges``) and in ``ccxt/pro/__init__.py`` (those with WebSocket support,
``ccxt.pro.exchanges``). So ``arb config check`` and the start of every command that resolves venues read
them from those files, and ccxt is imported only where an exchange is opened. Where ccxt is already
imported its own lists are used; where a file does not hold the literal (another ccxt layout), ccxt is
imported after all. ``tests/venues/test_ccxt_exchanges.py`` holds both lists equal to ccxt's.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from functools import cache
from pathlib import Path


@cache
def exchanges() -> tuple[str, ...]:
    """``ccxt.exchanges``: every exchange id ccxt has a class for."""
    return _listed("ccxt", ())


@cache
def pro_exchanges() -> tuple[str, ...]:
    """``ccxt.pro.exchanges``: the exchange ids ccxt.pro has a WebSocket class for."""
    return _listed("ccxt.pro", ("pro",))


def _listed(module: str, package: tuple[str, ...]) -> tuple[str, ...]:
    loaded = sys.modules.get(module)
    if loaded is not None:
        return tuple(loaded.exchanges)
    spec = importlib.util.find_spec("ccxt")  # the top-level package: found, not imported
    if spec is not None and spec.submodule_search_locations:
        source = Path(next(iter(spec.submodule_search_locations)), *package, "__init__.py")
        found = _literal(source)
        if found is not None:
            return found
    return tuple(importlib.import_module(module).exchanges)


def _literal(source: Path) -> tuple[str, ...] | None:
    """The module-level ``exchanges = [...]`` literal of ``source``; None when it has none (or cannot be read)."""
    try:
        tree = ast.parse(source.read_bytes(), str(source))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == "exchanges"):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                return None
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return tuple(value)
    return None
