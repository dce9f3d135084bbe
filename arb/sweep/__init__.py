"""``arb sweep``: a grid of deterministic replays run as dask.distributed tasks, merged into one database.

``grid.py`` (the grid: keys, values checked by the config's own validators, the product), ``run.py`` (the
driver: ``run_sweep``), ``cluster.py`` (the dask cluster: a scheduler reached by one bounded handshake, or
a local cluster of warm workers), ``dispatch.py`` (points submitted a window at a time; merges Ctrl-C
cannot cut), ``point.py`` (each point replayed on a worker into an SQLite file of its own), ``results.py``
(each finished run merged by ``arb/store/merge.py`` into the sweep's database, linked to its ``sweeps``
row; the merged runs' figures read back).
"""
