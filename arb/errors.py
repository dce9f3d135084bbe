"""The arb error tree.

Every error arb raises on purpose derives from :class:`ArbError`. Venue errors carry ``retryable`` so the
executor's retry loop can decide without parsing messages. Each class carries the exit status ``arb`` ends
with when it stops a command (``exit_status``): 2 for bad input, 1 for everything else (a venue or
database that cannot be reached included).

- ``UsageError``               bad input on the command line (a malformed value, a file that is not
                               usable). Exit status 2.
- ``ConfigError``              bad configuration; names the file and key. Exit status 2.
- ``CaptureFormatError``       a capture file line that does not follow CAPTURE.md; names the line. Exit 2.
- ``StoreError``               the database is unavailable or refused a write.
  - ``UnrecordedOrders``       ...after orders were sent: reconcile before trading again.
- ``DatabaseInUse``          (``store/lease.py``, beside the ``Holder`` it names) another ``arb run`` holds the
                               database's lease. Exit status 2.
- ``TaskFailed``               (``runtime/supervisor.py``) a supervised task kept failing and was given up on;
                               names the task, its venue and the cause. The run ends ``failed``.
- ``VenueError``               anything a venue said or failed to say:
  - ``AuthenticationError``    bad key/signature/expired timestamp after resync: stop trading there.
  - ``RateLimited``            HTTP 429 and friends; carries ``reset_at`` (epoch seconds) when known.
    - ``OrderBudgetExceeded``  arb's own order budget would hold an order longer than it can wait: refused
                               before it left, so definitive (not retryable), never an ambiguous outcome.
  - ``InsufficientFunds``      the venue says the balance is too small.
  - ``InvalidOrder``           precision, minimums, bad client id: the order as built is wrong.
  - ``OrderNotFound``          the venue does not know the order (yet): look again before concluding.
  - ``TransientVenueError``    5xx, busy, timeouts, disconnects: retry reads; submissions go ambiguous.
  - ``BadSymbol``              the venue does not list the symbol (or the asset, for a transfer).
  - ``TransferRefused``        a withdrawal or transfer the venue refuses as asked: an address outside the
                               key's whitelist, a network, a limit or a minimum. Definitive: nothing moved.

Messages never contain secrets: no error is ever constructed from a request's headers.
"""

from __future__ import annotations


class ArbError(Exception):
    """Base of every error arb raises on purpose."""

    retryable: bool = False
    exit_status: int = 1  # what ``arb`` exits with when this error ends a command (``arb/cli.py``)


class UsageError(ArbError):
    """Bad input on the command line: a malformed value, or a file or name it gives that is not usable."""

    exit_status = 2


class ConfigError(ArbError):
    """Configuration is invalid. ``str()`` is the one line shown to the user."""

    exit_status = 2

    def __init__(self, path: str, key: str, problem: str) -> None:
        self.path = path
        self.key = key
        self.problem = problem
        where = f"{path}: {key}" if key else path
        super().__init__(f"{where}: {problem}")


class CaptureFormatError(ArbError):
    """A capture file does not follow the capture format; names file and line number."""

    exit_status = 2

    def __init__(self, source: str, line_no: int, problem: str) -> None:
        self.source = source
        self.line_no = line_no
        self.problem = problem
        super().__init__(f"{source}:{line_no}: {problem}")


class StoreError(ArbError):
    """The database is unavailable or refused a write."""

    retryable = True


class UnrecordedOrders(StoreError):
    """Orders were sent but their outcome could not be recorded: reconcile with the venues before trading."""

    def __init__(self, client_order_ids: tuple[str, ...], cause: str) -> None:
        self.client_order_ids = client_order_ids
        super().__init__(f"orders {', '.join(client_order_ids)} were sent but not recorded ({cause})")


class VenueError(ArbError):
    """Something a venue said (or failed to say)."""

    def __init__(self, venue: str, message: str, *, label: str | None = None) -> None:
        self.venue = venue
        self.label = label
        super().__init__(f"{venue}: {message}" + (f" [{label}]" if label else ""))


class AuthenticationError(VenueError):
    """Key, signature or timestamp rejected. Trading on this venue must stop."""


class RateLimited(VenueError):
    """The venue (or our own budget) says slow down."""

    retryable = True

    def __init__(
        self, venue: str, message: str, *, label: str | None = None, reset_at: float | None = None
    ) -> None:
        super().__init__(venue, message, label=label)
        self.reset_at = reset_at


class OrderBudgetExceeded(RateLimited):
    """The venue's order budget (``[venues.X] order_budget``, ``arb/venues/throttle.py``) has no room for this
    order within the wait it can afford. Raised before the order leaves: the venue never saw it, so the order
    is refused (``created -> rejected``), not looked up; and, as a 429 would not, it counts no failure against
    the venue's breaker."""

    retryable = False  # nothing is in doubt: sending it again later is a new decision, not a retry


class InsufficientFunds(VenueError):
    """The venue says the balance does not cover the order."""


class InvalidOrder(VenueError):
    """The order as built violates a venue rule."""


class OrderNotFound(VenueError):
    """The venue does not know the order (a just-placed order may briefly be unknown)."""

    retryable = True


class TransientVenueError(VenueError):
    """5xx, busy, timeout, disconnect: the outcome of a submission is unknown."""

    retryable = True


class BadSymbol(VenueError):
    """The venue does not list the symbol."""


class TransferRefused(VenueError):
    """The venue refuses a withdrawal or an internal transfer as asked (address not whitelisted, unknown network,
    below the minimum, over a limit, withdrawals disabled): nothing moved, and asking again will not help."""
