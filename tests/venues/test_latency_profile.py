"""Latency profiles (``arb/venues/latency_profile.py``): each distribution against its formula, a built profile
against the round trips it came from, draws seeded per venue, a cancel's trips apart from an order's, feed
latency in order, and every malformed profile refused in one line naming its key."""

from __future__ import annotations

import json
import math
import random
from decimal import Decimal
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest

from arb.cli import main
from arb.config import load_config
from arb.domain.market import MarketRules, Side
from arb.domain.venue import OrderRequest
from arb.errors import ConfigError
from arb.marketdata.book import OrderBook
from arb.runtime.preflight import preflight
from arb.venues.latency_profile import (
    Constant,
    Empirical,
    FeedDraws,
    LatencyProfile,
    LogNormal,
    ProfileError,
    Trips,
    from_round_trips,
    parse_profile,
    quantile,
    read_profile,
    write_profile,
)
from arb.venues.latent import LatentVenue
from arb.venues.paper.venue import PaperVenue

D = Decimal
SYMBOL = "LINK/USDT"
RULES = MarketRules("paper", SYMBOL, price_step=D("0.001"), amount_step=D("0.01"), min_notional=D("1"))


def _paper(name: str = "paper") -> PaperVenue:
    b = OrderBook(name, SYMBOL, depth=10)
    b.apply_snapshot(bids=[("20.100", "1.5")], asks=[("20.110", "1")], seq=1, received_ts=0)
    return PaperVenue(name, {SYMBOL: b}, {SYMBOL: RULES}, {"USDT": D("1000")})


def _quote(cid: str) -> OrderRequest:
    return OrderRequest(cid, SYMBOL, Side.BUY, D("0.1"), D("20.000"), "poc")
EMPIRICAL = Empirical(((0.0, 10.0), (0.5, 20.0), (0.9, 60.0), (1.0, 100.0)))


@pytest.mark.parametrize(("u", "ms"), [
    (0.0, 10.0), (0.25, 15.0), (0.5, 20.0), (0.7, 40.0), (0.9, 60.0), (0.95, 80.0), (0.999999, 99.9996),
])
def test_an_empirical_draw_is_interpolated_between_the_quantiles_around_it(u: float, ms: float) -> None:
    assert EMPIRICAL.at(u) == pytest.approx(ms)


def test_a_lognormal_has_its_median_and_its_spread() -> None:
    d = LogNormal(20.0, 0.5)
    assert d.at(0.5) == pytest.approx(20.0)
    assert d.at(NormalDist().cdf(1)) == pytest.approx(20.0 * math.exp(0.5))  # one sigma up: x e^sigma
    assert d.at(0.0) > 0 and d.at(0.999999999) <= 60_000  # the ends are finite, and capped


def test_the_quantiles_of_a_sample_are_numpys_linear_ones_exactly() -> None:
    sample = [D(x) for x in ("1", "2", "4", "8", "16")]
    ps = ("0", "0.1", "0.5", "0.875", "0.99", "1")
    assert [quantile(sample, D(p)) for p in ps] == [D("1"), D("1.4"), D("4"), D("12"), D("15.68"), D("16")]
    assert [float(quantile(sample, D(p))) for p in ps] == pytest.approx(
        list(np.quantile([float(x) for x in sample], [float(p) for p in ps])))
    assert quantile([D("7.5")], D("0.3")) == D("7.5")


def test_a_built_profile_gives_back_the_round_trips_it_was_built_from() -> None:
    """Both halves of a request from one draw: out + back is the round trip's own quantile at that draw, so a
    replay's round trips have the measured distribution (two independent halves would be narrower)."""
    rtts = [D(ms) for ms in ("50.2", "50.9", "51.3", "52.8", "58.0", "70.4")]
    profile = from_round_trips(rtts, {"run": 1})
    assert isinstance(profile.order.out, Empirical) and profile.order.out == profile.order.back
    assert profile.order.out.quantiles[0] == (0.0, 25.1) and profile.order.out.quantiles[-1] == (1.0, 35.2)
    for k in range(1000):
        u = k / 1000
        out, back = profile.trip(_Draw(u), "order")  # type: ignore[arg-type]
        assert out == back
        assert (out + back) * 1000 == pytest.approx(float(quantile(sorted(rtts), D(u))), abs=2e-4)


class _Draw:
    """A generator whose every draw is ``u``."""

    def __init__(self, u: float) -> None:
        self.u = u

    def random(self) -> float:
        return self.u


def test_a_profile_file_round_trips_and_a_cancel_travels_as_an_order_without_its_own(tmp_path: Path) -> None:
    profile = from_round_trips([D("10"), D("30")], {"run": 3, "split": "half", "round_trip_ms": {"p50": 20.5}})
    path = tmp_path / "p.json"
    write_profile(profile, path)
    assert read_profile(path) == profile and not list(tmp_path.glob("*.partial"))
    write_profile(read_profile(path), tmp_path / "again.json")  # a profile read writes as it was
    assert (tmp_path / "again.json").read_text() == path.read_text()
    assert profile.trip(random.Random(1), "cancel") == profile.trip(random.Random(1), "order")


async def test_a_venue_draws_its_cancels_from_the_cancel_trips_seeded_per_venue() -> None:
    profile = LatencyProfile(Trips(Constant(20.0), Constant(10.0)), cancel=Trips(Constant(3.0), Constant(1.0)))
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    venue = LatentVenue(_paper(), profile, sleep=sleep)
    await venue.place(_quote("t-1"))
    await venue.cancel("t-1", SYMBOL)
    assert slept == [0.02, 0.01, 0.003, 0.001]

    def draws(name: str) -> list[float]:
        seen: list[float] = []

        async def record(s: float) -> None:
            seen.append(s)

        v = LatentVenue(_paper(name), LatencyProfile(Trips(LogNormal(20, 0.5), LogNormal(20, 0.5))),
                        sleep=record)
        return [v.latency.trip(v._rng, "order")[0] for _ in range(5)]

    assert draws("a") == draws("a") != draws("b")  # the same seed and venue: the same latencies


def test_feed_latency_is_drawn_per_event_and_never_overtakes_the_event_before() -> None:
    feed = FeedDraws(Empirical(((0.0, 0.0), (1.0, 100.0))), random.Random(3))
    times = [feed.arrival_ms(ts) for ts in range(0, 2000, 10)]
    assert times == sorted(times) and all(t >= ts for t, ts in zip(times, range(0, 2000, 10), strict=True))
    again = FeedDraws(Empirical(((0.0, 0.0), (1.0, 100.0))), random.Random(3))
    assert [again.arrival_ms(ts) for ts in range(0, 2000, 10)] == times


GOOD_ORDER = {"out": {"kind": "constant", "ms": 5}, "back": {"kind": "constant", "ms": 5}}
# (document, the words of its one line)
BAD = [
    ([], "the profile: an object"),
    ({}, "order: required"),
    ({"order": GOOD_ORDER, "speed": 1}, "unknown key 'speed'"),
    ({"order": {"out": {"kind": "constant", "ms": 5}}}, "order.back: required"),
    ({"order": {**GOOD_ORDER, "out": {"kind": "gamma"}}}, "order.out.kind: one of constant, lognormal, empirical"),
    ({"order": {**GOOD_ORDER, "out": {"kind": "constant", "ms": -1}}}, "order.out.ms: from 0 to 60,000 ms"),
    ({"order": {**GOOD_ORDER, "out": {"kind": "constant", "ms": "5"}}}, "order.out.ms: a number"),
    ({"order": {**GOOD_ORDER, "out": {"kind": "constant", "ms": True}}}, "order.out.ms: a number"),
    ({"order": {**GOOD_ORDER, "back": {"kind": "lognormal", "median_ms": 5, "sigma": 9}}}, "order.back.sigma"),
    ({"order": {**GOOD_ORDER, "back": {"kind": "lognormal", "median_ms": 5}}}, "order.back.sigma: a number"),
    ({"order": {**GOOD_ORDER, "back": {"kind": "empirical", "quantiles": [[0, 1]]}}}, "at least two [p, ms]"),
    ({"order": {**GOOD_ORDER, "back": {"kind": "empirical", "quantiles": [[0, 1], [0.5, 2]]}}},
     "p must run from 0 to 1"),
    ({"order": {**GOOD_ORDER, "back": {"kind": "empirical", "quantiles": [[0, 1], [0, 2], [1, 3]]}}},
     "quantiles[1]: p 0 does not rise"),
    ({"order": {**GOOD_ORDER, "back": {"kind": "empirical", "quantiles": [[0, 5], [1, 2]]}}},
     "quantiles[1]: 2 ms falls below"),
    ({"order": {**GOOD_ORDER, "back": {"kind": "empirical", "quantiles": [[0, 5], [1]]}}}, "a [p, ms] pair"),
    ({"order": GOOD_ORDER, "cancel": {"out": {"kind": "constant", "ms": 1}}}, "cancel.back: required"),
    ({"order": GOOD_ORDER, "feed": {"kind": "constant"}}, "feed.ms: a number"),
    ({"order": GOOD_ORDER, "source": "me"}, "source: an object"),
]


@pytest.mark.parametrize(("doc", "words"), BAD, ids=[w for _, w in BAD])
def test_a_malformed_profile_is_one_line_naming_its_key(doc: object, words: str) -> None:
    with pytest.raises(ProfileError) as err:
        parse_profile(doc)
    assert words in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(("text", "words"), [
    ("{", "not JSON"), ('{"order": NaN}', "NaN is not a number"), ("[" * 100_000, "not JSON"),
])
def test_a_file_that_is_not_a_profile_is_one_line(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "p.json"
    path.write_text(text)
    with pytest.raises(ProfileError) as err:
        read_profile(path)
    assert words in str(err.value)
    with pytest.raises(ProfileError, match="no such file"):
        read_profile(tmp_path / "absent.json")
    with pytest.raises(ProfileError, match="a directory, not a latency profile"):
        read_profile(tmp_path)


# ------------------------------------------------------------------------------------------- in a config
def _config(tmp_path: Path, venue_lines: str, profile: object | None = None) -> Path:
    from engine.helpers import config_with  # tests/engine/helpers.py

    if profile is not None:
        (tmp_path / "profiles").mkdir(exist_ok=True)
        (tmp_path / "profiles" / "gate.json").write_text(json.dumps(profile))
    return config_with(tmp_path, extra={
        'capture_venue = "binance"\n': f'capture_venue = "binance"\n{venue_lines}\n',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"'})


def test_a_venue_names_its_profile_beside_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = _config(tmp_path, 'latency_profile = "profiles/gate.json"', {"order": GOOD_ORDER})
    config = load_config(path)
    assert config.latency_profile_path("gate") == tmp_path / "profiles" / "gate.json"
    assert config.latency_profile_path("htx") is None
    preflight(config, ports=False)
    monkeypatch.chdir(tmp_path.parent)  # wherever it is started from: the file beside the config
    assert main(["config", "check", str(path)]) == 0
    said = capsys.readouterr().out
    assert f'latency_profile = "profiles/gate.json"  # read from {tmp_path / "profiles" / "gate.json"}' in said


@pytest.mark.parametrize("other", ["latency_ms = 20", "ack_latency_ms = 5", "latency_jitter_ms = 3"])
def test_a_profile_and_the_keys_it_replaces_are_refused_together_in_one_line(tmp_path: Path, other: str) -> None:
    path = _config(tmp_path, f'{other}\nlatency_profile = "profiles/gate.json"', {"order": GOOD_ORDER})
    with pytest.raises(ConfigError) as err:
        load_config(path)
    key = other.split()[0]
    assert err.value.key == "venues.gate.latency_profile" and f"latency_profile and {key} are both set" in str(
        err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(("profile", "lines", "words"), [
    (None, 'latency_profile = "profiles/gate.json"', "profiles/gate.json: no such file"),
    ({"order": {}}, 'latency_profile = "profiles/gate.json"', "order.out: required"),
    ({"order": GOOD_ORDER, "feed": {"kind": "constant", "ms": 7}},
     'latency_profile = "profiles/gate.json"\nfeed_latency_ms = 5', "feed_latency_ms is set too"),
])
def test_a_profile_the_run_cannot_use_is_refused_by_the_preflight(tmp_path: Path, profile: object, lines: str,
                                                                   words: str) -> None:
    config = load_config(_config(tmp_path, lines, profile))
    with pytest.raises(ConfigError) as err:
        preflight(config, ports=False)
    assert err.value.key == "venues.gate.latency_profile" and words in str(err.value), err.value
