"""A validation failure as the one line a user reads: the file (or variable), the key, what is wrong, and for
a mistyped key the key it was probably meant to be."""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

from arb.config.schema import ConfigModel
from arb.config.secrets import mask_url
from arb.errors import ConfigError


def _section_at(loc: Sequence[object]) -> type[BaseModel] | None:
    """The section model a key path ends in (``("venues", "gate")`` -> VenueSection), or None."""
    model: type[BaseModel] = ConfigModel
    parts = list(loc)
    while parts:
        field = model.model_fields.get(str(parts.pop(0)))
        if field is None:
            return None
        annotation = _unoptional(field.annotation)
        args = typing.get_args(annotation)
        if typing.get_origin(annotation) in (dict, tuple):  # venues, markets: a name; order_budget: an index
            if not parts:
                return None
            parts.pop(0)
            annotation = args[-1] if typing.get_origin(annotation) is dict else args[0]
        else:
            annotation = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), annotation)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _unoptional(annotation: Any) -> Any:
    """``X | None`` -> ``X``; anything else as it is."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1 else annotation


def _key(loc: Sequence[object]) -> str:
    """A key as the file writes it: ``venues.gate.taker_fee``; a list's item by its index,
    ``venues.gate.order_budget[0].orders``."""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).removeprefix(".")


def did_you_mean(loc: Sequence[object]) -> str:
    """`` (did you mean 'taker_fee'?)`` for a mistyped key, from its section's own keys; else nothing."""
    section = _section_at(loc[:-1])
    if section is None:
        return ""
    close = difflib.get_close_matches(str(loc[-1]), list(section.model_fields), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def first_error(exc: ValidationError, shown: str) -> ConfigError:
    errors = exc.errors(include_url=False)
    err = _typo_of_missing(errors) or errors[0]
    key = _key(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        return ConfigError(shown, key, "unknown key" + did_you_mean(err["loc"]))
    if kind == "missing":
        return ConfigError(shown, key, "required key is missing")
    message = re.sub(r"Decimal\('([^']*)'\)", r"\1", err["msg"].removeprefix("Value error, "))
    value = err.get("input")
    if key == "store.url" and isinstance(value, str):
        value = mask_url(value)  # never echo a database password
        if value in message:
            return ConfigError(shown, key, message)
    if isinstance(value, (str, int, float, Decimal)) and not isinstance(value, bool):
        if not isinstance(value, str):
            message += f" (got {value})"
        elif len(value) > ECHO_MAX:  # one line, not a screenful of a 4,000-character path
            message += f" (got {value[:ECHO_MAX]!r}... {len(value):,} characters)"
        elif repr(value) not in message:  # unless the message quotes it already (``not a decimal number: 'x'``)
            message += f" (got {value!r})"
    return ConfigError(shown, key, message)


def _typo_of_missing(errors: Sequence[Any]) -> Any:
    """A required key reported missing because it was mistyped (``daily_los_limit``) is reported as the
    typo, which is what the user wrote and must fix: the unknown key close to a missing one in its table."""
    for missing in (e for e in errors if e["type"] == "missing"):
        for extra in (e for e in errors if e["type"] == "extra_forbidden"):
            same_table = tuple(extra["loc"][:-1]) == tuple(missing["loc"][:-1])
            if same_table and difflib.get_close_matches(str(extra["loc"][-1]), [str(missing["loc"][-1])], n=1):
                return extra
    return None


ECHO_MAX = 80  # characters of a refused value an error line shows

