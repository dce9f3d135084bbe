"""``arb optimize``: Optuna's seeded TPE sampler over declared parameter ranges, each trial a replay on the sweep's
dask cluster, walked forward over a timeline of capture files.

``ranges.py`` (the ranges file: the sweep's keys, each a range or a list of values, checked by the sweep's own
rules; each trial's parameters as the exact values a replay takes), ``run.py`` (the driver: a study per fold,
fitted on one file and scored on the next, trials replayed and merged by ``arb/sweep``'s point runner, cluster
and merge, the study kept in the run's database through Optuna's RDB storage).
"""
