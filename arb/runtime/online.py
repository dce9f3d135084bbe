"""The pre-flight against the venues: ``arb config check --online``, and the start of a live run.

Where ``preflight.py`` checks what a run needs of this machine, this asks each venue the run would trade with
real keys (a live venue, on its testnet when so configured; a sandbox venue at ``[sandbox] url``, the rehearsal
of one) through its adapter (``VenueAdapter.check_online``): the keys authenticate, what they may do (trade,
withdraw, from which address), the clock, each market's rules and fee against the config, the balances against
the risk limits. One finding a line (``arb/venues/online.py``); any error fails the check.
"""

from __future__ import annotations

from arb.config import Config
from arb.errors import ArbError
from arb.venues.online import Finding
from arb.venues.registry import resolve


def checked_venues(config: Config) -> list[str]:
    """The venues the online check asks: live ones (not under ``dry_run``, which trades them on paper), and
    sandbox venues at an external `arb sandbox` (``[sandbox] url``), whose keys come from the environment too."""
    out = []
    for name, section in config.venues.items():
        if (section.kind == "live" and not config.engine.dry_run) or (
                section.kind == "sandbox" and config.sandbox.url is not None):
            out.append(name)
    return out


async def check_online(config: Config, *, unreachable_raises: bool = False) -> list[Finding]:
    """Every finding on every checked venue, venue by venue in the config's order; a venue that cannot be
    reached is one error finding naming it, or (``unreachable_raises``: a run's start) the venue's own error."""
    found: list[Finding] = []
    for name in checked_venues(config):
        section = config.venues[name]
        ref = resolve(name, section.adapter, section.ccxt_id)
        try:
            found += await ref.adapter.check_online(config, ref)
        except ArbError as exc:
            if unreachable_raises:
                raise
            found.append(Finding("error", f"venues.{name}", f"cannot reach the venue: {exc}"))
    return found


def failed(found: list[Finding]) -> bool:
    return any(finding.level == "error" for finding in found)
