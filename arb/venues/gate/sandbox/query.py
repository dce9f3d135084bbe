"""Query parameters as the sandbox reads them: refused with Gate's ``INVALID_PARAM_VALUE`` unless plain."""

from __future__ import annotations

import re

from arb.venues.gate.sandbox.apierror import bad_param

DIGITS_RE = re.compile(r"[0-9]{1,12}")
# What Gate (a Go server: strconv.ParseBool) takes for a boolean; Gate's SDK sends Python's "True".
TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})
FALSE = frozenset({"0", "f", "F", "false", "FALSE", "False"})


def int_param(text: str, name: str, low: int, high: int) -> int:
    """A query parameter as an integer in ``[low, high]``: ASCII digits only (``str.isdigit`` takes
    ``'²'``, which ``int`` refuses), and short, so ``int`` never meets a 5000-digit number."""
    if not DIGITS_RE.fullmatch(text) or not low <= int(text) <= high:
        raise bad_param(f"{name} must be an integer in [{low}, {high}]")
    return int(text)


def bool_param(text: str, name: str) -> bool:
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise bad_param(f"{name} must be true or false")
