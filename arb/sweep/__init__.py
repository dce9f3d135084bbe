"""``arb sweep``: a grid of deterministic replays run as dask.distributed tasks, merged into one database.

``grid.py`` (the grid: keys, values checked by the config's own validators, the product), ``cluster.py``
(each point replayed on a worker into an SQLite file of its own, then merged by ``arb/store/merge.py``
into the sweep's database, linked to its ``sweeps`` row).
"""
