"""`arb sandbox`'s arguments, drawn by hypothesis (#47): every command line is either served as given or
refused before anything is served, in one line with exit 2. Refused exactly when an independent reading of
the arguments says so: a speed that is not a finite number from 0 to 1e6, a damaged capture, a capture venue
or symbol the capture does not hold (it held nan/inf/-5 speeds, unknown venues and symbols served an empty
book, and a damaged capture at speed 0 was reported only at Ctrl-C).

In-process through ``arb.cli.main``, with the sandbox's serving replaced by a recorder: what is checked is
what happens before serving.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import arb
from arb.cli import main
from arb.venues.gate.sandbox.command import SandboxCommand

CAPTURE = Path(arb.__file__).parent / "data" / "linkusdt-binance-huobi-2021-08-20.jsonl.gz"
STREAMS = {("binance", "LINK/USDT"), ("huobi", "LINK/USDT")}


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A good capture (the bundled one), and damaged ones: a bad line after good ones, not JSON at all."""
    root = tmp_path_factory.mktemp("captures")
    with gzip.open(CAPTURE, "rb") as f:
        head = [next(f) for _ in range(50)]
    damaged = root / "damaged.jsonl"
    damaged.write_bytes(b"".join(head) + b'{"ts": 1, "venue": "binance"}\n' + b"".join(head[:2]))
    text = root / "notes.jsonl"
    text.write_text("these are my notes\n")
    return {"good": CAPTURE, "damaged": damaged, "text": text}


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    calls: list[object] = []
    monkeypatch.setattr(SandboxCommand, "serve", lambda self, config, venues: calls.append(config) or 0)
    yield calls


NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "-5", "0", "1", "1e3", "1e6", "1e7", "0x10", "", " 1", "1_0", "-0"]),
    st.text(max_size=8),
)
NAMES = st.one_of(st.sampled_from(["binance", "huobi", "nosuch", "BINANCE", "", "LINK/USDT", "FOO", "BTC/USDT",
                                   "link/usdt", "huobi "]), st.text(max_size=12))


def _speed_ok(text: str) -> bool:
    try:
        speed = float(text)
    except ValueError:
        return False
    return math.isfinite(speed) and 0 <= speed <= 1e6


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(speed=st.none() | NUMBERS, capture=st.none() | st.sampled_from(["good", "damaged", "text"]),
       venue=st.none() | NAMES, symbol=st.none() | NAMES, pair=st.none() | st.sampled_from(["LINK_USDT", "BTC_USDT"]))
@example(speed="nan", capture=None, venue=None, symbol=None, pair=None)
@example(speed="0", capture="damaged", venue=None, symbol=None, pair=None)
@example(speed=None, capture="good", venue="", symbol=None, pair=None)
@example(speed=None, capture="good", venue=None, symbol="", pair=None)
def test_sandbox_arguments_are_served_as_given_or_refused_in_one_line(
    speed: str | None, capture: str | None, venue: str | None, symbol: str | None, pair: str | None,
    captures: dict[str, Path], served: list[object], capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["sandbox", "--port", "0"]
    for flag, value in (("--speed", speed), ("--capture-venue", venue), ("--capture-symbol", symbol),
                        ("--pair", pair)):
        if value is not None:
            argv += [f"{flag}={value}"]
    if capture is not None:
        argv += ["--capture", str(captures[capture])]
    served.clear()
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse's own refusals
        status = exit_.code
    out, err = capsys.readouterr()
    # An option given empty names no stream (refused), it does not fall back to the default.
    stream = ("binance" if venue is None else venue,
              f"{(pair or 'LINK_USDT').replace('_', '/')}" if symbol is None else symbol)
    valid = (speed is None or _speed_ok(speed)) and (
        capture is None or (capture == "good" and stream in STREAMS))
    if valid:
        assert (status, len(served), err) == (0, 1, ""), err
    else:
        assert status == 2 and served == [] and out == "", (argv, err)
        assert len(err.splitlines()) == 1 and err.startswith("arb") and "Traceback" not in err, err
