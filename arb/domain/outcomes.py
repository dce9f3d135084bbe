"""What happened to an executed pair: one word, defined here, that every surface shows.

The executor classifies a pair for its own control flow (``PairResult.outcome``, stored in the
opportunity's ``detail``): ``hedged`` (no residual beyond dust), ``imbalanced``, ``halted`` or
``nothing_filled``, with the leg policy that ran. People read a finer word, :func:`pair_outcome`, and read
it everywhere: ``arb trades``, the dashboard (both through ``arb.store.views``), the run summary's outcome
counts, the status view and the ``arb_trades{outcome}`` metric (through ``arb.runtime.trades``):

- ``filled``: both entry legs filled in full; ``partial``: they filled less, but equally (within an
  amount step), so nothing needed correcting;
- ``unwound`` / ``completed``: the legs filled unequally and the policy traded the difference back out,
  or completed the short leg; ``imbalanced``: a difference is left open; ``halted``: trading stopped on
  it (a leg unresolved, or the ``halt`` policy); ``nothing filled``;
- no stored outcome (the process ended between sending and recording it): ``reconciled`` once
  reconciliation settled the pair, ``unsettled`` until then.

A maker pair (one quote's fills and their hedges) has its word from :func:`maker_outcome`: ``filled`` when
its hedges answered all it filled, ``unwound`` when the leg policy flattened some of it, ``imbalanced`` with
base left unhedged (dust below the taker's minimum, a failed hedge), ``halted`` when that base was owed a
hedge as the ``halt`` leg policy stopped the run, ``unsettled`` until it is settled.
"""

from __future__ import annotations

FILLED = "filled"
PARTIAL = "partial"
UNWOUND = "unwound"
COMPLETED = "completed"
IMBALANCED = "imbalanced"
HALTED = "halted"
NOTHING_FILLED = "nothing filled"
RECONCILED = "reconciled"
UNSETTLED = "unsettled"


_SETTLED = {"halted": HALTED, "nothing_filled": NOTHING_FILLED, "imbalanced": IMBALANCED}
_CORRECTED = {"unwind": UNWOUND, "complete": COMPLETED}


def pair_outcome(executor_outcome: str | None, policy: str | None, entry_complete: bool, settled: bool) -> str:
    """The word for a pair the executor classified as ``executor_outcome`` after running ``policy`` (None:
    no correction), whose entry legs filled in full (``entry_complete``) or not; ``settled`` matters only
    when no outcome was recorded."""
    if executor_outcome is None:
        return RECONCILED if settled else UNSETTLED
    if executor_outcome == "hedged":
        if policy in _CORRECTED:
            return _CORRECTED[policy]
        return FILLED if entry_complete else PARTIAL
    return _SETTLED.get(executor_outcome, executor_outcome)


def maker_outcome(open_base: object, flattened: bool, settled: bool, halted: bool = False) -> str:
    """The word for a maker pair: its settled ``open_base`` (nonzero: base no hedge answered), whether the
    leg policy flattened any of it, whether the run halted on it."""
    if not settled:
        return UNSETTLED
    if open_base:
        return HALTED if halted else IMBALANCED
    return UNWOUND if flattened else FILLED
