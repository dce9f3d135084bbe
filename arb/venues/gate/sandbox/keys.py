"""What a sandbox key may do, as a Gate API key's settings say it: its permissions, read-only or not, and the
addresses it may be used from.

Gate refuses a request its key may not make after the signature is checked and before the endpoint runs, each
with its label (``/work/shared/gate-v4.md``: ``IP_FORBIDDEN``, ``READ_ONLY``, ``FORBIDDEN``):

- an address outside a non-empty IP whitelist: ``IP_FORBIDDEN``, whatever the endpoint;
- an endpoint of an area the key was not given (spot, futures, wallet, withdraw): ``FORBIDDEN``;
- anything but a read on a read-only key: ``READ_ONLY``.

``GET /account/detail`` (what Gate tells a key about itself: its user, its IP whitelist and its mode) answers
for any key; it says nothing of the permissions, which Gate shows only by refusing a request. That is what
``arb config check --online`` probes (``arb/venues/gate/online.py``), and what these rights let a test plant.
"""

from __future__ import annotations

from dataclasses import dataclass

from arb.venues.gate.sandbox.apierror import GateApiError

AREAS = frozenset(("spot", "futures", "wallet", "withdraw"))
"""The permissions a Gate key is given one by one (its settings page's switches arb's calls need)."""


@dataclass(frozen=True, slots=True)
class KeyRights:
    """One key's rights; the default is a key that may do everything from anywhere (every test's key so far)."""

    areas: frozenset[str] = AREAS
    read_only: bool = False
    ip_whitelist: tuple[str, ...] = ()  # empty: any address

    def __post_init__(self) -> None:
        unknown = self.areas - AREAS
        if unknown:
            raise ValueError(f"unknown key permission {', '.join(sorted(unknown))} (known: {', '.join(sorted(AREAS))})")


def area_of(path: str) -> str | None:
    """The permission an ``/api/v4`` path needs; None for what every key may read of itself (``/account``)."""
    section = path.removeprefix("/api/v4/").split("/", 1)[0]
    if section == "withdrawals":
        return "withdraw"
    return section if section in AREAS else None


def check_rights(rights: KeyRights, method: str, path: str, address: str) -> None:
    """Gate's refusal of a request ``rights`` do not allow (in Gate's order: address, area, writing), or nothing."""
    if rights.ip_whitelist and address not in rights.ip_whitelist:
        raise GateApiError(401, "IP_FORBIDDEN", f"Request IP {address} is not in the key's IP whitelist")
    area = area_of(path)
    if area is not None and area not in rights.areas:
        raise GateApiError(403, "FORBIDDEN", f"API key has no {area} permission")
    if rights.read_only and method not in ("GET", "HEAD"):
        raise GateApiError(403, "READ_ONLY", "API key is read-only")


def account_detail(user_id: int, rights: KeyRights) -> dict[str, object]:
    """``GET /account/detail`` as Gate answers it for a classic-account key."""
    return {"user_id": user_id, "ip_whitelist": list(rights.ip_whitelist), "currency_pairs": [], "key": {"mode": 1},
            "tier": 0}
