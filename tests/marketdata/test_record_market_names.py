"""`arb record --market VENUE:SYMBOL=NAME`: a venue that names a market differently is subscribed by its
name and recorded under the engine's symbol, as a config's ``market_names`` does for `arb run`.

The venue is an `arb sandbox` in another process that lists only ``LNK_USDT`` (random-walk books).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from engine.procs import Proc

from arb.cli import main
from arb.marketdata.capture import read_capture
from arb.marketdata.recorder import partial_path


@pytest.fixture
def lnk_sandbox(tmp_path: Path) -> str:  # type: ignore[misc]
    sandbox = Proc(["sandbox", "--port", "0", "--pair", "LNK_USDT", "--mid", "20"], cwd=tmp_path)
    try:
        sandbox.wait_for("sandbox listening", lambda: any("sandbox listening" in line for line in sandbox.out), 30)
        line = next(line for line in sandbox.out if "sandbox listening" in line)
        rest, ws = line.split("rest=")[1].split()[0], line.split("ws=")[1].split()[0]
        yield f"gate={rest},{ws}"
    finally:
        sandbox.kill()


def test_record_a_renamed_market_under_the_engine_symbol(lnk_sandbox: str, tmp_path: Path) -> None:
    out = tmp_path / "renamed.jsonl.gz"
    code = main(["record", "--venues", "gate", "--symbols", "LINK/USDT", "--market", "gate:LINK/USDT=LNK/USDT",
                 "--endpoint", lnk_sandbox, "--duration", "2", "--connect-timeout", "20", "--out", str(out)])
    assert code == 0
    events = list(read_capture(out))
    assert events and events[0].type == "snapshot"
    assert {(e.venue, e.symbol) for e in events} == {("gate", "LINK/USDT")}
    assert any(e.bids for e in events) and any(e.asks for e in events)


@pytest.mark.parametrize(("market", "says"), [
    ("gate:LINK/USDT", "is not VENUE:SYMBOL=NAME"),
    ("htx:LINK/USDT=LNK/USDT", "'htx' is not one of --venues"),
    ("gate:BTC/USDT=XBT/USDT", "'BTC/USDT' is not one of --symbols"),
    ("gate:LINK/USDT=LNKUSDT", "gate:LINK/USDT=LNKUSDT:"),
])
def test_a_bad_market_option_is_one_line(market: str, says: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["record", "--venues", "gate", "--symbols", "LINK/USDT", "--market", market,
                 "--endpoint", "gate=http://127.0.0.1:1/api/v4,ws://127.0.0.1:1/ws/v4/", "--out",
                 str(tmp_path / "x.jsonl")])
    err = capsys.readouterr().err
    assert code == 2 and "--market" in err and says in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.jsonl").exists()


def test_sigterm_ends_a_recording_in_order(lnk_sandbox: str, tmp_path: Path) -> None:
    """``timeout 3600 arb record ...`` (SIGTERM to the process, then to its group) ends the recording as Ctrl-C
    does: what was recorded is in the capture file, no partial file left (SIGTERM's default action killed the
    process with its partial file behind). Whether a line was recorded by then depends on the sandbox's walk
    (a snapshot is written once its first diff times it, a second later): the file is read when there is one."""
    out = tmp_path / "bounded.jsonl.gz"
    proc = Proc(["record", "--venues", "gate", "--symbols", "LINK/USDT", "--market", "gate:LINK/USDT=LNK/USDT",
                 "--endpoint", lnk_sandbox, "--connect-timeout", "20", "--out", str(out)], cwd=tmp_path, own_group=True)
    try:
        # Subscribed: the sandbox refuses the trades channel after it has taken the book's, whose snapshot it
        # sends at once.
        proc.wait_for("the subscriptions", lambda: any("trades subscription refused" in line for line in proc.err), 60)
        proc.popen.send_signal(signal.SIGTERM)
        os.killpg(proc.popen.pid, signal.SIGTERM)
        code = proc.finish(30)
    finally:
        proc.kill()
    assert code == 130 and proc.err[-1] == "arb: interrupted\n", proc.text()
    assert not partial_path(out).exists(), proc.text()
    if out.exists():
        events = list(read_capture(out))
        assert events and events[0].type == "snapshot"
