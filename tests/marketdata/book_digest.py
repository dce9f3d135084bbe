"""A digest of every book state on the real recordings, to compare the compiled and the pure-Python book.

``python tests/marketdata/book_digest.py --pure`` loads the Cython-compiled book modules (``arb/compiled.py``'s
``BOOKS``) from their ``.py`` source instead, and prints the digest and which files ran as JSON: ``test_compiled.py``
compares that with the digest of the modules the test process imported.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
from pathlib import Path

from arb.compiled import BOOKS, FromSource, module_files

DATA = Path(__file__).resolve().parent.parent / "data"


def digest() -> str:
    """SHA-256 over health, seq and the top-10 view after every event, then every level of every book."""
    from arb.marketdata.books import BookStore
    from arb.venues.binance.convert import raw_events as binance_raw_events
    from arb.venues.gate.convert import gate_ws_sample_events

    binance = gzip.decompress((DATA / "binance-spot-btcusdt-20240808.gz").read_bytes()).splitlines()
    gate_ws = (DATA / "gateio-ws-1.0.txt").read_text().splitlines()
    gate_http = (DATA / "gateio-http-0.0.txt").read_text().splitlines()
    h = hashlib.sha256()
    store = BookStore(depth=10)
    for events in (binance_raw_events(binance, "BTC/USDT"), gate_ws_sample_events(gate_ws, gate_http)):
        for event in events:
            store.apply(event)
            book = store.book(event.venue, event.symbol)
            h.update(f"{book.health(store.now_ms)} {book.seq} {book.best_bid()} {book.best_ask()}".encode())
            for array in book.top_arrays(10):
                h.update(array.tobytes())
    for book in store:
        h.update(repr((book.venue, book.symbol, book.levels("bids"), book.levels("asks"))).encode())
    return h.hexdigest()


if __name__ == "__main__":
    if "--pure" in sys.argv:
        sys.meta_path.insert(0, FromSource(BOOKS))
    result = digest()
    print(json.dumps({"digest": result, "files": module_files(BOOKS)}))
