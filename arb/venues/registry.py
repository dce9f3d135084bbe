"""The one registry of venue adapters: a configured venue's ``adapter`` key -> the package that speaks it.

Resolution (:func:`resolve`), for ``[venues.<name>]`` with optional ``adapter`` and ``ccxt_id``:

1. ``adapter`` defaults to the venue's name;
2. a registered adapter key (``gate``) names that adapter; its ccxt id defaults to the adapter's first;
3. ``ccxt`` names the generic ccxt adapter (``ccxt_id`` then defaults to the venue's name);
4. otherwise a ccxt exchange id: the adapter that claims it (a package speaking that ccxt id), or the
   generic ccxt adapter for any other ccxt venue.

So ``[venues.gate_main]`` and ``[venues.gate_hedge]`` with ``adapter = "gate"`` are two Gate accounts
under names the user chose. Adding a venue package: one line in :data:`ADAPTERS` (docs/ARCHITECTURE.md,
"Adding a venue").

Each configured venue's order budget (:func:`order_budget`): its ``order_budget`` when the config gives one,
else what its venue documents (:data:`ORDER_BUDGETS`, by ccxt id), else none.

The adapters are data until a venue is opened, and ccxt's ids are read from its files
(:mod:`arb.venues.ccxt_exchanges`): resolving a config imports no ccxt (``tests/test_startup.py``).
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from arb.venues.adapter import VenueAdapter, VenueRef
from arb.venues.binance.adapter import ADAPTER as BINANCE
from arb.venues.binance.facts import SPOT_ORDER_BUDGET as BINANCE_SPOT_ORDER_BUDGET
from arb.venues.ccxt_exchanges import exchanges
from arb.venues.gate.adapter import ADAPTER as GATE
from arb.venues.gate.facts import GATE as GATE_FACTS
from arb.venues.generic.adapter import ADAPTER as GENERIC
from arb.venues.throttle import OrderWindow

if TYPE_CHECKING:
    from arb.config import Config

ADAPTERS: dict[str, VenueAdapter] = {
    GATE.key: GATE,
    BINANCE.key: BINANCE,
}


# The orders a venue's account may send, by ccxt id, as each venue documents them (the numbers and their
# sources in its package's facts). Gate: spot placements and amends, 10 a second per account and market
# (../shared/gate-v4.md, "Rate limits"); Binance spot: 100 per 10 s and 200,000 a day per account.
ORDER_BUDGETS: dict[str, tuple[OrderWindow, ...]] = {
    "gate": (OrderWindow(GATE_FACTS.order_placements_per_second_per_market, 1.0, per_market=True),),
    "binance": BINANCE_SPOT_ORDER_BUDGET,
}


class UnknownVenue(ValueError):
    """The config names no adapter and no ccxt exchange id; the message says what would."""


def _claimed(ccxt_id: str) -> VenueAdapter | None:
    return next((a for a in ADAPTERS.values() if ccxt_id in a.ccxt_ids), None)


def resolve(name: str, adapter: str | None = None, ccxt_id: str | None = None) -> VenueRef:
    """The adapter and ccxt id of the venue configured as ``[venues.<name>]``; :class:`UnknownVenue` if none."""
    key = adapter or name
    known = exchanges()
    if ccxt_id is not None and ccxt_id not in known:
        close = difflib.get_close_matches(ccxt_id, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownVenue(f"ccxt_id {ccxt_id!r} is not a ccxt exchange id{hint}")
    if key in ADAPTERS:
        found = ADAPTERS[key]
        chosen = ccxt_id or found.ccxt_ids[0]
        if chosen not in found.ccxt_ids:
            raise UnknownVenue(f"the {key} adapter speaks ccxt ids {', '.join(found.ccxt_ids)}, not {chosen!r}")
        return VenueRef(name, found, chosen)
    if key == GENERIC.key:  # asked for by name: the generic adapter, even for a venue with a package
        chosen = ccxt_id or name
        if chosen not in known:
            raise UnknownVenue(f"adapter = \"ccxt\" needs ccxt_id: {chosen!r} is not a ccxt exchange id")
        return VenueRef(name, GENERIC, chosen)
    if key in known:
        claimed = _claimed(key)
        if claimed is not None and ccxt_id is None:
            return VenueRef(name, claimed, key)
        return VenueRef(name, GENERIC, ccxt_id or key)
    choices = [*ADAPTERS, GENERIC.key, *known]
    close = difflib.get_close_matches(key, choices, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    what = "adapter" if adapter is not None else "venue"
    raise UnknownVenue(f"unknown {what} {key!r}: not a ccxt exchange id nor an arb adapter "
                       f"({', '.join([*ADAPTERS, GENERIC.key])}){hint}; a venue named freely needs adapter = ...")


def ref_for(config: Config, name: str) -> VenueRef:
    """The configured venue ``name`` resolved (config validation has already resolved it once)."""
    section = config.venues[name]
    return resolve(name, section.adapter, section.ccxt_id)


def order_budget(config: Config, name: str) -> tuple[OrderWindow, ...]:
    """The order windows of configured venue ``name``: its ``order_budget`` (``[]``: none), else its venue's
    documented ones, else none (empty)."""
    configured = config.venues[name].order_budget
    if configured is not None:
        return tuple(OrderWindow(w.orders, w.per_s, per_market=w.per == "market") for w in configured)
    return ORDER_BUDGETS.get(ref_for(config, name).ccxt_id, ())


def sandbox_adapters() -> list[str]:
    """The adapters that can run a local exchange (``kind = "sandbox"``)."""
    return [key for key, found in ADAPTERS.items() if found.has_sandbox]


def venue_names() -> frozenset[str]:
    """Every venue name arb's code knows: the adapters' keys and the ccxt ids they speak for, and the ccxt
    ids the generic adapter has facts about. None of them may appear outside ``arb/venues/``
    (tests/venues/test_venue_names.py)."""
    from arb.venues.generic.client_ids import KNOWN

    names = set(KNOWN)
    for found in ADAPTERS.values():
        names.add(found.key)
        names.update(found.ccxt_ids)
    return frozenset(names)


def field_names() -> frozenset[str]:
    """Every venue-specific wire field name the adapters declare."""
    return frozenset(f for a in [*ADAPTERS.values(), GENERIC] for f in a.field_names)
