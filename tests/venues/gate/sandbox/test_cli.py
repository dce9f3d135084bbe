"""``arb sandbox`` as a separate process, driven over HTTP (including its control endpoint)."""

from __future__ import annotations

import asyncio
import gzip
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

import arb
from arb.cli import build_parser
from arb.commands.sandbox import sandbox_config
from arb.errors import CaptureFormatError
from arb.venues.gate.sandbox.config import CaptureFeed, RandomWalkFeed, SandboxConfig
from arb.venues.registry import ADAPTERS

CAPTURE = Path(arb.__file__).parent / "data" / "linkusdt-binance-huobi-2021-08-20.jsonl.gz"


def test_arguments_build_the_config() -> None:
    args = build_parser().parse_args(
        [
            "sandbox",
            "--port",
            "0",
            "--capture",
            str(CAPTURE),
            "--capture-venue",
            "huobi",
            "--speed",
            "10",
            "--balance",
            "USDT=5",
        ]
    )
    config = sandbox_config(args)[0]
    feed = config.feeds[0]
    assert isinstance(feed, CaptureFeed) and feed.routes == {("huobi", "LINK/USDT"): "LINK_USDT"}
    assert feed.speed == 10 and config.port == 0
    assert str(config.accounts[0].balances["USDT"]) == "5"
    assert "secret" not in repr(config.accounts[0])
    plain = sandbox_config(build_parser().parse_args(["sandbox"]))[0]
    assert isinstance(plain.feeds[0], RandomWalkFeed)
    with pytest.raises(SystemExit) as exit_:  # a capture that is not there: a usage error (exit 2)
        build_parser().parse_args(["sandbox", "--capture", "/nonexistent.jsonl"])
    assert exit_.value.code == 2


async def test_sandbox_command_serves_on_a_free_port() -> None:
    env = dict(os.environ, ARB_SANDBOX_KEY="cli-key", ARB_SANDBOX_SECRET="cli-secret")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "arb.cli",
        "sandbox",
        "--port",
        "0",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        assert line.startswith("sandbox listening rest=http://127.0.0.1:") and "cli-secret" not in line
        rest = line.split("rest=")[1].split()[0]
        base = rest.removesuffix("/api/v4")
        async with aiohttp.ClientSession() as session:
            async with session.get(rest + "/spot/currency_pairs") as resp:
                assert [p["id"] for p in await resp.json()] == ["LINK_USDT"]
            async with session.post(base + "/_sandbox/faults", json={"fraction_5xx": 1}) as resp:
                assert resp.status == 200
            async with session.get(rest + "/spot/time") as resp:
                assert resp.status == 502 and (await resp.json())["label"] == "SERVER_ERROR"
    finally:
        proc.terminate()
        await proc.wait()


def _damaged(tmp_path: Path, good: int = 300) -> Path:
    """The bundled capture's first ``good`` lines, then a line that is not a capture line."""
    with gzip.open(CAPTURE, "rb") as f:
        lines = [next(f) for _ in range(good)]
    out = tmp_path / "damaged.jsonl"
    out.write_bytes(b"".join(lines) + b'{"ts": "soon"}\n')
    return out


def _sandbox(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``arb sandbox ARGV`` as a process that must end by itself (serving would run until the timeout)."""
    return subprocess.run([sys.executable, "-m", "arb.cli", "sandbox", "--port", "0", *argv], cwd=cwd,
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize(("argv", "words"), [
    (["--speed", "nan"], "argument --speed: must be a finite number from 0 to 1e+06, got 'nan'"),
    (["--speed", "-5"], "got '-5'"),
    (["--speed", "inf"], "got 'inf'"),
    (["--speed", "1e7"], "got '1e7'"),
    (["--capture", str(CAPTURE), "--capture-venue", "nosuch"], "--capture-venue 'nosuch': "
     f"{CAPTURE} has no such venue (its venues: binance, huobi)"),
    (["--capture", str(CAPTURE), "--capture-symbol", "FOO"], "--capture-symbol 'FOO': "
     f"{CAPTURE} has no such symbol of binance (its symbols there: LINK/USDT)"),
    (["--capture", str(CAPTURE), "--pair", "BTC_USDT"], "--pair's symbol BTC/USDT"),
    (["--capture", "DAMAGED", "--speed", "0"], "damaged.jsonl:301: "),
])
def test_bad_arguments_are_refused_before_anything_is_served(argv: list[str], words: str, tmp_path: Path) -> None:
    """Before: nan, -5 and inf served; an unknown venue or symbol served an empty book; a damaged capture at
    speed 0 served on, its error shown only at Ctrl-C."""
    argv = [str(_damaged(tmp_path)) if a == "DAMAGED" else a for a in argv]
    done = _sandbox(*argv, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and len(done.stderr.splitlines()) == 1 and words in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_good_speeds_still_parse() -> None:
    for text, speed in [("0", 0.0), ("1e3", 1000.0), ("0.5", 0.5), ("1000000", 1e6)]:
        assert build_parser().parse_args(["sandbox", "--speed", text]).speed == speed


async def test_a_feed_that_fails_while_serving_stops_the_sandbox_at_once(tmp_path: Path) -> None:
    """An arb config's capture is checked as `arb run` checks it (its first line), so one damaged further on
    reaches the feed: serving then ends with the feed's file:line error (exit 2 through arb's handler), at
    once, not at Ctrl-C."""
    damaged = _damaged(tmp_path)
    command = ADAPTERS["gate"].sandbox_command()
    assert command is not None
    config = SandboxConfig(port=0, feeds=(CaptureFeed(damaged, {("binance", "LINK/USDT"): "LINK_USDT"}, speed=0),))
    with pytest.raises(CaptureFormatError, match="damaged.jsonl:301: "):
        await asyncio.wait_for(asyncio.to_thread(command.serve, config, None), 20)
