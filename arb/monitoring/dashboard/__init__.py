"""A read-only web dashboard of one run: live while ``arb run`` trades (``[monitoring] dashboard_port``),
and for any stored run with ``arb dashboard --db URL``.

- ``page.py``: the page's document: the run as stored (PnL as settlement stored it, its curve, trades,
  opportunities, balances) and a running engine's figures, formatted at the run's precision;
- ``live.py``: a running engine's figures (``RunView.snapshot``), taken on the engine's loop;
- ``server.py``: aiohttp on loopback, in its own thread: the page, ``/api/state`` and a server-sent event
  stream the page listens to, read through the store's read-only engine (``make_reader_engine``);
- ``static/``: the page, plain HTML, CSS and one JavaScript file (the PnL curve is inline SVG); no build.
"""
