"""``arb config check --online`` against the Gate sandbox (an external one, at ``[sandbox] url``, as a live
venue's rehearsal): keys lacking each permission each produce their line, a good key a clean check, and a
config whose market rules differ from the venue's an error naming the key and the venue's value."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from arb.commands.config import online
from arb.config import Config, load_config
from arb.runtime.online import check_online, failed
from arb.venues.gate.adapter import sandbox_pairs
from arb.venues.gate.sandbox import Account, Sandbox, SandboxConfig
from arb.venues.gate.sandbox.keys import AREAS, KeyRights
from arb.venues.online import Finding
from tests.engine.helpers import config_with

SECRET = "s-" + "x" * 40
GOOD = KeyRights(areas=AREAS - {"withdraw"}, ip_whitelist=("127.0.0.1",))
KEYS = {
    "good": GOOD,
    "withdraws": replace(GOOD, areas=AREAS),
    "read-only": replace(GOOD, read_only=True),
    "no-spot": replace(GOOD, areas=frozenset({"wallet"})),
    "elsewhere": replace(GOOD, ip_whitelist=("10.1.2.3",)),
    "anywhere": replace(GOOD, ip_whitelist=()),
}


def _config(tmp_path: Path, url: str, key: str, extra: dict[str, str] | None = None) -> Config:
    path = config_with(tmp_path, extra={
        'mode = "replay"              # replay | paper | live': 'mode = "live"',
        "speed = 0                    # 0 = as fast as possible; 1 = recorded speed": "speed = 1",
        "port = 0 ": f'url = "{url}"\nport = 0 ',
        **(extra or {}),
    })
    return load_config(path, environ={"ARB_GATE_API_KEY": key, "ARB_GATE_API_SECRET": SECRET})


@contextmanager
def served(tmp_path: Path) -> Iterator[str]:
    """The sandbox the shipped config's gate venue describes, one account per key of ``KEYS``, served on its own
    loop in a thread (the check under test runs ``asyncio.run`` itself); its base URL."""
    described = _config(tmp_path, "http://127.0.0.1:1", "good")
    held = described.venue_markets("gate").venue_amounts(described.venues["gate"].balances)
    accounts = tuple(Account(key, SECRET, held, rights=rights) for key, rights in KEYS.items())
    sandbox = Sandbox(SandboxConfig(accounts=accounts, pairs=tuple(sandbox_pairs(described, "gate"))))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(sandbox.start(), loop).result(10)
    try:
        yield sandbox.rest_url.removesuffix("/api/v4")
    finally:
        asyncio.run_coroutine_threadsafe(sandbox.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served(tmp_path_factory.mktemp("sandbox")) as base:
        yield base


def findings(tmp_path: Path, url: str, key: str, extra: dict[str, str] | None = None) -> list[Finding]:
    return asyncio.run(check_online(_config(tmp_path, url, key, extra)))


def levels(found: list[Finding]) -> dict[str, int]:
    return {level: sum(f.level == level for f in found) for level in ("ok", "warning", "error")}


def test_a_good_key_checks_clean_and_exits_0(tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]) -> None:
    found = findings(tmp_path, url, "good")
    assert levels(found) == {"ok": len(found), "warning": 0, "error": 0}, [f.line() for f in found]
    lines = [f.line() for f in found]
    assert any("the key authenticates" in line for line in lines)
    assert any("may trade spot" in line for line in lines)
    assert any("may not withdraw" in line and "FORBIDDEN" in line for line in lines)
    assert any("limited to 127.0.0.1" in line for line in lines)
    assert any("ms off Gate's" in line for line in lines)
    assert any('markets."LINK/USDT": as configured' in line for line in lines)
    assert any(line.startswith("ok: venues.gate.taker_fee: LINK/USDT: 0.000175") for line in lines)
    assert any(line.startswith("ok: risk.max_notional_per_trade: gate has 5000 USDT free") for line in lines)
    assert online(_config(tmp_path, url, "good")) == 0
    out = [line for line in capsys.readouterr().out.splitlines() if line.startswith("# online: ")]

    def steady(line: str) -> str:  # the clock's offset and round trip are measured afresh
        return line.split(" ms off")[0].rstrip("0123456789-")
    assert [steady(line) for line in out] == [steady(f"# online: {line}") for line in lines]


@pytest.mark.parametrize(("key", "level", "says"), [
    ("read-only", "error", "may not trade spot (Gate READ_ONLY"),
    ("withdraws", "warning", "the key may withdraw (a withdrawal of 0 was refused for its amount"),
    ("anywhere", "warning", "has no IP whitelist"),
    ("no-spot", "error", "may not read the spot account (Gate FORBIDDEN"),
    ("elsewhere", "error", "this address is not in the key's IP whitelist (Gate IP_FORBIDDEN"),
    ("unknown", "error", "Gate does not know the key (Gate INVALID_KEY"),
])
def test_a_key_lacking_a_permission_says_so_in_its_line(tmp_path: Path, url: str, key: str, level: str,
                                                          says: str) -> None:
    found = findings(tmp_path, url, key)
    hits = [f for f in found if says in f.text]
    assert len(hits) == 1 and hits[0].level == level and hits[0].key == "venues.gate", [f.line() for f in found]
    assert failed(found) == (level == "error")
    assert SECRET not in "".join(f.line() for f in found)


def test_the_exit_status_is_1_on_any_error(tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert online(_config(tmp_path, url, "read-only")) == 1
    errors = [line for line in capsys.readouterr().out.splitlines() if line.startswith("# online: error:")]
    assert len(errors) == 1 and "READ_ONLY" in errors[0]


@pytest.mark.parametrize(("changed", "key", "theirs", "ours"), [
    ("min_notional", 'venues.gate.markets."LINK/USDT".min_notional', "1", "5"),
    ("price_step", 'venues.gate.markets."LINK/USDT".price_step', "0.001", "0.01"),
])
def test_market_rules_that_differ_from_the_venue_name_the_key_and_the_venues_value(
        tmp_path: Path, url: str, changed: str, key: str, theirs: str, ours: str) -> None:
    shipped = load_config(config_with(tmp_path, name="shipped.toml"))
    market = shipped.venues["gate"].markets["LINK/USDT"]
    assert str(getattr(market, changed).normalize()) == theirs  # what the sandbox was started with
    found = findings(tmp_path, url, "good", {f'{changed} = "{theirs}"': f'{changed} = "{ours}"'})
    errors = [f for f in found if f.level == "error"]
    assert len(errors) == 1, [f.line() for f in found]
    assert errors[0].key == key and f"the venue's is {theirs}, the config's {ours}" in errors[0].text


def test_a_balance_below_the_notional_limit_is_a_warning(tmp_path: Path, url: str) -> None:
    found = findings(tmp_path, url, "good", {'max_notional_per_trade = "1000"': 'max_notional_per_trade = "6000"'})
    hits = [f for f in found if f.key == "risk.max_notional_per_trade"]
    assert [(f.level, f.text.split(":")[0]) for f in hits] == [
        ("warning", "gate has 5000 USDT free, below the limit 6000")]
