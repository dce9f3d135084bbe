"""Gate's dead man's switch, ``POST /spot/countdown_cancel_all``: the countdowns, per account and pair.

Gate's documentation (SpotApi ``countdown_cancel_all_spot``): body ``{"timeout": <seconds>, "currency_pair":
<optional>}``, answered ``{"triggerTime": <ms>}``; when ``timeout`` seconds pass without the call being made
again, the account's open spot orders (of that pair, when one is named; of every pair otherwise) are
cancelled. Each call sets a new countdown; ``timeout`` 0 ends it; otherwise at least 5 seconds.

What Gate leaves unsaid, read as follows here: a countdown named for a pair and the one for every pair are
separate (each call replaces only the one it names, and 0 ends only that one); a countdown that has fired is
gone until the next call; a disarming call is answered ``triggerTime`` 0; a timeout that is not a whole number
of seconds, or under 5, is ``INVALID_PARAM_VALUE``. Gate states no longest timeout; the sandbox holds one up
to a year (its clock's own range, ``values.MAX_CLOCK_OFFSET_S``).

Pure: time comes in as ``now_ms``; :mod:`~arb.venues.gate.sandbox.server` fires what has run out.
"""

from __future__ import annotations

from dataclasses import dataclass

from arb.venues.gate.sandbox import values

MIN_TIMEOUT_S = 5
MAX_TIMEOUT_S = int(values.MAX_CLOCK_OFFSET_S)


@dataclass(frozen=True, slots=True)
class Countdown:
    account: str
    pair: str | None  # None: every pair
    trigger_ms: int


class Countdowns:
    def __init__(self) -> None:
        self._trigger_ms: dict[tuple[str, str | None], int] = {}

    def arm(self, account: str, pair: str | None, timeout_s: int, now_ms: int) -> int:
        """Set (or reset) the countdown of ``account`` for ``pair``; its trigger time."""
        trigger_ms = self._trigger_ms[(account, pair)] = now_ms + timeout_s * 1000
        return trigger_ms

    def disarm(self, account: str, pair: str | None) -> None:
        self._trigger_ms.pop((account, pair), None)

    def next_trigger_ms(self) -> int | None:
        return min(self._trigger_ms.values(), default=None)

    def run_out(self, now_ms: int) -> list[Countdown]:
        """The countdowns whose trigger time has come, earliest first; each is gone once returned."""
        due = sorted((Countdown(account, pair, ms) for (account, pair), ms in self._trigger_ms.items()
                      if ms <= now_ms), key=lambda c: (c.trigger_ms, c.account, c.pair or ""))
        for countdown in due:
            del self._trigger_ms[(countdown.account, countdown.pair)]
        return due
