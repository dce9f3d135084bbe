"""The live venue: any ccxt async exchange behind the venue protocol, one job per module.

- :mod:`~arb.venues.live.venue`: :class:`LiveVenue`, the protocol over a ccxt exchange (prepare, send,
  lookups, fills, balances), exceptions through the venue's one translation table;
- :mod:`~arb.venues.live.quirks`: :class:`LiveQuirks`, what one venue does its own way, as data;
- :mod:`~arb.venues.live.capture`: ccxt's ``fetch`` intercepted per task, so ccxt's own ``create_order``
  builds and signs an order that is captured, not sent;
- :mod:`~arb.venues.live.wire`: the captured request serialized as ccxt's ``fetch`` would write it;
- :mod:`~arb.venues.live.builder`: the check that lets an exchange's own order builder take over from ccxt;
- :mod:`~arb.venues.live.line`: a prepared request on the exchange's order line
  (:mod:`arb.venues.order_line`), its answer through ccxt's own response handling;
- :mod:`~arb.venues.live.keep_warm`: pings that keep the order line's connections open;
- :mod:`~arb.venues.live.normalize`: ccxt's dicts as arb's reports, exact, once;
- :mod:`~arb.venues.live.exact_balances`: balances as the venue's decimal strings (ccxt hands out floats).

Their loggers are children of this package's (``arb.venues.live``).

``from arb.venues.live import LiveVenue`` loads :class:`LiveVenue` (and ccxt with it) on first use (PEP 562),
not when the package is: an adapter module imports :class:`LiveQuirks` to state its venue's quirks as data,
and the venue registry holds every adapter without importing ccxt (``arb config check`` starts in well
under 0.5 s).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from arb.lazy import lazy_exports
from arb.venues.live.quirks import LiveQuirks

if TYPE_CHECKING:
    from arb.venues.live.venue import LiveVenue

__all__ = ["LiveQuirks", "LiveVenue"]


__getattr__ = lazy_exports(__name__, {"LiveVenue": "arb.venues.live.venue"})
