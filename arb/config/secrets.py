"""Secrets never live in the config file, and never leave the process.

API keys come from the environment, ``ARB_<VENUE>_API_KEY`` and ``ARB_<VENUE>_API_SECRET``
(``ARB_<VENUE>_API_PASSWORD`` where a venue needs one); a secret-looking key in the file is itself an error,
so a key pasted there by mistake is caught before it is committed anywhere. What is shown of a URL that may
carry one (a database password, an alert token) is masked here: the one masker every surface uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from arb.errors import ConfigError

SECRET_KEY_NAMES = frozenset(
    {"apikey", "api_key", "key", "secret", "api_secret", "secret_key", "password", "passphrase",
     "private_key", "privatekey", "token", "uid"}
)


@dataclass(frozen=True, slots=True)
class Credentials:
    """API credentials read from the environment. ``repr``/``str`` never show them."""

    api_key: str
    secret: str
    password: str | None = None

    def __repr__(self) -> str:
        return "Credentials(***)"

    __str__ = __repr__


def env_prefix(venue: str) -> str:
    return f"ARB_{venue.upper().replace('-', '_')}_"


def credentials_from_env(venue: str, environ: Mapping[str, str]) -> Credentials | None:
    prefix = env_prefix(venue)
    key, secret = environ.get(prefix + "API_KEY"), environ.get(prefix + "API_SECRET")
    if not key or not secret:
        return None
    return Credentials(key, secret, environ.get(prefix + "API_PASSWORD") or None)


def mask_url(url: str) -> str:
    """Hide a database password: ``postgresql://u:pw@h/db`` -> ``postgresql://u:***@h/db``."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    userinfo, at, host = rest.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in userinfo else url


def mask_alert_url(url: str) -> str:
    """An alert URL with everything past its scheme hidden (tokens live in the host, path or query):
    ``tgram://123:abc/456`` -> ``tgram://***``."""
    scheme, sep, _ = url.partition("://")
    return f"{scheme}://***" if sep else "***"


ALERT_URLS_ENV = "ARB_ALERT_URLS"


def reject_secrets(node: Any, shown: str, environ_hint: bool, prefix: str = "") -> None:
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        dotted = f"{prefix}.{key}" if prefix else key
        if prefix.endswith(".balances") or prefix == "symbols":
            continue  # asset codes and symbols, not settings: "KEY" or "UID" may be real assets
        if key.lower().replace("-", "_") in SECRET_KEY_NAMES:
            venue = prefix.split(".")[1] if prefix.startswith("venues.") else "VENUE"
            env = env_prefix(venue)
            # The value itself is never echoed: it may be a real secret.
            raise ConfigError(
                shown, dotted,
                f"secrets are not allowed in the config file; set {env}API_KEY and {env}API_SECRET "
                "in the environment instead (and remove this key, and rotate it if it was real)",
            )
        reject_secrets(value, shown, environ_hint, dotted)
