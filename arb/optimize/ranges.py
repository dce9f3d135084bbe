"""An optimisation's search space: the sweep's keys, each a range or a list of values, and the timeline it walks.

A ranges file is a sweep grid file (``arb/sweep/grid.py``) whose keys may hold a range instead of a list::

    capture = "days/"                                            # the timeline: its files in name order
    fee = { low = "0", high = "0.0003", step = "0.0001" }      # strings: exact decimals, a step required
    latency_ms = { low = 0, high = 50, step = 10 }             # integers (step 1 unless given; log = true)
    min_edge_bps = { low = 0.0, high = 2.0 }                   # numbers with a point: continuous (log = true)
    leg_policy = ["unwind", "complete"]                        # a list: one of its values
    quote_size = "0.01"                                        # one value: held fixed

A range of numbers with a point and a ``step`` is stepped exactly as a decimal one. Every key is one the sweep
accepts, and every value is checked by the sweep's own rules (:func:`arb.sweep.grid.build_grid`: the config's
validators): a range's ends, its first step and (continuous) a point inside it, so a key that takes integers
refuses a range with a point and a quote size off the venue's step is refused before anything runs. Anything else
(an unknown key or field, ends the wrong way round, a step that does not divide the range, a bound that is not
finite, more than :data:`MAX_STEPS` steps) is one line naming the file and the key.

Each trial's parameters, as Optuna samples them (floats for a stepped decimal range), become the exact text a
replay takes: ``low + k * step`` in decimal arithmetic, so ``0.0003`` is ``0.0003`` and never
``0.00030000000000000003``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from arb.config import Config
from arb.errors import UsageError
from arb.sweep.grid import KEYS, PATH_KEYS, Point, beside, build_grid, read_toml_input

PARAM_KEYS = tuple(k for k in KEYS if k != "capture")  # what a range may vary: every key of a sweep's grid
RANGE_FIELDS = ("low", "high", "step", "log")
MAX_STEPS = 10**9  # values a stepped range may hold: past it a decimal step is lost in the sampler's floats
INSIDE = Decimal("0.381966")  # where a continuous range is checked inside: the golden section, not a round figure
MAX_MAGNITUDE = Decimal(10) ** 15  # a bound or step beyond it is no setting arb has, and no float is exact there


@dataclasses.dataclass(frozen=True, slots=True)
class Param:
    """One key's search: ``kind`` ``int`` (``low``..``high`` by ``step``), ``float`` (continuous), ``decimal``
    (``low``..``high`` by ``step``, exact) or ``choice`` (one of ``choices``)."""

    key: str
    kind: str
    low: Decimal = Decimal(0)
    high: Decimal = Decimal(0)
    step: Decimal | None = None
    log: bool = False
    choices: tuple[str, ...] = ()

    def distribution(self) -> Any:
        """The Optuna distribution the sampler draws this key from."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind == "choice":
            return CategoricalDistribution(self.choices)
        if self.kind == "int":
            return IntDistribution(int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        step = float(self.step) if self.kind == "decimal" and self.step is not None else None
        return FloatDistribution(float(self.low), float(self.high), log=self.log, step=step)

    def text(self, sampled: Any) -> str:
        """A sampled value as the exact text a replay's config takes."""
        if self.kind == "choice":
            return str(sampled)
        if self.kind == "int":
            return str(int(sampled))
        if self.kind == "float":
            return repr(float(sampled))
        assert self.step is not None
        k = round((Decimal(repr(float(sampled))) - self.low) / self.step)
        k = min(max(k, 0), int((self.high - self.low) / self.step))
        return format(self.low + k * self.step if k else self.low, "f")  # low as written: "0", not "0.0000"

    def samples(self) -> list[str]:
        """The values checked before anything runs: a list's every value; a range's ends, its first step and
        (continuous) a point inside it."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "float":  # a point inside it, as few of a continuous range's are whole numbers
            inner = [repr(float(self.low + (self.high - self.low) * INSIDE))]
        else:
            assert self.step is not None
            inner = [self.text(float(self.low + self.step))] if self.low + self.step < self.high else []
        ends = [self.text(float(self.low)), self.text(float(self.high))] if self.kind == "float" else \
            [format(self.low, "f"), format(self.high, "f")]
        return list(dict.fromkeys([ends[0], *inner, ends[1]]))

    def as_json(self) -> Any:
        if self.kind == "choice":
            return list(self.choices)
        out: dict[str, Any] = {"kind": self.kind, "low": format(self.low, "f"), "high": format(self.high, "f")}
        if self.step is not None:
            out["step"] = format(self.step, "f")
        if self.log:
            out["log"] = True
        return out


@dataclasses.dataclass(frozen=True, slots=True)
class Space:
    """The keys searched, in the sweep's key order, and the timeline: its capture files, in name order."""

    params: tuple[Param, ...]
    timeline: tuple[str, ...]

    def distributions(self) -> dict[str, Any]:
        return {p.key: p.distribution() for p in self.params}

    def point(self, sampled: Mapping[str, Any], capture: str) -> Point:
        """A trial's parameters (``trial.params``) as the sweep's point a replay of ``capture`` takes."""
        return {"capture": capture, **{p.key: p.text(sampled[p.key]) for p in self.params}}

    def as_json(self) -> dict[str, Any]:
        return {**{p.key: p.as_json() for p in self.params}, "capture": list(self.timeline)}


def read_ranges_file(path: Path) -> dict[str, Any]:
    """``RANGES.toml`` as written (numbers with a point as decimals, never floats); relative captures and
    latency profiles are relative to it, as in a grid file."""
    raw = read_toml_input(path, "ranges file")
    for key in PATH_KEYS:
        if key not in raw:
            continue
        given = raw[key] if isinstance(raw[key], list) else [raw[key]]
        if not all(isinstance(v, str) for v in given):
            raise UsageError(f"{path}: {key}: files as strings, one or a list (got {raw[key]!r})")
        raw[key] = [beside(path, v) for v in given]
    return raw


def build_space(base: Config, raw: Mapping[str, Any], *, source: str = "ranges") -> Space:
    """Check every key, range and value of ``raw`` against ``base`` (values by the sweep's own rules); the
    space, the timeline expanded to its files."""
    for key in raw:
        if key == "captures_as":
            raise UsageError(f"{source}: captures_as: arb optimize walks forward over the timeline's files one "
                             "by one (fitted on one, scored on the next); it has no captures_as")
        if key not in KEYS:
            raise UsageError(f"{source}: unknown key {key!r} (known: {', '.join(KEYS)})")
    params = tuple(_param(key, raw[key], source) for key in PARAM_KEYS if key in raw)
    if not any(p.kind != "choice" or len(p.choices) > 1 for p in params):
        raise UsageError(f"{source}: nothing to optimise: give at least one key a range or a list of values "
                         f"(keys: {', '.join(PARAM_KEYS)})")
    checked = {"capture": list(raw.get("capture", ())), **{p.key: p.samples() for p in params}}
    if not checked["capture"]:
        del checked["capture"]  # build_grid takes the config's [replay] capture
    grid = build_grid(base, checked, source=source, max_points=None)
    timeline = grid.values["capture"]
    if len(timeline) < 2:
        raise UsageError(f"{source}: capture: walk-forward needs a timeline of two files or more, fitted on one "
                         f"and scored on the next (got {len(timeline)}: {', '.join(timeline)})")
    return Space(params, timeline)


def _param(key: str, value: Any, source: str) -> Param:
    where = f"{source}: {key}"
    if isinstance(value, dict):
        return _range(key, value, where)
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, (str, int, Decimal)) and not isinstance(v, bool) for v in items):
        raise UsageError(f"{where}: a range {{ low, high, step }}, a list of values or one value, as strings or "
                         f"numbers (got {value!r})")
    return Param(key, "choice", choices=tuple(str(v) for v in items))


def _range(key: str, table: Mapping[str, Any], where: str) -> Param:
    unknown = [f for f in table if f not in RANGE_FIELDS]
    if unknown:
        raise UsageError(f"{where}: unknown field {unknown[0]!r} (a range has {', '.join(RANGE_FIELDS)})")
    if "low" not in table or "high" not in table:
        raise UsageError(f"{where}: a range needs low and high (got {', '.join(table) or 'neither'})")
    log = table.get("log", False)
    if not isinstance(log, bool):
        raise UsageError(f"{where}: log: true or false (got {log!r})")
    given = {f: table[f] for f in ("low", "high", "step") if f in table}
    if not all(isinstance(v, (str, int, Decimal)) and not isinstance(v, bool) for v in given.values()):
        raise UsageError(f"{where}: low, high and step are numbers, or strings for exact decimals "
                         f"(got {dict(given)!r})")
    strings = [isinstance(v, str) for v in given.values()]
    if any(strings) and not all(strings):
        raise UsageError(f"{where}: low, high and step are all strings (exact decimals) or all numbers "
                         f"(got {dict(given)!r})")
    bounds = {f: _number(v, f"{where}: {f}") for f, v in given.items()}
    low, high, step = bounds["low"], bounds["high"], bounds.get("step")
    if low >= high:
        raise UsageError(f"{where}: low {_shown(low)} is not below high {_shown(high)} (one value: "
                         f"{key} = \"{_shown(low)}\")")
    if all(strings):
        kind = "decimal"
    elif all(isinstance(v, int) for v in given.values()):
        kind = "int"
    else:
        kind = "decimal" if step is not None else "float"
    if kind != "int":  # the sampler draws floats: each bound must be one exactly, or its steps drift
        for f, number in bounds.items():
            if Decimal(repr(float(number))) != number:
                raise UsageError(f"{where}: {f}: {_shown(number)} has more digits than the sampler's floats hold")
    if kind == "decimal" and step is None:
        raise UsageError(f"{where}: a range of strings is exact decimals and needs a step (numbers with a "
                         "point and no step are continuous)")
    if step is not None:
        if step <= 0:
            raise UsageError(f"{where}: step must be above 0 (got {_shown(step)})")
        steps = (high - low) / step
        if steps != steps.to_integral_value():
            raise UsageError(f"{where}: step {_shown(step)} does not divide high - low ({_shown(high - low)})")
        if steps > MAX_STEPS:
            raise UsageError(f"{where}: {steps:.3g} steps from low to high, over {MAX_STEPS:,}: a coarser step")
    if log:
        if kind == "decimal":
            raise UsageError(f"{where}: log: a stepped range has no log scale (drop step, or log)")
        if kind == "int" and step not in (None, 1):
            raise UsageError(f"{where}: log: an integer range on a log scale steps by 1 (got step {step})")
        if low <= 0:
            raise UsageError(f"{where}: log: low must be above 0 on a log scale (got {_shown(low)})")
    return Param(key, kind, low, high, step if kind != "float" else None, log)


def _number(value: str | int | Decimal, where: str) -> Decimal:
    try:
        number = Decimal(value) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise UsageError(f"{where}: not a number (got {value!r})") from None
    if not number.is_finite():
        raise UsageError(f"{where}: not a finite number (got {value!r})")
    if abs(number) > MAX_MAGNITUDE:
        raise UsageError(f"{where}: {_shown(number)} is beyond ±1e15")
    return number


def _shown(number: Decimal) -> str:
    return format(number, "f") if abs(number.adjusted()) < 20 else str(number)
