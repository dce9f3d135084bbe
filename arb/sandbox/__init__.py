"""The local Gate-v4-compatible exchange ("testnet in a box") used by tests, demos and the offline run.

Public API: :class:`Sandbox` (async context manager), :class:`SandboxConfig`, :class:`Account`,
:class:`PairSpec`, :class:`RandomWalkFeed`, :class:`CaptureFeed`.
"""

from arb.sandbox.config import Account, CaptureFeed, RandomWalkFeed, SandboxConfig
from arb.sandbox.orders import PairSpec
from arb.sandbox.server import Sandbox

__all__ = ["Account", "CaptureFeed", "PairSpec", "RandomWalkFeed", "Sandbox", "SandboxConfig"]
