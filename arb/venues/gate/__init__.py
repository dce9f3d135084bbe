"""The Gate API v4 adapter.

- :mod:`signing`   pure REST/WS signers (``sign_request``, ``sign_ws_channel``, ``body_hash``)
- :mod:`request`   query/body encoding shared by the signer and the URL
- :mod:`clock`     server clock offset (``ServerClock``)
- :mod:`errors`    the one Gate-label/ccxt-exception -> arb error table (``translate``, ``translating``)
- :mod:`facts`     venue quirks as data (``GATE``), client order ids, ``/spot/currency_pairs`` -> rules
- :mod:`ws_auth`   private WebSocket subscription frames
- :mod:`exchange`  ``GateExchange`` (``ccxt.pro.gate`` subclass wiring the above)
- :mod:`feed`      ``GateBookFeed``: our ``spot.order_book_update`` + ``with_id`` snapshot sync
- :mod:`adapter`   ``GateAdapter``: all of the above behind :class:`arb.venues.adapter.VenueAdapter`
"""

from arb.venues.gate.clock import ServerClock
from arb.venues.gate.errors import translate, translating
from arb.venues.gate.exchange import GateExchange
from arb.venues.gate.facts import GATE, client_order_id, parse_currency_pairs

__all__ = ["GATE", "GateExchange", "ServerClock", "client_order_id", "parse_currency_pairs", "translate", "translating"]
