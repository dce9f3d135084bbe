"""Clocks and event loops every layer may use: a run's time is market time in a simulation and wall time
live, and a venue's latency, a throttle and the engine all read the same one.

``clock.py`` (``wall_ms``, the one wall clock, and ``WallClock`` on it; ``MarketClock``, a simulation's market
time, and the time the live surfaces show), ``simloop.py`` (the simulation's event loop: market time, paced at
the run's speed, held while a request is on the wire), ``eager.py`` (tasks whose first step runs in the
caller's turn), ``live_loop.py`` (the event loop of a run on wall time: uvloop's).
"""
