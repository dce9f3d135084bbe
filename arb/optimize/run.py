"""Run an optimisation: walk forward over a timeline, a seeded Optuna study per fold, each trial a replay.

Walk-forward: the timeline's files ``f1 .. fn`` (name order, which is time order: ``arb/marketdata/timeline.py``)
make ``n - 1`` folds; fold ``k`` fits on ``fk`` (a study of ``trials`` trials, each a replay of ``fk``) and
scores the best trial's parameters on ``fk+1``, a file the search never saw (one replay). In-sample is the
best of many tries on the data it was chosen on, and flatters; out-of-sample is what those parameters did
next.

Trials go to the cluster a batch at a time (``batch``): the sampler is asked for a batch's parameters (it sees
the batch's other trials as running: Optuna's constant liar), the batch is replayed, and each trial is told its
value as its replay is merged. The sampler sees nothing of a batch's results before the next batch, so the
trials a seed gives depend on the seed, the batch size, the space, the config and the captures, and not on
the cluster's size or on which replay finishes first. A point replayed once in this optimisation (a repeated
suggestion, the best trial's parameters again) is not replayed again: a replay is deterministic, and the
trial reads the run already merged.

Everything a replay needs is the sweep's: ``replay_point`` on the sweep's cluster (``arb/sweep/cluster.py``),
points submitted by its ``dispatch``, each run merged into the database by its ``merge_point`` and read back by
its ``point_totals`` (the figures the sweep table shows: one definition per number), linked to one ``sweeps``
row whose ``grid`` holds the space and the studies' names. The studies are stored through Optuna's RDB
storage in the same database (its tables beside arb's: ``arb/store/migrate.py`` says how they keep apart).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.pool import NullPool

from arb.config import Config
from arb.optimize.ranges import Space
from arb.store import migrate
from arb.store.db import make_engine, make_session_factory
from arb.store.models import Sweep
from arb.store.repo import one_line
from arb.sweep.cluster import CONNECT_TIMEOUT_S, connected
from arb.sweep.dispatch import dispatch, interrupts_deferred
from arb.sweep.grid import Point, describe
from arb.sweep.point import SCHEMA_FILE, SWEEP_ID_BLOCK, replay_point, schema_file
from arb.sweep.results import PointTotals, merge_point, point_totals
from arb.sweep.run import ProgressFn, Workdir, stop_reason

# What a trial maximises: a figure of the sweep table, read from the stored run (``point_totals``).
OBJECTIVES: dict[str, Callable[[PointTotals], Decimal]] = {
    "realized": lambda t: t.realized,
    "expected": lambda t: t.expected,
    "executed": lambda t: Decimal(t.executed),
    "filled": lambda t: Decimal(t.maker.quotes_filled if t.maker else 0),  # maker quotes filled
}
DEFAULT_BATCH = 4


@dataclasses.dataclass(frozen=True, slots=True)
class Replay:
    """One point replayed and merged: its run and stored figures, or why it failed."""

    point: Point
    run_id: int | None = None
    totals: PointTotals | None = None
    error: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class TrialResult:
    number: int  # the trial's number in its study
    replay: Replay
    value: Decimal | None  # the objective; None: the replay failed (the trial is FAIL in the study)


@dataclasses.dataclass(slots=True)
class Fold:
    """A study fitted on ``train`` and its best trial's parameters replayed on ``test``."""

    number: int  # from 1
    study: str
    train: str
    test: str
    trials: list[TrialResult] = dataclasses.field(default_factory=list)
    out_of_sample: Replay | None = None  # None: not run (no trial completed, or stopped before)

    @property
    def best(self) -> TrialResult | None:
        """The completed trial with the highest objective (the earliest of equals), exact, as stored."""
        done = [t for t in self.trials if t.value is not None]
        return max(done, key=lambda t: (t.value, -t.number)) if done else None


@dataclasses.dataclass(slots=True)
class OptimizeResult:
    sweep_id: int
    objective: str
    trials: int  # per fold
    seed: int
    folds: list[Fold] = dataclasses.field(default_factory=list)

    @property
    def failed(self) -> list[Replay]:
        replays = [t.replay for f in self.folds for t in f.trials]
        replays += [f.out_of_sample for f in self.folds if f.out_of_sample is not None]
        return [r for r in dict((id(r), r) for r in replays).values() if r.error is not None]


class Stopped(KeyboardInterrupt):
    """Ctrl-C during an optimisation, carrying what it had finished (``result``): every trial told before it
    is kept in its study; the trials it cut short are FAIL, saying so."""

    def __init__(self, result: OptimizeResult) -> None:
        super().__init__()
        self.result = result


def startup_trials(trials: int) -> int:
    """The trials TPE draws at random before it models the results: Optuna's default 10, but at most half the
    fold's trials, so a small budget is not all random."""
    return min(10, max(1, trials // 2))


def sampler(seed: int, trials: int) -> Any:
    """Optuna's TPE, seeded."""
    import optuna

    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup_trials(trials))


def study_name(sweep_id: int, fold: int) -> str:
    return f"optimize-{sweep_id}-fold-{fold}"


def run_optimize(config: Config, space: Space, db_url: str, *, trials: int, seed: int, batch: int = DEFAULT_BATCH,
                 objective: str = "realized", scheduler: str | None = None, workers: int | None = None,
                 workdir: str | None = None, progress: ProgressFn | None = None,
                 connect_timeout_s: float = CONNECT_TIMEOUT_S) -> OptimizeResult:
    """Fit and score every fold of ``space``'s timeline; the studies and every replay go to ``db_url``.

    As ``run_sweep``: the cluster first, so a scheduler that cannot be reached is an error before the database
    is created or touched. Ctrl-C raises :class:`Stopped` with what was finished."""
    import optuna
    from distributed import Client

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # arb says what happened: its progress and its table
    folds = len(space.timeline) - 1
    with Workdir(workdir) as work, connected(scheduler, workers, Client, connect_timeout_s) as client:
        migrate.upgrade_to_head(db_url)  # arb's schema first; Optuna's tables are made beside it
        storage = optuna.storages.RDBStorage(db_url, engine_kwargs={"poolclass": NullPool})
        target = make_engine(db_url, poolclass=NullPool)
        sessions = make_session_factory(target)
        with sessions.begin() as s:
            sweep = Sweep(started_at=datetime.now(UTC), status="running", grid={})
            s.add(sweep)
            s.flush()
            sweep_id = sweep.id
            sweep.grid = {**space.as_json(), "captures_as": "runs", "optimize": {
                "sampler": "TPESampler", "startup_trials": startup_trials(trials), "seed": seed,
                "trials": trials, "batch": batch, "objective": objective,
                "studies": [study_name(sweep_id, k) for k in range(1, folds + 1)]}}
        result = OptimizeResult(sweep_id, objective, trials, seed)
        unfinished: dict[tuple[str, int], tuple[Any, Any]] = {}  # (study, number) -> (study, trial): not told
        reason: str | None = None
        try:
            schema_file(Path(work) / SCHEMA_FILE)
            replays = _Replays(client, config, work, sessions, db_url, sweep_id, folds * (trials + 1), progress)
            for k in range(1, folds + 1):
                fold = Fold(k, study_name(sweep_id, k), space.timeline[k - 1], space.timeline[k])
                result.folds.append(fold)
                with interrupts_deferred():
                    study = optuna.create_study(study_name=fold.study, storage=storage, direction="maximize",
                                                sampler=sampler(seed, trials))
                    for name, value in (("arb_sweep_id", sweep_id), ("objective", objective),
                                        ("in_sample", fold.train), ("out_of_sample", fold.test)):
                        study.set_user_attr(name, value)
                _fit(study, fold, space, trials, batch, replays, OBJECTIVES[objective], unfinished)
                best = fold.best
                if best is None:
                    continue
                scored: list[Replay] = []

                def keep(_: int, replay: Replay, scored: list[Replay] = scored) -> None:
                    scored.append(replay)

                replays.run([{**best.replay.point, "capture": fold.test}], keep)
                fold.out_of_sample = scored[0]
                with interrupts_deferred():
                    study.set_user_attr("best_trial", best.number)
                    study.set_user_attr("out_of_sample_run_id", scored[0].run_id)
                    study.set_user_attr("out_of_sample_value", _exact(scored[0], OBJECTIVES[objective]))
        except BaseException as exc:
            reason = stop_reason(exc)
            with interrupts_deferred():
                for study, trial in unfinished.values():
                    trial.set_user_attr("error", reason)
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
            if isinstance(exc, KeyboardInterrupt):
                raise Stopped(result) from exc
            raise
        finally:
            failed = result.failed
            if reason is None and failed:
                reason = f"{len(failed)} replays failed; first: {describe(failed[0].point)}: {failed[0].error}"
            with sessions.begin() as s:
                row = s.get_one(Sweep, sweep_id)
                row.ended_at = datetime.now(UTC)
                row.status = "failed" if reason else "completed"
                row.status_reason = one_line(reason) if reason else None
            target.dispose()
    return result


def _fit(study: Any, fold: Fold, space: Space, trials: int, batch: int, replays: _Replays,
         objective: Callable[[PointTotals], Decimal], unfinished: dict[tuple[str, int], tuple[Any, Any]]) -> None:
    """``trials`` trials of ``study`` on the fold's in-sample file, ``batch`` at a time (see the module)."""
    from optuna.trial import TrialState

    distributions = space.distributions()
    told = 0
    while told < trials:
        with interrupts_deferred():
            asked = [study.ask(distributions) for _ in range(min(batch, trials - told))]
            unfinished.update({(fold.study, t.number): (study, t) for t in asked})
        points = [space.point(t.params, fold.train) for t in asked]

        def tell(position: int, replay: Replay, asked: list[Any] = asked) -> None:
            trial = asked[position]
            value = objective(replay.totals) if replay.totals is not None else None
            trial.set_user_attr("point", replay.point)
            if value is None:
                trial.set_user_attr("error", replay.error)
                study.tell(trial, state=TrialState.FAIL)
            else:
                trial.set_user_attr("run_id", replay.run_id)
                trial.set_user_attr("value", format(value, "f"))  # exact; Optuna's own value is a float
                study.tell(trial, float(value))
            del unfinished[(fold.study, trial.number)]
            fold.trials.append(TrialResult(trial.number, replay, value))

        replays.run(points, tell)
        told += len(asked)
    fold.trials.sort(key=lambda t: t.number)


def _exact(replay: Replay, objective: Callable[[PointTotals], Decimal]) -> str | None:
    return format(objective(replay.totals), "f") if replay.totals is not None else None


class _Replays:
    """Points replayed on the cluster as the sweep replays them, each merged into the database and read back
    as the sweep's table reads it; each distinct point replayed once per optimisation."""

    def __init__(self, client: Any, config: Config, work: str, sessions: Any, db_url: str, sweep_id: int,
                 total: int, progress: ProgressFn | None) -> None:
        self._client, self._config, self._work = client, config, work
        self._sessions, self._db_url, self._sweep_id = sessions, db_url, sweep_id
        self._first_id = time.time_ns() // 1000  # simulated-venue ids: a block per replay (point.py)
        self._next = 0  # the next replay's index (its file, its id block, its grid_point)
        self._slots = sum(client.nthreads().values()) or 1
        self._seen: dict[tuple[tuple[str, str], ...], Replay] = {}
        self._total, self._done, self._progress = total, 0, progress

    def run(self, points: list[Point], finished: Callable[[int, Replay], None]) -> None:
        """Replay ``points`` and call ``finished(position, replay)`` for each as it is merged (a point replayed
        before: at once), Ctrl-C held off until the merge and ``finished`` are both done."""
        waiting: dict[tuple[tuple[str, str], ...], list[int]] = {}
        for position, point in enumerate(points):
            key = tuple(sorted(point.items()))
            if key in self._seen:
                with interrupts_deferred():
                    finished(position, self._seen[key])
                self._advance(0)
            else:
                waiting.setdefault(key, []).append(position)
        fresh = [points[positions[0]] for positions in waiting.values()]
        if not fresh:
            return
        from distributed import as_completed

        first = self._next
        self._next += len(fresh)

        def submit(i: int, point: Point) -> Any:
            index = first + i
            return self._client.submit(replay_point, self._config, point, self._work, index,
                                       self._first_id + index * SWEEP_ID_BLOCK,
                                       key=f"arb-optimize-{self._sweep_id}-{index}", pure=False)

        outstanding = len(fresh)
        self._advance(min(self._slots, outstanding), count=False)
        for i, point, future in dispatch(fresh, submit, as_completed(), window=len(fresh)):
            with interrupts_deferred():  # a merge or a tell cut short would leave the database locked
                merged = merge_point(future, first + i, point, self._sessions, self._sweep_id)
                totals = (point_totals(self._db_url, [merged.run_id])[merged.run_id]
                          if merged.run_id is not None else None)
                replay = Replay(point, merged.run_id, totals, merged.error)
                key = tuple(sorted(point.items()))
                self._seen[key] = replay
                for position in waiting[key]:
                    finished(position, replay)
            outstanding -= 1
            self._advance(min(self._slots, outstanding), finished=len(waiting[key]))

    def _advance(self, running: int, *, count: bool = True, finished: int = 1) -> None:
        if count:
            self._done += finished
        if self._progress:
            self._progress(self._done, running, self._total)
