"""A simulated venue's latency as distributions, read from a profile file (``[venues.<name>] latency_profile``).

A profile gives, in milliseconds:

- ``order``: ``out`` (a request's trip to the venue: it is matched on arrival) and ``back`` (the answer's trip
  to arb, and each pushed fill's): every request but a cancel;
- ``cancel`` (optional): a cancel's ``out`` and ``back``; without it a cancel travels as an order does;
- ``feed`` (optional): how much later than the venue's book changed arb hears of it, per event, in a
  simulation (it replaces ``feed_latency_ms``, and may not be given with it).

Each one is a distribution:

- ``{"kind": "constant", "ms": 20}``;
- ``{"kind": "lognormal", "median_ms": 20, "sigma": 0.5}``: ``median * exp(sigma * z)``, ``z`` standard normal
  (``sigma`` is the spread of the logarithm: 0.5 puts the 84th percentile at 1.65 x the median), capped at
  :data:`MAX_MS`;
- ``{"kind": "empirical", "quantiles": [[0, 48.2], [0.5, 50.1], ..., [1, 57.9]]}``: ``[p, ms]`` pairs, ``p`` from
  0 to 1 rising, ``ms`` never falling; a draw ``u`` in [0, 1) gives the ``ms`` interpolated linearly between the
  two quantiles around it (the inverse of the piecewise-linear distribution function through them). ``arb
  latency`` writes these from a live run's orders (``arb/commands/latency.py``).

Drawing (:meth:`LatencyProfile.trip`): one uniform draw per request gives both its trips, each its
distribution's quantile at that draw (the two trips rank alike: a slow moment of the network is slow both
ways). A run measures only the round trip (``acked_at - sent_at``), and a profile built from one splits each
round trip in two; drawing the two halves apart would give round trips narrower than the ones measured (a sum
of two independent draws), drawing them together gives the measured distribution back. A pushed fill draws
its ``back`` on its own. Feed latency draws once per event (:class:`FeedDraws`).

The draws come from a generator the caller seeds per venue (``arb/venues/latent.py``,
``arb/runtime/feed_latency.py``): the same capture and profile give the same latencies in a replay, in paper
mode and at a sweep's point.

The hftbacktest library replays recorded order latencies in another way (``IntpOrderLatency``): it interpolates
between the recorded requests *in time*, the latency an order sent at ``t`` gets being the one recorded around
``t``. A profile is a distribution, not a time series: it is replayed on other captures and other days than the
run it was measured on, where the live run's clock means nothing.
"""

from __future__ import annotations

import json
import math
import random
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

from arb.config.files import InputFileError, read_input_file
from arb.errors import ConfigError
from arb.outfiles import open_output

if TYPE_CHECKING:
    from arb.config import Config

MAX_MS = 60_000.0  # as latency_ms: a minute is past any request's timeout
MAX_SIGMA = 5.0  # a lognormal wider than this is a typo: at 5 its 99th percentile is 10^5 x the median
MAX_FILE_BYTES = 1_000_000  # a profile is a few kilobytes; a larger file is not one
KINDS = ("constant", "lognormal", "empirical")
_NORMAL = NormalDist()
_U_EDGE = 1e-12  # the normal's quantile at 0 is -inf: a draw is kept this far inside (0, 1)


class ProfileError(ValueError):
    """A profile that cannot be used: the message names the key (``order.out.quantiles``) and the problem."""


@dataclass(frozen=True, slots=True)
class Constant:
    ms: float

    def at(self, u: float) -> float:
        return self.ms

    def as_json(self) -> dict[str, Any]:
        return {"kind": "constant", "ms": self.ms}


@dataclass(frozen=True, slots=True)
class LogNormal:
    median_ms: float
    sigma: float

    def at(self, u: float) -> float:
        z = _NORMAL.inv_cdf(min(max(u, _U_EDGE), 1 - _U_EDGE))
        return min(self.median_ms * math.exp(self.sigma * z), MAX_MS)

    def as_json(self) -> dict[str, Any]:
        return {"kind": "lognormal", "median_ms": self.median_ms, "sigma": self.sigma}


@dataclass(frozen=True, slots=True)
class Empirical:
    """Quantiles ``(p, ms)``, ``p`` rising from 0 to 1, ``ms`` never falling."""

    quantiles: tuple[tuple[float, float], ...]
    _ps: tuple[float, ...] = field(init=False, repr=False, compare=False)  # the p column, for bisect

    def __post_init__(self) -> None:
        object.__setattr__(self, "_ps", tuple(p for p, _ in self.quantiles))

    def at(self, u: float) -> float:
        ps = self._ps
        i = min(max(bisect_right(ps, u) - 1, 0), len(ps) - 2)
        (p0, lo), (p1, hi) = self.quantiles[i], self.quantiles[i + 1]
        return lo + (hi - lo) * (min(max(u, p0), p1) - p0) / (p1 - p0)

    def as_json(self) -> dict[str, Any]:
        return {"kind": "empirical", "quantiles": [[p, ms] for p, ms in self.quantiles]}


Distribution = Constant | LogNormal | Empirical


@dataclass(frozen=True, slots=True)
class Trips:
    """A request's two trips (``cancel``) or every other request's (``order``)."""

    out: Distribution
    back: Distribution

    def as_json(self) -> dict[str, Any]:
        return {"out": self.out.as_json(), "back": self.back.as_json()}


@dataclass(frozen=True, slots=True)
class LatencyProfile:
    """One venue's latency profile; implements ``arb.venues.latent.OrderLatency`` (seconds, as it sleeps)."""

    order: Trips
    cancel: Trips | None = None
    feed: Distribution | None = None
    source: Mapping[str, Any] | None = None  # where it came from (``arb latency``: the run, the split): read only
    seed: int = 0

    @property
    def zero(self) -> bool:
        trips = [self.order, *([self.cancel] if self.cancel else [])]
        return all(isinstance(d, Constant) and d.ms == 0 for t in trips for d in (t.out, t.back))

    def trip(self, rng: random.Random, kind: str) -> tuple[float, float | None]:
        """(out, back) in seconds for one request of ``kind`` (``cancel``, or anything else: ``order``), from
        one draw."""
        trips = self.cancel if kind == "cancel" and self.cancel is not None else self.order
        u = rng.random()
        return trips.out.at(u) / 1000, trips.back.at(u) / 1000

    def pushed(self, rng: random.Random) -> float:
        """A pushed fill's trip back, in seconds: a draw of its own."""
        return self.order.back.at(rng.random()) / 1000

    def as_json(self) -> dict[str, Any]:
        return {
            **({"source": dict(self.source)} if self.source else {}),
            "order": self.order.as_json(),
            **({"cancel": self.cancel.as_json()} if self.cancel else {}),
            **({"feed": self.feed.as_json()} if self.feed else {}),
        }


class FeedDraws:
    """One venue's feed latency in a simulation, an event at a time: its draw, rounded to the capture's
    millisecond, and never earlier than the event before it reached arb (a feed is one ordered stream: an
    update never overtakes the one before it)."""

    def __init__(self, distribution: Distribution, rng: random.Random) -> None:
        self._distribution = distribution
        self._rng = rng
        self._last_ms: int | None = None

    def arrival_ms(self, venue_ms: int) -> int:
        at = venue_ms + round(self._distribution.at(self._rng.random()))
        if self._last_ms is not None and at < self._last_ms:
            at = self._last_ms
        self._last_ms = at
        return at


# ------------------------------------------------------------------------------------------- reading
def read_profile(path: Path) -> LatencyProfile:
    """The profile in ``path``; :class:`ProfileError` naming what is wrong (a file not there included)."""
    try:
        raw = json.loads(read_input_file(path, MAX_FILE_BYTES), parse_float=Decimal, parse_constant=_no_constant)
    except FileNotFoundError:
        raise ProfileError("no such file") from None
    except InputFileError as exc:  # a FIFO would block the read forever, a device never end it
        raise ProfileError(f"{exc}, not a latency profile") from None
    except OSError as exc:
        raise ProfileError(f"cannot read: {exc.strerror or exc}") from None
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, ProfileError):
            raise
        raise ProfileError(f"not JSON: {exc}") from None
    return parse_profile(raw)


def venue_profile(config: Config, venue: str) -> LatencyProfile | None:
    """The profile ``[venues.<venue>] latency_profile`` names, None if none; a profile that cannot be used is a
    :class:`~arb.errors.ConfigError` naming the key and the file, as the preflight and the run both say it."""
    path = config.latency_profile_path(venue)
    if path is None:
        return None
    key = f"venues.{venue}.latency_profile"
    try:
        profile = read_profile(path)
    except ProfileError as exc:
        raise ConfigError(str(config.path), key, f"{path}: {exc}") from None
    if profile.feed is not None and config.venues[venue].feed_latency_ms is not None:
        raise ConfigError(str(config.path), key, f"{path} gives feed latency and feed_latency_ms is set too: "
                          "the profile's feed replaces feed_latency_ms (remove one)")
    return profile


def parse_profile(raw: object) -> LatencyProfile:
    """A profile from its JSON document; :class:`ProfileError` naming the first key that is wrong."""
    doc = _object(raw, "the profile", ("order", "cancel", "feed", "source"))
    if "order" not in doc:
        raise ProfileError("order: required ({\"out\": ..., \"back\": ...})")
    source = doc.get("source")
    if source is not None and not isinstance(source, dict):
        raise ProfileError("source: an object (it says where the profile came from)")
    return LatencyProfile(
        order=_trips(doc["order"], "order"),
        cancel=_trips(doc["cancel"], "cancel") if "cancel" in doc else None,
        feed=_distribution(doc["feed"], "feed") if "feed" in doc else None,
        source=_plain(source) if source is not None else None,
    )


def _plain(node: Any) -> Any:
    """``source`` as JSON writes it again (its numbers read as decimals become floats)."""
    if isinstance(node, Decimal):
        return float(node)
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    return [_plain(v) for v in node] if isinstance(node, list) else node


def _no_constant(name: str) -> None:
    raise ProfileError(f"not JSON: {name} is not a number")


def _object(raw: object, key: str, known: Sequence[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ProfileError(f"{key}: an object (got {type(raw).__name__})")
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ProfileError(f"{key}: unknown key {unknown[0]!r} (known: {', '.join(known)})")
    return raw


def _trips(raw: object, key: str) -> Trips:
    doc = _object(raw, key, ("out", "back"))
    for part in ("out", "back"):
        if part not in doc:
            raise ProfileError(f"{key}.{part}: required (a distribution, e.g. {{\"kind\": \"constant\", \"ms\": 20}})")
    return Trips(_distribution(doc["out"], f"{key}.out"), _distribution(doc["back"], f"{key}.back"))


def _distribution(raw: object, key: str) -> Distribution:
    kind = raw.get("kind") if isinstance(raw, dict) else None
    if kind not in KINDS:
        raise ProfileError(f"{key}.kind: one of {', '.join(KINDS)} (got {kind!r})")
    if kind == "constant":
        doc = _object(raw, key, ("kind", "ms"))
        return Constant(_ms(doc.get("ms"), f"{key}.ms"))
    if kind == "lognormal":
        doc = _object(raw, key, ("kind", "median_ms", "sigma"))
        median = _ms(doc.get("median_ms"), f"{key}.median_ms")
        sigma = _number(doc.get("sigma"), f"{key}.sigma")
        if not 0 <= sigma <= MAX_SIGMA:
            raise ProfileError(f"{key}.sigma: from 0 to {MAX_SIGMA:g} (got {sigma:g})")
        return LogNormal(median, sigma)
    doc = _object(raw, key, ("kind", "quantiles"))
    return Empirical(_quantiles(doc.get("quantiles"), f"{key}.quantiles"))


def _quantiles(raw: object, key: str) -> tuple[tuple[float, float], ...]:
    if not isinstance(raw, list) or len(raw) < 2:
        raise ProfileError(f"{key}: a list of at least two [p, ms] pairs, from p = 0 to p = 1")
    out: list[tuple[float, float]] = []
    for i, pair in enumerate(raw):
        where = f"{key}[{i}]"
        if not isinstance(pair, list) or len(pair) != 2:
            raise ProfileError(f"{where}: a [p, ms] pair (got {_shown(pair)})")
        p, ms = _number(pair[0], f"{where} p"), _ms(pair[1], f"{where} ms")
        if out and p <= out[-1][0]:
            raise ProfileError(f"{where}: p {p:g} does not rise from {out[-1][0]:g}")
        if out and ms < out[-1][1]:
            raise ProfileError(f"{where}: {ms:g} ms falls below the quantile before it ({out[-1][1]:g} ms)")
        out.append((p, ms))
    if out[0][0] != 0 or out[-1][0] != 1:
        raise ProfileError(f"{key}: p must run from 0 to 1 (got {out[0][0]:g} to {out[-1][0]:g})")
    return tuple(out)


def _number(raw: object, key: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, Decimal)):
        raise ProfileError(f"{key}: a number (got {_shown(raw)})")
    value = float(raw)
    if not math.isfinite(value):
        raise ProfileError(f"{key}: a finite number (got {_shown(raw)})")
    return value


def _ms(raw: object, key: str) -> float:
    value = _number(raw, key)
    if not 0 <= value <= MAX_MS:
        raise ProfileError(f"{key}: from 0 to {MAX_MS:,.0f} ms (got {value:g})")
    return value


def _shown(value: object) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


# ------------------------------------------------------------------------------------------- building
QUANTILE_STEPS = 100  # a built profile's quantiles: p = 0, 0.01, ..., 1
MS_PLACES = Decimal("0.0001")  # half of the store's microsecond, so a split round trip stays exact


def quantile(sorted_ms: Sequence[Decimal], p: Decimal) -> Decimal:
    """The ``p`` quantile of ``sorted_ms`` by linear interpolation between order statistics (the sample's
    ``k``-th smallest at ``p = (k - 1) / (n - 1)``: numpy's default, Hyndman and Fan's type 7), exactly."""
    n = len(sorted_ms)
    h = (n - 1) * p
    k = int(h)
    if k >= n - 1:
        return sorted_ms[-1]
    return sorted_ms[k] + (h - k) * (sorted_ms[k + 1] - sorted_ms[k])


def from_round_trips(round_trips_ms: Sequence[Decimal], source: Mapping[str, Any],
                     out_share: Decimal = Decimal("0.5")) -> LatencyProfile:
    """A profile whose order trips are ``round_trips_ms``'s quantiles (p = 0, 0.01, ..., 1) split
    ``out_share`` out and the rest back. No cancel or feed part: a run stores neither's times."""
    data = sorted(round_trips_ms)
    if not data:
        raise ValueError("no round trips")
    steps = [Decimal(i) / QUANTILE_STEPS for i in range(QUANTILE_STEPS + 1)]
    rtt = [quantile(data, p) for p in steps]

    def part(share: Decimal) -> Empirical:
        return Empirical(tuple((float(p), float((q * share).quantize(MS_PLACES))) for p, q in zip(steps, rtt,
                                                                                                 strict=True)))

    return LatencyProfile(Trips(part(out_share), part(1 - out_share)), source=source)


def write_profile(profile: LatencyProfile, path: Path) -> None:
    """``profile`` as JSON in ``path``, through a partial file beside it that becomes ``path`` only once
    written in full (a reader never sees half a profile); ``OSError`` as the system gives it."""
    partial = path.with_name(path.name + ".partial")
    # Never through a link planted at the partial's name; refused (a directory, no permission): nothing was made.
    handle = open_output(partial)
    try:
        with handle:
            handle.write(json.dumps(profile.as_json(), indent=2) + "\n")
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
