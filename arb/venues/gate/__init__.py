"""The Gate API v4 adapter.

- :mod:`signing`   pure REST/WS signers (``sign_request``, ``sign_ws_channel``, ``body_hash``)
- :mod:`request`   query/body encoding shared by the signer and the URL
- :mod:`clock`     server clock offset (``ServerClock``)
- :mod:`errors`    the one Gate-label/ccxt-exception -> arb error table (``translate``, ``translating``)
- :mod:`facts`     venue quirks as data (``GATE``), client order ids, ``/spot/currency_pairs`` -> rules
- :mod:`ws_auth`   private WebSocket subscription frames
- :mod:`exchange`  ``GateExchange`` (``ccxt.pro.gate`` subclass wiring the above)
- :mod:`venue`     ``GateVenue``: the live venue over it, with Gate's dead man's switch (``arm_cancel_all``)
- :mod:`feed`      ``GateBookFeed``: our ``spot.order_book_update`` + ``with_id`` snapshot sync
- :mod:`adapter`   ``GateAdapter``: all of the above behind :class:`arb.venues.adapter.VenueAdapter`

The names below that import ccxt (``GateExchange``, ``translate``, ``translating``) are loaded on first use
(PEP 562), not when the package is: the venue registry imports the adapter, which is data until an
exchange is opened, and ``arb config check`` should not pay ~0.5 s for ccxt to check a config.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from arb.lazy import lazy_exports
from arb.venues.gate.clock import ServerClock
from arb.venues.gate.facts import GATE, client_order_id, parse_currency_pairs

if TYPE_CHECKING:
    from arb.venues.gate.errors import translate, translating
    from arb.venues.gate.exchange import GateExchange

_HOME = {"GateExchange": "arb.venues.gate.exchange", "translate": "arb.venues.gate.errors",
         "translating": "arb.venues.gate.errors"}

__all__ = ["GATE", "GateExchange", "ServerClock", "client_order_id", "parse_currency_pairs", "translate", "translating"]


__getattr__ = lazy_exports(__name__, _HOME)
