"""A sweep's grid: which config values to vary, each value checked before anything runs.

A grid maps a key to the values it takes; its product is the set of replays (``points``). Keys:

- ``capture``: captures to replay: a path, ``bundled:<name>``, a directory (every ``*.jsonl``/``*.jsonl.gz``
  in it) or a glob, each in name order (``arb/marketdata/timeline.py``);
- ``fee``: every venue's ``taker_fee``;
- ``latency_ms``: every venue's ``latency_ms`` (each a simulated venue of the kind its config gives it);
- ``feed_latency_ms``: every venue's ``feed_latency_ms``, how much later than the capture arb hears of its books;
- ``latency_profile``: every venue's ``latency_profile``, a profile file (``arb/venues/latency_profile.py``;
  relative to the grid file, or on the command line to the working directory), in place of its
  ``latency_ms``, ``ack_latency_ms`` and ``latency_jitter_ms``; the table shows its file name. Not with
  ``latency_ms`` (a venue's order latency is one or the other), nor a profile giving feed latency with
  ``feed_latency_ms``; a config whose venue names a profile varies ``latency_profile``, not ``latency_ms``;
- ``queue_model``: every simulated venue's (paper, sandbox) ``queue_model``: ``conservative``, ``power`` (at
  the venue's ``queue_power``, default 2) or ``log`` (``arb/venues/sim/queue.py``);
- ``min_edge_bps``: ``[detection] min_edge_bps``;
- ``leg_policy``: ``[execution] leg_policy``;
- ``min_profit_bps``, ``quote_size``: every maker symbol's ``[symbols.X.maker]`` value of that name (a config
  with no maker symbol has nothing for them to vary: refused).

and one setting, not an axis: ``captures_as``, what a directory or glob of capture files (a day per file)
becomes: ``"runs"`` (the default), a run per file; ``"timeline"``, one run replaying its files in order as
one market timeline.

A value is checked by the config's own validators (the section rebuilt with it), so a grid accepts exactly
what a config file would. A bad one is a :class:`~arb.errors.UsageError` naming the key and the value.

A grid is a product, and products grow fast: three lists of 100 values are a million replays. A grid over
:data:`MAX_POINTS` is refused (before any value is checked) unless the caller allows it, and its points are
only ever produced one at a time (:meth:`Grid.points`), never held as a list.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from arb.config import Config, ReplaySection
from arb.config.files import (
    BUNDLED_PREFIX,
    InputFileError,
    bundled_captures,
    read_input_file,
    resolve_capture,
)
from arb.errors import ConfigError, UsageError
from arb.marketdata.timeline import capture_files, no_capture_there
from arb.runtime.preflight import capture_refusal, check_maker_routes
from arb.venues.latency_profile import venue_profile

KEYS = ("capture", "fee", "latency_ms", "feed_latency_ms", "latency_profile", "queue_model",
        "min_edge_bps", "leg_policy", "min_profit_bps", "quote_size")
MAKER_KEYS = ("min_profit_bps", "quote_size")
PATH_KEYS = ("capture", "latency_profile")  # files: relative to the grid file, held resolved
# What a venue's order latency is when the grid gives it a profile: the profile's, and nothing else.
_PROFILE_REPLACES = {"latency_ms": 0, "ack_latency_ms": None, "latency_jitter_ms": 0}
SIMULATED_KINDS = ("paper", "sandbox")  # the venues whose resting orders the matcher fills (queue_model)
CAPTURES_AS = ("runs", "timeline")  # what a directory or glob of captures becomes: a run per file, or one run

M = TypeVar("M", bound=BaseModel)
Point = dict[str, str]  # key -> value, as text (exact: money stays a decimal string)

# The most points a grid may have unless the caller allows more (``arb sweep --allow-large-grid``). Each point
# is a whole replay (the bundled two-hour capture: about 3 s of CPU), a run merged into the sweep's database
# and a row of the table printed at the end: 10,000 are already about 8 hours of CPU, or an hour on 8 cores.
# A larger product is far more often a slip (a long list under a second key, one list too many) than a plan.
MAX_POINTS = 10_000


@dataclasses.dataclass(frozen=True)
class Grid:
    """Each key and the values it takes, in ``KEYS`` order; ``capture`` holds resolved absolute paths (one
    file each with ``captures_as = "runs"``; with ``"timeline"``, the file, directory or glob given)."""

    values: Mapping[str, tuple[str, ...]]
    captures_as: str = "runs"

    @property
    def size(self) -> int:
        """How many points the product has (computed, not counted)."""
        return math.prod(len(v) for v in self.values.values())

    def points(self) -> Iterator[Point]:
        """The product, one point at a time, in a stable order (the first key varies slowest)."""
        keys = list(self.values)
        return (dict(zip(keys, combo, strict=True)) for combo in itertools.product(*self.values.values()))

    def as_json(self) -> dict[str, Any]:
        return {**{k: list(v) for k, v in self.values.items()}, "captures_as": self.captures_as}


def read_toml_input(path: Path, what: str) -> dict[str, Any]:
    """A grid or ranges file (``what``) as written, numbers with a point as decimals, never floats; one line
    naming ``path`` for a file that is missing, not a regular file of bounded size, or not TOML."""
    try:
        return tomllib.loads(read_input_file(path), parse_float=Decimal)
    except FileNotFoundError:
        raise UsageError(f"{path}: {what} not found") from None
    except InputFileError as exc:
        raise UsageError(f"{path}: {exc}, not a {what}") from None
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not a readable TOML {what}: {exc}") from None


def beside(path: Path, given: str) -> str:
    """A file a grid or ranges file names: relative to it (a bundled or absolute name as it is)."""
    return given if given.startswith(BUNDLED_PREFIX) or Path(given).is_absolute() else str(path.parent / given)


def read_grid_file(path: Path) -> dict[str, list[str]]:
    """``GRID.toml``: top-level ``key = [values]`` (or one value). Relative captures and latency profiles are
    relative to it."""
    raw = read_toml_input(path, "grid file")
    out: dict[str, list[str]] = {}
    for key, value in raw.items():
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, (str, int, Decimal)) and not isinstance(v, bool) for v in items):
            raise UsageError(f"{path}: {key}: values must be strings or numbers (got {value!r})")
        texts = [str(v) for v in items]
        if key in PATH_KEYS:
            texts = [beside(path, t) for t in texts]
        out[key] = texts
    return out


def parse_list(text: str) -> list[str]:
    """A command-line list: ``0.0001,0.0003``."""
    return [part.strip() for part in text.split(",")]


def build_grid(base: Config, raw: Mapping[str, Sequence[str]], *, source: str = "grid",
               max_points: int | None = MAX_POINTS) -> Grid:
    """Check every key and value of ``raw`` against ``base``; the grid, captures expanded to files.

    Without a ``capture`` key the grid replays the config's own ``[replay] capture``. A grid of more than
    ``max_points`` points (None: no limit) is refused before its values are checked."""
    for key in raw:
        if key not in (*KEYS, "captures_as"):
            raise UsageError(f"{source}: unknown grid key {key!r} (known: {', '.join(KEYS)}, captures_as)")
    captures_as = list(raw.get("captures_as", ["runs"]))
    if len(captures_as) != 1 or captures_as[0] not in CAPTURES_AS:
        raise UsageError(f"{source}: captures_as: one of {', '.join(map(repr, CAPTURES_AS))} "
                         f"(got {','.join(captures_as)!r})")
    as_timeline = captures_as[0] == "timeline"
    lists: dict[str, list[str]] = {}  # key -> its values (captures expanded to files)
    shown: dict[str, list[str]] = {}  # key -> its values as given
    for key in KEYS:
        given = list(raw.get(key, ()))
        if key == "capture" and not given:
            if base.replay is None:
                raise UsageError(f"{source}: capture: no captures given and the config has no [replay] capture")
            given = [str(base.capture_path())]
        if key not in raw and key != "capture":
            continue
        if not given or any(v == "" for v in given):
            raise UsageError(f"{source}: {key}: an empty value (got {_shown(given)!r})")
        lists[key] = (_captures(given, source, as_timeline) if key == "capture"
                      else [str(Path(v).resolve()) for v in given] if key == "latency_profile" else given)
        shown[key] = given
    size = math.prod(len(v) for v in lists.values())
    if max_points is not None and size > max_points:
        shape = " x ".join(f"{len(v):,} {k}" for k, v in lists.items() if len(v) > 1)
        raise UsageError(f"{source}: the grid has {size:,} points ({shape}), over {max_points:,}: each point is a "
                         "whole replay; pass --allow-large-grid to run it anyway")
    values: dict[str, tuple[str, ...]] = {}
    for key, given in lists.items():
        checked = given if key == "capture" else [_checked(base, key, v, source) for v in given]
        if len(set(checked)) != len(checked):
            raise UsageError(f"{source}: {key}: a value is listed twice (got {_shown(shown[key])!r})")
        values[key] = tuple(checked)
    _check_latency_keys(base, values, source)
    return Grid(values, captures_as[0])


def _check_latency_keys(base: Config, values: Mapping[str, Sequence[str]], source: str) -> None:
    """Two latency keys that would set one thing twice at every point: refused in one line."""
    profiles = values.get("latency_profile", ())
    if profiles and "latency_ms" in values:
        raise UsageError(f"{source}: latency_ms and latency_profile: a profile gives every venue's order latency "
                         "in place of latency_ms; vary one of them")
    if profiles and "feed_latency_ms" in values:
        for value in profiles:
            config = _with(base, "latency_profile", value)
            if any((p := venue_profile(config, n)) is not None and p.feed is not None for n in config.venues):
                raise UsageError(f"{source}: feed_latency_ms and latency_profile: {Path(value).name} gives feed "
                                 "latency, which feed_latency_ms would set too; vary one of them")


def _shown(values: Sequence[str], limit: int = 10) -> str:
    """A list as an error line shows it: its first ``limit`` values (a grid key may list thousands)."""
    head = ",".join(values[:limit])
    return head if len(values) <= limit else f"{head},... ({len(values):,} values)"


def apply(base: Config, point: Mapping[str, str]) -> Config:
    """``base`` with the point's values: a replay of ``point["capture"]`` at full speed."""
    config = base
    for key, value in point.items():
        if key == "capture":
            config = dataclasses.replace(config, replay=ReplaySection(capture=value, speed=0.0))
        else:
            config = _with(config, key, value)
    return dataclasses.replace(
        config, engine=config.engine.model_copy(update={"mode": "replay", "status": "off"}))


def _with(config: Config, key: str, value: str) -> Config:
    if key == "fee":
        return dataclasses.replace(config, venues={n: _validated(v, taker_fee=value) for n, v in config.venues.items()})
    if key == "latency_ms":
        return dataclasses.replace(config, venues={n: _validated(v, latency_ms=_integer(value))
                                                   for n, v in config.venues.items()})
    if key == "feed_latency_ms":
        return dataclasses.replace(config, venues={n: _validated(v, feed_latency_ms=_integer(value))
                                                   for n, v in config.venues.items()})
    if key == "latency_profile":
        return dataclasses.replace(config, venues={n: _validated(v, **_PROFILE_REPLACES, latency_profile=value)
                                                   for n, v in config.venues.items()})
    if key == "queue_model":
        simulated = [n for n, v in config.venues.items() if v.kind in SIMULATED_KINDS]
        if not simulated:
            raise UsageError(f"{key}: the config has no simulated venue (kind paper or sandbox) to vary it on")
        # The power model's exponent stays the venue's where it has one; another model has none.
        return dataclasses.replace(config, venues={n: _validated(v, queue_model=value, queue_power=(
            v.queue_power if value == "power" else None)) if n in simulated else v for n, v in config.venues.items()})
    if key == "min_edge_bps":
        return dataclasses.replace(config, detection=_validated(config.detection, min_edge_bps=value))
    if key == "leg_policy":
        return dataclasses.replace(config, execution=_validated(config.execution, leg_policy=value))
    if key in MAKER_KEYS:
        if not config.maker_symbols:
            raise UsageError(f"{key}: the config has no maker symbol (strategy = \"maker\") to vary it on")
        symbols = dict(config.symbols)
        for name in config.maker_symbols:
            section = symbols[name]
            assert section.maker is not None
            symbols[name] = section.model_copy(update={"maker": _validated(section.maker, **{key: value})})
        return dataclasses.replace(config, symbols=symbols)
    raise KeyError(key)


def _integer(value: str) -> int | str:
    """A grid's text as the integer it spells (``50``), for a key the config types as an integer (the schema
    takes no text for one: TOML gives it a number); anything else as it is, for the schema to refuse."""
    return int(value) if re.fullmatch(r"[+-]?[0-9]{1,18}", value.strip()) else value


def _validated(section: M, **update: Any) -> M:
    """The section rebuilt with ``update`` through its own validators (``model_copy`` would skip them)."""
    return type(section).model_validate({**section.model_dump(), **update})


def _checked(base: Config, key: str, value: str, source: str) -> str:
    try:
        config = _with(base, key, value)
        if key in MAKER_KEYS:  # a quote size off a venue's step is refused as the run would refuse it
            check_maker_routes(config, source)
        if key in ("latency_profile", "feed_latency_ms"):  # the file read as the run reads it (preflight)
            for name in config.venues:
                venue_profile(config, name)
    except UsageError as exc:
        raise UsageError(f"{source}: {exc}") from None
    except ConfigError as exc:
        raise UsageError(f"{source}: {key}: {exc.problem} (got {value!r})") from None
    except ValidationError as exc:
        problem = exc.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
        raise UsageError(f"{source}: {key}: {problem} (got {value!r})") from None
    return value


def _captures(given: Sequence[str], source: str, as_timeline: bool) -> list[str]:
    """Each capture given: its files, one value each, or (a timeline) itself, one value."""
    out: list[str] = []
    for text in given:
        path = resolve_capture(text, Path("."))
        found = capture_files(path)
        if not found:
            hint = f" (bundled: {', '.join(bundled_captures())})" if text.startswith(BUNDLED_PREFIX) else ""
            raise UsageError(f"{source}: capture: {no_capture_there(path)}: {text!r}{hint}")
        files = [str(path.resolve())] if as_timeline else [str(p.resolve()) for p in found]
        for file in files:  # opened as each replay's preflight would, before the sweep's database exists
            problem = capture_refusal(Path(file))
            if problem is not None:
                raise UsageError(f"{source}: capture: {problem}")
        out += files
    return out


def capture_label(value: str) -> str:
    """A capture as a table shows it: a file by its name; a timeline by its last two parts (``days/*.gz``)."""
    path = Path(value)
    return path.name if path.is_file() else "/".join(path.parts[-2:])


def value_label(key: str, value: str) -> str:
    """A grid value as the table shows it: a capture as :func:`capture_label` does, a latency profile by its
    file name, anything else as it is."""
    if key == "capture":
        return capture_label(value)
    return Path(value).name if key == "latency_profile" else value


def describe(point: Mapping[str, Any]) -> str:
    """``fee=0.0001 min_edge_bps=0.5 capture=a.jsonl.gz`` (files as :func:`value_label` shows them)."""
    return " ".join(f"{k}={value_label(k, v)}" for k, v in point.items())
