"""The engine: one run's lifecycle around the decision loop (``runtime/decisions.py``), as one asyncio
process: take the database's lease, migrate, open the venues, record the run, reconcile with the venues,
run the decision loop until the data ends or a stop, shut down in order, and record how the run ended.

One decision loop in every mode; only the book sources and the clock differ:

- **replay** (and **paper** on a capture: the same simulation, paced in wall time) is a simulation: the
  run's event loop is a :class:`~arb.eventloop.simloop.SimulatedLoop` whose time is market time. One source
  plays the capture into the books at each event's market time (every event of a timestamp together), the
  simulated venues answer after their configured latency in market time, and the sandbox plays its own
  copy of the capture for its matching on the same timeline: an order is matched against the book as it
  stands when it arrives, while books keep moving for the pair in flight;
- **live** (and paper on live books): feeds on an ordinary loop, wall time; a sandbox venue here is a
  real-time rehearsal (it plays its capture in real time and arb reads its WebSocket like a real venue's).

The loop (every book update marks its symbol dirty; one task decides each dirty symbol on the latest books,
and hands an opportunity to the paired executor) is described in ``runtime/decisions.py``.

Stopping (SIGINT/SIGTERM, the end of a capture, a kill switch): no new opportunities are taken, the pair
in flight finishes through the executor's own policy, resting orders are cancelled, the writer is flushed,
and the run's end and summary are recorded. A second signal exits at once; SQLite/PostgreSQL transactions
keep the database consistent either way, and the next start reconciles with the venues before trading.

The lifecycle reads top to bottom in ``lifecycle.py`` (:meth:`Engine._run`), one step a method; what a step
needs beyond the engine's own state is a module of its own here:

- ``database.py``: the database migrated and opened, the run's row started, ended or failed;
- ``settings.py``: the executor's and the risk gate's policies, from the config;
- ``watchers.py``: what watches the run beside the loop (the kill-switch file, risk events to every listener);
- ``stopping.py``: signals, stop requests from any thread, a supervised task given up on;
- ``simulated.py``: a simulation's market time zero (the capture's first event), and its own loop in a
  worker thread when a replay is awaited from an ordinary loop;
- ``ending.py``: resting orders cancelled at shutdown, the run's result and the line a halted run leaves.
"""

from arb.engine.ending import RunResult
from arb.engine.lifecycle import Engine

__all__ = ["Engine", "RunResult"]
