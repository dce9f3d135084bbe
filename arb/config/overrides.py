"""``ARB__SECTION__KEY``: any config key set from the environment, over the file's value.

The variable is ``ARB__`` and the key's path with its parts joined by ``__``, in any case:
``ARB__RISK__DAILY_LOSS_LIMIT=50``, ``ARB__ENGINE__MODE=replay``, ``ARB__VENUES__GATE__LATENCY_MS=20``.
A named table (a venue, a symbol, a market) is found among the file's names (and, for a symbol, the
engine's symbols) with every character but letters and digits read as ``_``: ``ARB__SYMBOLS__LINK_USDT__MAX_SIZE``
is ``symbols."LINK/USDT".max_size``, ``ARB__VENUES__GATE_MAIN__TAKER_FEE`` is ``venues.gate_main.taker_fee``.
An entry of a table of values that the file does not have (an asset in ``balances``) is added under the name
as written.

The value is read as a TOML value where it is one (``50``, ``"0.001"``, ``0.001``, ``true``, ``["BTC/USDT"]``,
``{ USDT = "100" }``; a float as the exact decimal written), else taken as the string it is (``replay``,
``sqlite:///arb.db``).

Overrides are applied to the file's data before anything is validated, so an override is held to the same
rules as the file and a bad one gets the same one line, naming the variable instead of the file
(:func:`blame`). A key that does not exist is refused with the file's "did you mean". Secrets stay out of
overrides as they stay out of the file (``ARB_<VENUE>_API_KEY`` is the only way in).

Why not pydantic-settings' ``env_nested_delimiter``: it maps a variable to a field by the field's name, and
arb's tables are keyed by names a variable cannot spell (``symbols."LINK/USDT"``, a venue ``gate-main``, a
market ``markets."LINK/USDT"``), found here among the file's own names; and its validation errors name the
field, not the variable that set it, where arb's one line must name the variable.
"""

from __future__ import annotations

import copy
import difflib
import re
import tomllib
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from arb.errors import ConfigError

PREFIX = "ARB__"


@dataclass(frozen=True, slots=True)
class Override:
    """One key set from the environment."""

    variable: str  # ARB__RISK__DAILY_LOSS_LIMIT
    path: tuple[str, ...]  # ("risk", "daily_loss_limit")

    @property
    def key(self) -> str:
        return ".".join(self.path)


def parse_value(text: str) -> Any:
    """A TOML value where ``text`` is exactly one, else ``text`` itself. A float is read as the exact decimal
    written (``0.0001234567890123456789``, not the binary float nearest it), as the file's are
    (``arb/config/load.py``)."""
    try:
        parsed = tomllib.loads(f"v = {text}", parse_float=Decimal)
    except tomllib.TOMLDecodeError:
        return text
    return parsed["v"] if parsed.keys() == {"v"} else text  # "1\nx = 2" is one string, not two keys


def _norm(name: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", name.upper())


def _kind(annotation: Any) -> tuple[str, Any]:
    """``("model", cls)``, ``("table", value annotation)`` for a ``dict[str, X]``, or ``("value", None)``."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is dict:
        return "table", args[1]
    for candidate in [annotation, *args]:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return "model", candidate
    return "value", None


def apply_overrides(raw: Mapping[str, Any], environ: Mapping[str, str], root: type[BaseModel],
                    did_you_mean: Callable[[Sequence[object]], str]) -> tuple[dict[str, Any], list[Override]]:
    """The file's data with every ``ARB__`` variable of ``environ`` applied (a copy), and the overrides.
    ``did_you_mean(loc)`` is the config's own suggestion for a mistyped key at ``loc``."""
    data = copy.deepcopy(dict(raw))
    overrides: list[Override] = []
    by_path: dict[tuple[str, ...], str] = {}
    symbols = (raw.get("engine") or {}).get("symbols") if isinstance(raw.get("engine"), dict) else None
    engine_symbols = [s for s in symbols if isinstance(s, str)] if isinstance(symbols, list) else []
    for variable in sorted(v for v in environ if v.startswith(PREFIX)):
        parts = variable[len(PREFIX):].split("__")
        if not all(parts):
            raise ConfigError(f"${variable}", "", f"expected {PREFIX}SECTION__KEY, parts joined by '__' "
                              f"(e.g. {PREFIX}RISK__DAILY_LOSS_LIMIT)")
        path = _resolve(variable, parts, data, root, engine_symbols, did_you_mean)
        if path in by_path:
            raise ConfigError(f"${variable}", ".".join(path), f"already set by ${by_path[path]}")
        by_path[path] = variable
        node = data
        for part in path[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}  # a table the file does not have (or has as something else): the override's
            node = node[part]
        node[path[-1]] = parse_value(environ[variable])
        overrides.append(Override(variable, path))
    return data, overrides


def _resolve(variable: str, parts: list[str], data: Mapping[str, Any], root: type[BaseModel],
             engine_symbols: list[str], did_you_mean: Callable[[Sequence[object]], str]) -> tuple[str, ...]:
    """The key path ``parts`` names, checked against the config's sections and the file's names."""
    from arb.config.secrets import SECRET_KEY_NAMES, env_prefix

    shown = f"${variable}"
    path: list[str] = []
    kind, of = "model", root
    node: Any = data
    for i, part in enumerate(parts):
        if kind == "model":
            key = part.lower()
            field = of.model_fields.get(key)
            if key in SECRET_KEY_NAMES:  # the file refuses these too; credentials have their own variables
                env = env_prefix(path[1] if len(path) > 1 and path[0] == "venues" else "VENUE")
                raise ConfigError(shown, ".".join([*path, key]), f"secrets are not config keys: set {env}API_KEY "
                                  f"and {env}API_SECRET instead")
            if field is None:
                raise ConfigError(shown, ".".join([*path, key]), "unknown key" + did_you_mean((*path, key)))
            annotation = field.annotation
        elif kind == "table":
            key = _entry(shown, part, node, path, engine_symbols, entries_are_tables=_kind(of)[0] == "model")
            annotation = of
        else:
            raise ConfigError(shown, ".".join(path), f"is a single value, not a table: set "
                              f"{PREFIX}{'__'.join(parts[:i])} instead")
        path.append(key)
        node = node.get(key) if isinstance(node, dict) else None
        kind, of = _kind(annotation)
    return tuple(path)


def _entry(shown: str, part: str, node: Any, path: list[str], engine_symbols: list[str], *,
           entries_are_tables: bool) -> str:
    """The name in the table at ``path`` that ``part`` spells (``LINK_USDT`` -> ``LINK/USDT``)."""
    names = list(node) if isinstance(node, dict) else []
    found = [n for n in names if _norm(n) == _norm(part)] or [s for s in engine_symbols if _norm(s) == _norm(part)]
    if len(found) > 1:
        raise ConfigError(shown, ".".join(path), f"{part} could name any of {', '.join(found)}: rename one in "
                          "the file")
    if found:
        return found[0]
    if not entries_are_tables:
        return part  # a new entry of a table of values (an asset in balances), named as written
    close = difflib.get_close_matches(_norm(part), [_norm(n) for n in names], n=1)
    hint = f" (did you mean {next(n for n in names if _norm(n) == close[0])!r}?)" if close else ""
    listed = f"; it has {', '.join(names)}" if names else ""
    raise ConfigError(shown, ".".join([*path, part.lower()]), f"no such table in the file{listed}{hint}")


def blame(error: ConfigError, file: str, overrides: Sequence[Override]) -> ConfigError:
    """``error`` about a key an override set (or inside a table it set) names the variable instead of the
    file; an error about anything else is the file's."""
    if error.path != file or not error.key:
        return error
    for override in overrides:
        key = override.key
        if error.key == key or error.key.startswith((key + ".", key + "[")):
            return ConfigError(f"${override.variable}", error.key, error.problem)
    return error
