"""The local Gate-v4-compatible exchange ("testnet in a box") used by tests, demos and the offline run.

Public API: :class:`Sandbox` (async context manager), :class:`SandboxConfig`, :class:`Account`,
:class:`PairSpec`, :class:`RandomWalkFeed`, :class:`CaptureFeed`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from arb.venues.gate.sandbox.config import Account, CaptureFeed, RandomWalkFeed, SandboxConfig
from arb.venues.gate.sandbox.orders import PairSpec

if TYPE_CHECKING:
    from arb.venues.gate.sandbox.server import Sandbox

__all__ = ["Account", "CaptureFeed", "PairSpec", "RandomWalkFeed", "Sandbox", "SandboxConfig"]


def __getattr__(name: str) -> Any:
    # The server (aiohttp, and ccxt through the matching engine) is imported when first asked for: the
    # sandbox's config is read by every ``arb`` command's parser, which has no use for the server.
    if name == "Sandbox":
        from arb.venues.gate.sandbox.server import Sandbox

        return Sandbox
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
