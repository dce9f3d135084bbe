"""``arb sandbox`` as a separate process, driven over HTTP (including its control endpoint)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import aiohttp
import pytest

import arb
from arb.cli import build_parser
from arb.commands.sandbox import build_config
from arb.venues.gate.sandbox.config import CaptureFeed, RandomWalkFeed

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
    config = build_config(args)
    feed = config.feeds[0]
    assert isinstance(feed, CaptureFeed) and feed.routes == {("huobi", "LINK/USDT"): "LINK_USDT"}
    assert feed.speed == 10 and config.port == 0
    assert str(config.accounts[0].balances["USDT"]) == "5"
    assert "secret" not in repr(config.accounts[0])
    plain = build_config(build_parser().parse_args(["sandbox"]))
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
