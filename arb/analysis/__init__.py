"""What the notebooks in ``notebooks/`` call: finding the database, reading a run, drawing its figures.

Needs the ``notebooks`` extra (pandas, matplotlib); nothing in the engine imports this package.

- ``locate``: the database a notebook opened from ``notebooks/`` reads, found as ``arb run`` finds it,
  and :class:`~arb.analysis.locate.NotebookStop`, one line instead of a traceback.
- ``frames``: one run's rows as pandas frames (opportunities, per-leg slippage and latency, balances, the
  capture's top of book under the config's venue names) and a sweep's points.
- ``plots``: the figures, and :func:`~arb.analysis.plots.drawn`, what a figure actually holds (points per
  series, bar heights, heatmap cells) read back from its matplotlib artists, which the notebooks print
  under each figure and the tests compare with the database.
- ``trading_plots``: what a run made and how it traded: equity (open positions apart from realized), PnL per
  hour, gross and net edge, fill rate per venue over time, latency percentiles per venue and clock.
"""
