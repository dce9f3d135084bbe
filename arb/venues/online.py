"""What ``arb config check --online`` (and the start of a live run) finds on a venue: its findings, one line
each, and the checks every venue shares once its adapter has opened it with the environment's keys.

A venue's adapter checks what only it knows how to ask (Gate: ``arb/venues/gate/online.py``: the key's
permissions, IP whitelist and clock offset) and hands the venue here for what the protocol says of any venue:
each configured market's rules and fee against the config, and the balances against the risk limits. A check
the venue cannot answer is a finding that says so, never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from arb.config import Config
    from arb.domain.market import MarketRules
    from arb.domain.venue import BalanceReport

Level = Literal["ok", "warning", "error"]
RULE_FIELDS = ("price_step", "amount_step", "min_amount", "min_notional")


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing found: how bad, the config key it is about (``venues.gate_main.markets."BTC/USDT".min_notional``
    or the venue's table) and what was found, in words that hold the venue's own value."""

    level: Level
    key: str
    text: str

    def line(self) -> str:
        return f"{self.level}: {self.key}: {self.text}"


def plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def transfers_auto(config: Config) -> bool:
    """Whether the config has arb make transfers itself (``[rebalance] transfers = "auto"``): a key that may
    withdraw is then needed, and otherwise a risk to report. Read by name: a config from before the rebalance
    section has none, and withdrawal is then a warning."""
    rebalance = getattr(config, "rebalance", None)
    return getattr(rebalance, "transfers", None) == "auto"


def withdrawal_finding(config: Config, name: str, may_withdraw: bool | None, how: str) -> Finding:
    """The key's withdrawal permission as found (``how``: what the venue answered; None: it could not say)."""
    key = f"venues.{name}"
    if may_withdraw is None:
        return Finding("warning", key, f"cannot tell whether the key may withdraw: {how}")
    if transfers_auto(config):
        if may_withdraw:
            return Finding("ok", key, f"the key may withdraw, as transfers = \"auto\" needs ({how})")
        return Finding("error", key, f"the key may not withdraw, and transfers = \"auto\" withdraws ({how})")
    if may_withdraw:
        return Finding("warning", key, f"the key may withdraw ({how}); arb does not withdraw unless "
                       "[rebalance] transfers = \"auto\": a key without it cannot lose funds to a leak")
    return Finding("ok", key, f"the key may not withdraw ({how})")


def market_findings(config: Config, name: str, symbol: str, rules: MarketRules, taker_fee: Decimal | None,
                    fee_from: str) -> list[Finding]:
    """``symbol``'s rules on venue ``name`` (as the venue lists them now) against the config's market, and the
    venue's taker fee (``fee_from``: where it was read) against ``taker_fee`` in the config."""
    section = config.venues[name]
    market = section.markets.get(symbol)
    base = f'venues.{name}.markets."{symbol}"'
    found = []
    listed = ", ".join(f"{field} {plain(getattr(rules, field))}" for field in RULE_FIELDS)
    if market is None:
        found.append(Finding("ok", base, f"the venue lists {listed} (the config gives none: the venue's are used)"))
    else:
        wrong = [field for field in RULE_FIELDS if getattr(rules, field) != getattr(market, field)]
        for field in wrong:
            found.append(Finding("error", f"{base}.{field}", f"the venue's is {plain(getattr(rules, field))}, the "
                                 f"config's {plain(getattr(market, field))}"))
        if not wrong:
            found.append(Finding("ok", base, f"as configured: {listed}"))
    if taker_fee is None:
        found.append(Finding("warning", f"venues.{name}.taker_fee", f"{symbol}: cannot tell the venue's fee ({fee_from})"))
    elif taker_fee > section.taker_fee:
        found.append(Finding("error", f"venues.{name}.taker_fee", f"{symbol}: the venue charges {plain(taker_fee)} "
                             f"({fee_from}), above the config's {plain(section.taker_fee)}: detection would take "
                             "trades that lose"))
    elif taker_fee < section.taker_fee:
        found.append(Finding("warning", f"venues.{name}.taker_fee", f"{symbol}: the venue charges {plain(taker_fee)} "
                             f"({fee_from}), below the config's {plain(section.taker_fee)}: trades that pay are missed"))
    else:
        found.append(Finding("ok", f"venues.{name}.taker_fee", f"{symbol}: {plain(taker_fee)} ({fee_from})"))
    return found


def balance_findings(config: Config, name: str, held: Mapping[str, BalanceReport]) -> list[Finding]:
    """The venue's free balances against the risk limits: each quote currency its symbols buy with against
    ``risk.max_notional_per_trade`` (a buy leg is cut to what it funds), and a venue holding nothing it trades."""
    names = config.venue_markets(name)
    limit = config.risk.max_notional_per_trade
    found = []
    assets: set[str] = set()
    quotes: set[str] = set()
    for symbol in names.symbols:
        base, _, quote = names.market(symbol).partition("/")
        quote = quote.partition(":")[0]
        assets.update((base, quote))
        quotes.add(quote)

    def free(asset: str) -> Decimal:
        return held[asset].free if asset in held else Decimal(0)

    if all(free(asset) == 0 for asset in assets):
        return [Finding("error", f"venues.{name}", f"holds none of {', '.join(sorted(assets))}: nothing can trade")]
    for quote in sorted(quotes):
        if free(quote) < limit:
            found.append(Finding("warning", "risk.max_notional_per_trade", f"{name} has {plain(free(quote))} "
                                 f"{quote} free, below the limit {plain(limit)}: its buys are cut to what it funds"))
        else:
            found.append(Finding("ok", "risk.max_notional_per_trade", f"{name} has {plain(free(quote))} {quote} "
                                 f"free, at least the limit {plain(limit)}"))
    return found
