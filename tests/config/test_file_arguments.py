"""Issue 47: every file argument (a config, a sweep's grid, an optimisation's ranges) is read bounded.

`arb config check /dev/zero` read until memory ran out, a FIFO there blocked forever, and `arb sweep /dev/zero`
(a grid) ended in MemoryError. Each command now refuses what is not a small regular file in one line, exit 2,
creating nothing (``arb.config.files.read_input_file``)."""

from __future__ import annotations

import logging
import os
import resource
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from engine.maker_capture import maker_config  # tests/engine/maker_capture.py

from arb.cli import main
from arb.config.files import MAX_INPUT_BYTES, InputFileError, read_input_file

SNAPSHOT = '{"ts":1,"venue":"binance","symbol":"BTC/USDT","type":"snapshot","bids":[],"asks":[]}\n'
UNBLOCK_AFTER_S = 10.0  # a FIFO read that blocks (the defect) is released this late, so the test fails, not hangs


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def _hostile(kind: str, directory: Path) -> Path:
    path = directory / f"hostile-{kind}"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:  # one byte over the bound, every byte a TOML comment
        path.write_bytes(b"#" * (MAX_INPUT_BYTES + 1))
    return path


def _release_fifo(path: Path) -> threading.Timer:
    """Open the FIFO for writing after a while and close it: a reader blocked on it (the defect) sees its end."""
    def release() -> None:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # no reader: nothing was blocked
            return
        os.close(fd)

    timer = threading.Timer(UNBLOCK_AFTER_S, release)
    timer.daemon = True
    timer.start()
    return timer


@pytest.mark.parametrize(("kind", "words"), [
    ("fifo", "a FIFO (named pipe)"), ("directory", "a directory"), ("oversized", "larger than 1,000,000 bytes"),
])
def test_the_reader_refuses_what_is_not_a_small_regular_file(tmp_path: Path, kind: str, words: str) -> None:
    with pytest.raises(InputFileError, match=words.replace("(", r"\(").replace(")", r"\)")):
        read_input_file(_hostile(kind, tmp_path))
    with pytest.raises(InputFileError, match="a device"):
        read_input_file(Path("/dev/zero"))
    exact = tmp_path / "exact.toml"
    exact.write_bytes(b"#" * MAX_INPUT_BYTES)
    assert len(read_input_file(exact)) == MAX_INPUT_BYTES


Argv = Callable[[Path, Path], list[str]]  # (the hostile path, a valid maker config) -> argv
COMMANDS: list[tuple[str, Argv, str]] = [
    ("config check", lambda p, c: ["config", "check", str(p)], "not a config file"),
    ("run", lambda p, c: ["run", "--config", str(p)], "not a config file"),
    ("replay", lambda p, c: ["replay", "--config", str(p), str(c)], "not a config file"),
    ("report", lambda p, c: ["report", "--config", str(p)], "not a config file"),
    ("dashboard", lambda p, c: ["dashboard", "--config", str(p)], "not a config file"),
    ("sandbox", lambda p, c: ["sandbox", "--config", str(p)], "not a config file"),
    ("sweep --config", lambda p, c: ["sweep", "--config", str(p)], "not a config file"),
    ("sweep GRID", lambda p, c: ["sweep", "--config", str(c), str(p)], "not a grid file"),
    ("optimize RANGES", lambda p, c: ["optimize", "--config", str(c), str(p)], "not a ranges file"),
]


@pytest.mark.parametrize("kind", ["fifo", "directory", "oversized"])
@pytest.mark.parametrize(("command", "argv", "words"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_every_file_argument_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    kind: str, command: str, argv: Argv, words: str,
) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    capture = inputs / "c.jsonl"
    capture.write_text(SNAPSHOT)
    config = maker_config(inputs, capture)
    hostile = _hostile(kind, inputs)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("ARB_DB_URL", raising=False)
    timer = _release_fifo(hostile) if kind == "fifo" else None
    try:
        code = main(argv(hostile, config))
    except SystemExit as exit_:
        code = exit_.code
    finally:
        if timer is not None:
            timer.cancel()
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and words in err and "Traceback" not in err, err
    assert list(work.iterdir()) == [], "a failing command left files behind"


def _memory_capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # 1 GiB: the defect's read fails fast, not the box


@pytest.mark.parametrize("argv", [["config", "check", "/dev/zero"], ["sweep", "--config", "{config}", "/dev/zero"]])
def test_dev_zero_is_refused_at_once(tmp_path: Path, argv: list[str]) -> None:
    # Before: read until memory ran out (capped here: MemoryError, "unexpected", exit 1).
    capture = tmp_path / "c.jsonl"
    capture.write_text(SNAPSHOT)
    config = maker_config(tmp_path, capture)
    done = subprocess.run([sys.executable, "-m", "arb.cli", *(a.format(config=config) for a in argv)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path, preexec_fn=_memory_capped)
    assert done.returncode == 2, done.stderr
    assert done.stderr == "arb: error: /dev/zero: a device, not a " + (
        "config file\n" if argv[0] == "config" else "grid file\n")
