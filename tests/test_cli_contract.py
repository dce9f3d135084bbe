"""The error contract of every `arb` command (arb/cli.py).

Bad input: one line on stderr, exit 2. A venue or database that cannot be reached, or is not there: one
line naming it, exit 1. No traceback unless --debug. Nothing created as a side effect of failing. Text
from the user reaches the terminal escaped, and `config check` prints TOML that parses back.
"""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import os
import subprocess
import sys
import tomllib
import unicodedata
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import ccxt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import OperationalError

from arb.cli import describe, main
from arb.config.render import render_toml
from arb.display import printable
from arb.errors import ArbError, CaptureFormatError, ConfigError, StoreError, TransientVenueError, UsageError
from arb.store.migrate import upgrade_to_head

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "config.toml"
DATA = ROOT / "tests" / "data"
BINANCE = DATA / "binance-spot-btcusdt-20240808.gz"
GATE_WS = DATA / "gateio-ws-1.0.txt"
GATE_HTTP = DATA / "gateio-http-0.0.txt"
NOWHERE = ["--endpoint", "gate=http://127.0.0.1:1/api/v4,ws://127.0.0.1:1/ws/v4/"]
RECORD = ["record", "--venues", "gate", "--out", "x.jsonl.gz", *NOWHERE]
BUNDLED = "bundled:linkusdt-binance-huobi-2021-08-20"

# (argv, exit status, words the one line holds). Run in an empty working directory, which stays empty.
# fmt: off
CASES = [
    # databases: not there, unparsable, unsupported, unreachable
    (["report"], 1, "sqlite:///arb.db does not exist"),
    (["report", "--db", "sqlite:///typo.db"], 1, "typo.db does not exist"),
    (["report", "--last", "--format", "json", "--db", "sqlite:///sub/typo.db"], 1, "does not exist"),
    (["report", "--db", "nonsense"], 2, "not a database URL"),
    (["report", "--db", "mysql://u:hunter2@h/x"], 2, "only SQLite and PostgreSQL"),
    (["report", "--db", "postgresql+psycopg://arb@127.0.0.1:1/arb"], 1, "cannot reach database"),
    (["report", "--run", "x"], 2, "argument --run: not an integer: 'x'"),
    # numbers out of range: refused by argparse, naming the argument, before anything is opened
    (["report", "--run", "9223372036854775808"], 2, "argument --run: run id 9223372036854775808 is not between"),
    (["trades", "--run", "0"], 2, "argument --run: run id 0 is not between 1 and 2147483647"),
    (["balances", "--run", "-1"], 2, "argument --run: run id -1 is not between"),
    (["dashboard", "--run", "9" * 30], 2, "argument --run: run id 99999999999999999999... is not between"),
    (["dashboard", "--run", "1e3"], 2, "argument --run: not an integer: '1e3'"),
    (["dashboard", "--port", "-1"], 2, "argument --port: port -1 is not between 0 and 65535"),
    (["sandbox", "--port", "70000"], 2, "argument --port: port 70000 is not between 0 and 65535"),
    (["sandbox", "--port", "-1"], 2, "argument --port: port -1 is not between 0 and 65535"),
    (["trades"], 1, "sqlite:///arb.db does not exist"),
    (["trades", "--db", "mysql://u:hunter2@h/x"], 2, "only SQLite and PostgreSQL"),
    (["trades", "--run", "1", "--last"], 2, "not allowed with argument"),
    (["balances", "--db", "sqlite:///typo.db", "--format", "csv"], 1, "typo.db does not exist"),
    (["balances", "--db", "postgresql+psycopg://arb@127.0.0.1:1/arb"], 1, "cannot reach database"),
    (["balances", "--format", "xml"], 2, "invalid choice"),
    (["audit"], 1, "sqlite:///arb.db does not exist"),
    (["audit", "--since", "yesterday"], 2, "argument --since: not an ISO time: 'yesterday'"),
    (["audit", "--run", "1", "--since", "2026-01-01"], 2, "not allowed with argument"),
    (["audit", "--since", "2026-01-02", "--until", "2026-01-01"], 2, "is not before --until"),
    (["dashboard"], 1, "sqlite:///arb.db does not exist"),
    (["dashboard", "--db", "mysql://u:hunter2@h/x"], 2, "only SQLite and PostgreSQL"),
    (["dashboard", "--db", "postgresql+psycopg://arb@127.0.0.1:1/arb"], 1, "127.0.0.1:1"),
    (["dashboard", "--port", "70000"], 2, "port 70000 is not between 0 and 65535"),
    (["dashboard", "--run", "1", "--last"], 2, "not allowed with argument"),
    (["latency", "--run", "1", "--out", "p.json"], 1, "sqlite:///arb.db does not exist"),
    (["latency", "--run", "0", "--out", "p.json"], 2, "argument --run: run id 0 is not between"),
    (["latency", "--run", "1"], 2, "the following arguments are required: --out"),
    (["latency", "--run", "1", "--out", "nodir/p.json"], 2, "--out: directory 'nodir' does not exist"),
    (["db", "current"], 1, "does not exist"),
    (["db", "check", "--db", "sqlite:///x.db"], 1, "x.db does not exist"),
    (["db", "downgrade", "base"], 1, "does not exist"),
    (["db", "current", "--db", "postgresql+nodriver://h/x"], 2, "driver not available"),
    (["db", "upgrade", "--db", "postgresql+psycopg://arb@127.0.0.1:1/arb"], 1, "127.0.0.1:1"),
    (["run", "--config", str(SHIPPED), "--db", "nonsense"], 2, "not a database URL"),
    # a parameter the driver would ignore: refused as $ARB_DB_URL is (was a raw SAWarning and a file written)
    *[([*command, "--db", "sqlite:///x.db?mode=ro&foo=bar"], 2,
       "sqlite:///x.db?foo=bar&mode=ro: Query string argument(s) 'foo', 'mode' are not accepted by the pysqlite")
      for command in (["run", "--config", str(SHIPPED)], ["db", "upgrade"], ["report"], ["db", "current"])],
    # a 5,000-character file name is shortened in the line, not echoed whole
    (["report", "--db", f"sqlite:///{'a' * 5000}.db"], 1, "a.db (5,003 characters): File name too long"),
    (["db", "upgrade", "--db", f"sqlite:///{'a' * 5000}.db"], 1, "a.db (5,013 characters): unable to open database file"),
    (["run", "--config", str(SHIPPED), "--db", f"sqlite:///{'a' * 5000}.db"], 1,
     "cannot open the lock file aaa"),
    # config and captures
    (["run", "--config", "absent.toml"], 2, "absent.toml: file not found"),
    (["config", "check", "absent.toml"], 2, "absent.toml: file not found"),
    (["replay", "bundled:nope", "--config", str(SHIPPED)], 2, "no bundled capture 'nope'"),
    (["replay", "absent.jsonl", "--config", str(SHIPPED)], 2, "capture file not found"),
    # a path that is there but holds no capture says which it is (was "not found" for both)
    (["replay", ".", "--config", str(SHIPPED)], 2, "no *.jsonl or *.jsonl.gz file in the directory: '.'"),
    (["replay", "/dev/null", "--config", str(SHIPPED)], 2, "a device, not a capture file: '/dev/null'"),
    (["sandbox", "--capture", "bundled:nope"], 2, "no bundled capture 'nope'"),
    (["sandbox", "--mid", "x"], 2, "not a decimal number: 'x'"),
    (["sandbox", "--balance", "USDT=abc"], 2, "expected CUR=AMOUNT"),
    (["sandbox", "--speed", "nan"], 2, "argument --speed: must be a finite number from 0 to 1e+06, got 'nan'"),
    (["sandbox", "--capture", BUNDLED, "--capture-venue", "nosuch"], 2, "has no such venue (its venues: binance, huobi)"),
    (["replay", BUNDLED, "--config", str(SHIPPED), "--speed", "nan"], 2, "--speed: must be a finite number"),
    # record: malformed arguments, and no venue to reach
    ([*RECORD, "--symbols", "link/usdt"], 2, "malformed symbol 'link/usdt'"),
    ([*RECORD, "--symbols", "LINK/USDT", "--duration", "-1"], 2, "--duration"),
    ([*RECORD, "--symbols", "LINK/USDT", "--connect-timeout", "nan"], 2, "--connect-timeout"),
    (["record", "--venues", "gate", "--symbols", "LINK/USDT", "--out", "nodir/x.jsonl"], 2, "does not exist"),
    ([*RECORD, "--symbols", "LINK/USDT", "--connect-timeout", "0.5"], 1, "gate: no book data received"),
    ([*RECORD, "--symbols", "LINK/USDT", "--duration", "0.5"], 1, "gate: no book data received"),
    # convert: another format, swapped inputs, a symbol not in the file, a file not there
    (["convert", "binance", str(GATE_WS), "--symbol", "BTC/USDT", "--out", "b.jsonl"], 2,
     "gateio-ws-1.0.txt:1: not a raw Binance depth recording line"),
    (["convert", "binance", str(BINANCE), "--symbol", "ETH/USDT", "--out", "b.jsonl"], 2, "not of ETH/USDT"),
    (["convert", "binance", str(BINANCE), "--symbol", "btcusdt", "--out", "b.jsonl"], 2, "malformed symbol"),
    (["convert", "binance", "absent.gz", "--symbol", "BTC/USDT", "--out", "b.jsonl"], 2, "absent.gz: no such file"),
    (["convert", "binance", ".", "--symbol", "BTC/USDT", "--out", "b.jsonl"], 2, ".: a directory, not a recording"),
    (["convert", "binance", "/dev/null", "--symbol", "BTC/USDT", "--out", "b.jsonl"], 2, "/dev/null: a device, not a recording"),
    (["convert", "gate", str(GATE_HTTP), str(GATE_WS), "--out", "g.jsonl"], 2,
     "gateio-http-0.0.txt:1: not a Gate WebSocket recording line"),
    (["convert", "gate", str(GATE_WS), str(GATE_WS), "--out", "g.jsonl"], 2,
     "gateio-ws-1.0.txt:1: not a Gate HTTP recording line"),
    (["convert", "gate", str(SHIPPED), str(GATE_HTTP), "--out", "g.jsonl"], 2, "config.toml:"),
    # the parser itself
    (["--no-such-flag"], 2, "unrecognized arguments"),
    (["report", "--format", "xml"], 2, "invalid choice"),
]
# fmt: on


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """``arb run`` installs a stderr handler on the root logger; in-process, it would outlive the test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


@pytest.mark.parametrize(("argv", "status", "words"), CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_every_command_fails_with_one_line_and_creates_nothing(
    argv: list[str], status: int, words: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ARB_DB_URL", raising=False)
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors exit from inside parse_args
        code = exit_.code
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert code == status, err
    assert len(lines) == 1 and words in lines[0], err
    assert lines[0].startswith("arb"), err
    assert "Traceback" not in err and "hunter2" not in err and len(lines[0]) < 400
    assert list(tmp_path.iterdir()) == [], "a failing command left files behind"


def _every_command() -> list[list[str]]:
    """Each command's words as a user types them: the command, or it and each of its own subcommands."""
    import argparse

    from arb.cli import COMMANDS, build_parser

    words: list[list[str]] = []
    for name in COMMANDS:
        [sub] = [a for a in build_parser([name])._actions if a.dest == "command"]
        nested = [a for a in sub.choices[name]._actions if isinstance(a, argparse._SubParsersAction)]
        words += [[name, child] for a in nested for child in a.choices] or [[name]]
    return words


@pytest.mark.parametrize("words", _every_command(), ids=" ".join)
def test_an_unknown_argument_is_the_commands_own_error(words: list[str], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """`arb report --bogus` is `arb report: error: unrecognized arguments: --bogus`, as every other malformed
    argument of a command says (README: "`arb <command>: error: ...` for a malformed argument"); argparse gave
    a command's leftovers to the top-level parser, which said `arb: error:`."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main([*words, "--bogus"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2, err
    prog = " ".join(["arb", *words])
    # a required argument missing comes first where there is one; either way the line is the command's
    assert err.startswith(f"{prog}: error: "), err
    assert err.count("\n") == 1 and list(tmp_path.iterdir()) == [], err


@pytest.mark.parametrize("command", ["report", "trades", "balances", "dashboard", "audit"])
def test_a_run_id_beyond_any_integer_column_is_a_usage_error(command: str, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """On a real database (before: the driver's OverflowError, "unexpected", exit 1)."""
    url = f"sqlite:///{tmp_path / 'arb.db'}"
    upgrade_to_head(url)
    with pytest.raises(SystemExit) as exit_:
        main([command, "--run", "9223372036854775808", "--db", url])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"arb {command}: error: argument --run: run id 9223372036854775808 is not between"), err


def test_debug_shows_the_traceback_before_or_after_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    for argv in (["--debug", "report", "--db", "nonsense"], ["report", "--db", "nonsense", "--debug"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "Traceback (most recent call last)" in err and "UsageError" in err, err
        assert err.splitlines()[-1].startswith("arb: error: not a database URL"), err
    assert main(["report", "--db", "nonsense"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_ctrl_c_in_a_class_body_while_the_command_imports_is_an_interrupt(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Caught by a SIGINT moment 0.09 s into `arb run`: the interrupt landed in pydantic's ``__set_name__`` as
    the config schema's classes were built, which Python 3.11 re-raises as "RuntimeError: Error calling
    __set_name__" (a traceback and exit 1). The command's module is imported by ``build_parser``, outside the
    handlers around parsing and the command; the same Ctrl-C there is "arb: interrupted" and 130."""
    import arb.cli

    class Interrupted:
        def __set_name__(self, owner: type, name: str) -> None:
            raise KeyboardInterrupt

    def building_the_schema(*_: object) -> None:
        type("Section", (), {"field": Interrupted()})  # what a class statement does

    monkeypatch.setattr(arb.cli, "build_parser", building_the_schema)
    assert main(["run"]) == 130
    assert capsys.readouterr().err == "arb: interrupted\n"
    monkeypatch.setattr(arb.cli, "build_parser", lambda *_: 1 / 0)  # not an interrupt: it still fails loudly
    with pytest.raises(ZeroDivisionError):
        main(["run"])


_SWALLOWED = """
import signal, sys, time, weakref
import arb.cli
signal.signal(signal.SIGINT, signal.default_int_handler)  # as arb.cli.main sets it
if sys.argv[1] == "arb":
    arb.cli._interrupts_never_swallowed()

class Row:
    pass

def cleanup(_ref):  # as SQLAlchemy's InstanceState._cleanup, with Ctrl-C landing in it
    raise KeyboardInterrupt

row = Row()
ref = weakref.ref(row, cleanup)
try:
    del row  # the callback runs here: Python cannot raise from it
    for _ in range(100):
        time.sleep(0.01)
    print("went on")
except KeyboardInterrupt:
    print("interrupted")
"""


def test_ctrl_c_landing_in_a_weakref_callback_is_not_swallowed() -> None:
    """Caught by CI (test_interrupt_anywhere, a sweep at 3.54 s): Ctrl-C landed in SQLAlchemy's
    ``InstanceState._cleanup`` as an ORM object was collected, and Python printed "Exception ignored" with a
    traceback and dropped the interrupt. `arb` delivers it again, where the main thread can raise it."""
    run = [sys.executable, "-c", _SWALLOWED]
    python = subprocess.run([*run, "python"], capture_output=True, text=True, timeout=60)
    assert python.stdout == "went on\n" and "Exception ignored" in python.stderr  # what Python does alone
    arb = subprocess.run([*run, "arb"], capture_output=True, text=True, timeout=60)
    assert (arb.stdout, arb.stderr) == ("interrupted\n", "")


def test_debug_from_the_real_command(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "arb.cli", "--debug", "report", "--db", f"sqlite:///{tmp_path / 'none.db'}"]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "StoreError" in proc.stderr
    plain = subprocess.run([a for a in argv if a != "--debug"], capture_output=True, text=True, cwd=tmp_path,
                           timeout=60)
    assert plain.returncode == 1 and plain.stderr.count("\n") == 1 and "Traceback" not in plain.stderr
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ errors arb did not raise on purpose
# fmt: off
DESCRIBE = [
    (ConfigError("c.toml", "engine.mode", "bad"), 2, "c.toml: engine.mode: bad"),
    (CaptureFormatError("c.jsonl", 3, "bad"), 2, "c.jsonl:3: bad"),
    (UsageError("bad --x"), 2, "bad --x"),
    (StoreError("db away"), 1, "db away"),
    (TransientVenueError("gate", "exchange not available"), 1, "gate: exchange not available"),
    (ArbError("plain"), 1, "plain"),
    (OperationalError("SELECT 1", {}, Exception("disk I/O error\nmore")), 1, "database error: disk I/O error"),
    (ccxt.ExchangeNotAvailable("gate GET https://api.gateio.ws/api/v4/spot/currency_pairs"), 1,
     "venue error (ExchangeNotAvailable): gate GET https://api.gateio.ws/api/v4/spot/currency_pairs"),
    (FileNotFoundError(errno.ENOENT, "No such file or directory", "x.csv"), 2, "x.csv: No such file or directory"),
    (PermissionError(errno.EACCES, "Permission denied", "/root/x"), 1, "/root/x: Permission denied"),
    (RuntimeError("boom\nsecond line"), 1, "unexpected RuntimeError: boom (arb --debug shows the traceback)"),
]
# fmt: on


@pytest.mark.parametrize(("exc", "status", "line"), DESCRIBE, ids=[type(row[0]).__name__ for row in DESCRIBE])
def test_describe_gives_one_line_and_an_exit_status(exc: BaseException, status: int, line: str) -> None:
    assert describe(exc) == (line, status)


# ------------------------------------------------------------------ escaping what the user wrote
def test_config_keys_and_values_reach_the_terminal_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(SHIPPED.read_text().replace("[engine]\n", '[engine]\n"x\\u001b[2J\\u001b]0;owned\\u0007" = 1\n'))
    assert main(["config", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err and err.count("\n") == 1
    assert "engine.x\\x1b[2J\\x1b]0;owned\\x07: unknown key" in err


def test_config_check_prints_toml_that_parses_back_to_the_same_strings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tricky = 'line one\nline two "quoted" \\ back \u001b[31m red \u202e rtl \t tab'
    path = tmp_path / "c.toml"
    text = SHIPPED.read_text().replace(BUNDLED, str(ROOT / "arb/data/linkusdt-binance-huobi-2021-08-20.jsonl.gz"))
    escaped = tricky.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    escaped = escaped.replace("\u001b", "\\u001b").replace("\u202e", "\\u202e")
    text = text.replace('fee_tier = "Gate spot', f'fee_tier = "{escaped}" # was: "Gate spot', 1)
    path.write_text(text)
    assert main(["config", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out
    parsed = tomllib.loads(out)
    assert parsed["venues"]["gate"]["fee_tier"] == tricky
    assert parsed["venues"]["htx"]["taker_fee"] == "0.00032"


_KEYS = st.text(min_size=1, max_size=12)
_SCALARS = st.one_of(st.text(max_size=30), st.integers(), st.booleans(),
                     st.decimals(allow_nan=False, allow_infinity=False, places=6))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_KEYS, st.dictionaries(_KEYS, st.one_of(_SCALARS, st.dictionaries(_KEYS, _SCALARS,
                                                                                          max_size=3)),
                                              max_size=4), min_size=1, max_size=3))
def test_render_toml_always_parses_back(data: dict) -> None:
    """300 generated configs: any keys and strings (control characters, quotes, newlines, unicode)."""
    rendered = render_toml(data)

    def expected(node: object) -> object:  # a Decimal (a float in the config) is written as a TOML float
        if isinstance(node, dict):
            return {k: expected(v) for k, v in node.items()}
        return float(node) if isinstance(node, Decimal) else node

    assert tomllib.loads(rendered) == expected(data), rendered
    assert not any(unicodedata.category(ch) == "Cc" and ch != "\n" for ch in rendered)


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_printable_leaves_no_control_characters(text: str) -> None:
    """500 generated strings: nothing that drives a terminal or forges a line survives printable()."""
    shown = printable(text)
    assert not any(unicodedata.category(ch) == "Cc" for ch in shown)
    assert not any(ch in shown for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    if all(unicodedata.category(ch) != "Cc" and ch not in "\u061c\u200e\u200f" and not "\u202a" <= ch <= "\u202e"
           and not "\u2066" <= ch <= "\u2069" for ch in text):
        assert shown == text


def test_the_parser_leaves_the_engine_and_the_sandbox_server_unimported() -> None:
    """``arb --help``, ``arb report`` and the other commands build the whole parser: it imports every command
    module, so none may import the engine or the sandbox's server (about a second of ccxt, alembic, aiohttp
    between them) before its command runs. A fresh interpreter, so nothing else has imported them."""
    heavy = ("arb.engine", "arb.venues.gate.sandbox.server", "arb.runtime.summary")
    code = ("import sys; from arb.cli import build_parser; build_parser(); "
            f"print(','.join(m for m in {heavy!r} if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert run.stdout.strip() == "", run.stdout


def test_a_reader_that_goes_away_is_not_an_error() -> None:
    """``arb config check | head -1``: the pipe closes before arb writes. No "arb: error: Broken pipe", no
    "Exception ignored" from the interpreter's last flush; the shell's status for SIGPIPE (128 + 13)."""
    shipped = Path(__file__).resolve().parent.parent / "config.toml"
    proc = subprocess.Popen([sys.executable, "-m", "arb.cli", "config", "check", str(shipped)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=shipped.parent)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before arb writes a byte
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert err == ""


# ------------------------------------------------------------------ the files beside a database, and --out files
def _run_on(db: Path) -> tuple[int | str | None, str]:
    try:
        code = main(["run", "--config", str(SHIPPED), "--db", f"sqlite:///{db}"])
    except SystemExit as exit_:
        code = exit_.code
    return code, ""


def test_a_linked_lock_file_is_refused_not_written_through(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """``ln -s v.txt arb.db.lock; arb run`` emptied ``v.txt`` (exit 0). The lock file is arb's, beside the
    database: a link there makes the database unusable as it stands (exit 1, as a damaged file is), and
    neither the link, its target nor a database is touched or made."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "v.txt").write_text("precious\n")
    (tmp_path / "arb.db.lock").symlink_to("v.txt")
    code, _ = _run_on(tmp_path / "arb.db")
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1, err
    assert err == "arb: error: cannot open the lock file " + str(tmp_path / "arb.db.lock") + \
        ": is a symbolic link (arb does not write through links)\n"
    assert (tmp_path / "v.txt").read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arb.db.lock", "v.txt"]


def _database_file(kind: str, path: Path, noise: bytes) -> None:
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "truncated":  # the start of a real arb database: SQLite's header, then nothing whole
        upgrade_to_head(f"sqlite:///{path}")
        with path.open("r+b") as file:
            file.truncate(min(len(noise) * 97 + 100, path.stat().st_size - 1))
    else:
        path.write_bytes(noise)


@settings(max_examples=12, deadline=None)
@given(kind=st.sampled_from(["bytes", "sqlite-header", "truncated", "directory", "fifo"]),
       noise=st.binary(min_size=0, max_size=600))
def test_a_run_on_a_database_it_cannot_use_leaves_nothing_beside_it(kind: str, noise: bytes) -> None:
    """Random bytes, a file that starts as SQLite and is noise after, a real database cut short, a directory, a
    FIFO: one line, exit 1, and no ``arb.db.lock`` (or anything else) left beside it."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "arb.db"
        _database_file(kind, db, b"SQLite format 3\x00" + noise if kind == "sqlite-header" else noise)
        before = sorted(p.name for p in Path(folder).iterdir())
        with contextlib.redirect_stderr(io.StringIO()) as err, contextlib.redirect_stdout(io.StringIO()):
            code, _ = _run_on(db)
        after = sorted(p.name for p in Path(folder).iterdir())
    if code == 0:  # a truncation SQLite could still read as a database (its first pages whole)
        return
    assert code == 1 and err.getvalue().count("\n") == 1, err.getvalue()
    assert err.getvalue().startswith("arb: error: "), err.getvalue()
    assert after == before, f"{kind}: a failed run left {set(after) - set(before)}"


@pytest.mark.parametrize("kind", ["link", "fifo"])
@pytest.mark.parametrize("command", ["convert", "latency"])
def test_an_output_file_is_never_written_through_a_link(command: str, kind: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A command writing ``--out`` goes through a partial file beside it; a link planted at that name had the
    link's target emptied and overwritten (a FIFO there blocked the command). Now: one line naming it, exit 2,
    the target, the link and the directory as they were."""
    from report.sample_run import write_sample_db

    monkeypatch.chdir(tmp_path)
    if command == "convert":
        argv, partial = ["convert", "gate", str(GATE_HTTP), str(GATE_WS), "--out", "g.jsonl"], ".partial-g.jsonl"
    else:
        write_sample_db(tmp_path / "s.db")
        argv, partial = ["latency", "--run", "2", "--out", "p.json", "--db", "sqlite:///s.db"], "p.json.partial"
    (tmp_path / "v.txt").write_text("precious\n")
    if kind == "link":
        (tmp_path / partial).symlink_to("v.txt")
    else:
        os.mkfifo(tmp_path / partial)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(argv) == 2
    err = capsys.readouterr().err
    what = "is a symbolic link" if kind == "link" else "is a FIFO, not a regular file"
    assert err.count("\n") == 1 and partial in err and what in err, err
    assert (tmp_path / "v.txt").read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


# ------------------------------------------------------------------ migration targets
_REVISIONS = st.one_of(
    st.from_regex(r"(head|heads|base|00[0-9][0-9]|[0-9a-z]{1,5})?([-+^:@~][0-9a-z+-]{0,5}){0,2}", fullmatch=True),
    st.text(max_size=12), st.integers(-20, 20).map(str))


@settings(max_examples=60, deadline=None)
@given(revision=_REVISIONS, action=st.sampled_from(["upgrade", "downgrade"]))
def test_a_migration_target_arb_does_not_know_is_one_line_exit_2_and_creates_nothing(revision: str,
                                                                                       action: str) -> None:
    """``arb db upgrade zzz`` (``head+5``, ``-1``, ``0005^``, ``0007:0001``) was "unexpected CommandError" or
    "AssertionError", exit 1, with an empty database file made. Every target is checked against the scripts
    first: a known one migrates; any other is one line naming it and the revisions known, exit 2, and the
    directory stays as it was (no database for an upgrade; an arb database at head, unchanged, for a
    downgrade)."""
    import hashlib
    import tempfile

    from arb.store.migrate import head_revision

    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "arb.db"
        if action == "downgrade":
            upgrade_to_head(f"sqlite:///{db}")
        before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in Path(folder).iterdir()}
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main(["db", action, "--db", f"sqlite:///{db}", "--", revision])
            except SystemExit as exit_:
                code = exit_.code
        after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in Path(folder).iterdir()}
    if code == 0:  # a target that exists: head, a revision of the scripts, or -N within the database's history
        assert revision in {"head", "heads", "base", head_revision()} or revision.lstrip("-").isdigit(), revision
        return
    assert code == 2, err.getvalue()
    assert err.getvalue().count("\n") == 1 and err.getvalue().startswith("arb: error: "), err.getvalue()
    assert "Traceback" not in err.getvalue() and "unexpected" not in err.getvalue(), err.getvalue()
    assert after == before, f"arb db {action} {revision!r} changed {set(after) ^ set(before) or 'a file'}"


@pytest.mark.parametrize("command", [["db", "upgrade"], ["run", "--config", str(SHIPPED)]])
def test_an_upgrade_that_fails_after_making_the_database_leaves_nothing(command: list[str], tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A link planted where SQLite keeps the ``-shm`` (SQLite refuses it: "unable to open database file") made the
    upgrade fail after it had created ``arb.db`` and an empty ``-wal``, both left behind. The upgrade removes what
    it made; the link and its target stay as they were."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "v.txt").write_text("precious\n")
    (tmp_path / "arb.db-shm").symlink_to("v.txt")
    assert main([*command, "--db", "sqlite:///arb.db"]) == 1
    err = capsys.readouterr().err
    assert err == "arb: error: cannot use database sqlite:///arb.db: unable to open database file\n", err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arb.db-shm", "v.txt"]
    assert (tmp_path / "v.txt").read_text() == "precious\n"
