"""Finding a run and reading what it is: the one lookup by id, the latest run, the clock its times are on.

Every command, the dashboard and the notebooks choose their run here; ``repo.py`` records runs (start, end,
failure, crash) through the same lookup.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arb.errors import StoreError
from arb.store.models import Run


def get_run(session: Session, run_id: int) -> Run:
    """The run ``run_id``; a :class:`~arb.errors.StoreError` saying how many runs there are if none has it."""
    run = session.get(Run, run_id)
    if run is None:
        known = session.scalar(select(func.count()).select_from(Run))
        raise StoreError(f"no run with id {run_id} in the database ({known} runs)")
    return run


def latest_run_id(session: Session) -> int | None:
    """The most recently started run (ties: the highest id); None for an empty database."""
    return session.scalar(select(Run.id).order_by(Run.started_at.desc(), Run.id.desc()).limit(1))


def run_clock(run: Run) -> str:
    """Which clock a run's timestamps (``detected_at``, fills' ``received_at``, ``settled_at``) are on, as
    the engine decides it: ``market`` for a simulation (a replay, or paper mode on a capture: the capture's
    time), ``wall`` for a live or paper run on live books."""
    replay = (run.config_snapshot or {}).get("replay")
    return "market" if run.mode == "replay" or (run.mode == "paper" and replay) else "wall"
