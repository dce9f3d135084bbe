"""What the notebooks in ``notebooks/`` call: finding the database, reading a run, drawing its figures.

Needs the ``notebooks`` extra (pandas, matplotlib); nothing in the engine imports this package.

- ``locate``: the database a notebook opened from ``notebooks/`` reads, found as ``arb run`` finds it,
  and :class:`~arb.analysis.locate.NotebookStop`, one line instead of a traceback.
- ``frames``: one run's rows as pandas frames (opportunities, per-leg slippage and latency, balances, the
  market time it covered, its funnel); ``capture_frames``: the capture's top of book under the config's
  venue names; ``trading_frames``: equity, PnL per hour, fill rate, latency percentiles; ``sweep_frames``:
  a sweep's points and its heatmaps' layout.
- ``plots``: a run's figures; ``trading_plots``: what a run made and how it traded (equity with open
  positions apart from realized, PnL per hour, gross and net edge, fill rate per venue over time, latency
  percentiles per venue and clock); ``sweep_plots``: a sweep's heatmaps; ``figure_style``: the colours and
  time axis they share.
- ``readback``: :func:`~arb.analysis.readback.drawn`, what a figure actually holds (points per series, bar
  heights, heatmap cells) read back from its matplotlib artists, which the notebooks print under each figure
  (:func:`~arb.analysis.readback.show`) and the tests compare with the database.
"""
