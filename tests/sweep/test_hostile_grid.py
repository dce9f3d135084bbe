"""Issue 47: a sweep's hostile inputs (its grid's captures, its --workdir) are one line, exit 2, and create
nothing: no database, no sweep row, no work directory."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine.maker_capture import maker_config  # tests/engine/maker_capture.py

from arb.cli import main
from arb.config import load_config
from arb.errors import UsageError
from arb.sweep.grid import build_grid

SNAPSHOT = '{"ts":1,"venue":"binance","symbol":"BTC/USDT","type":"snapshot","bids":[],"asks":[]}\n'


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    directory = tmp_path / "inputs"
    directory.mkdir()
    (directory / "c.jsonl").write_text(SNAPSHOT)
    maker_config(directory, directory / "c.jsonl")
    return directory


def _sweep(argv: list[str], work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    monkeypatch.chdir(work)
    monkeypatch.delenv("ARB_DB_URL", raising=False)
    code = main(["sweep", "--workers", "1", "--db", f"sqlite:///{work / 'sweep.db'}", *argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert list(work.iterdir()) == [], "a refused sweep left files behind"
    return err


@pytest.mark.parametrize(("content", "words"), [
    (b"not a capture\n", "notcap.jsonl:1: malformed JSON"),
    (b"", "notcap.jsonl:1: empty"),
    (b"\x1f\x8b\x08\x00garbage", "notcap.jsonl:1:"),
])
def test_a_grid_capture_that_is_not_a_capture_is_refused_before_the_database(
    inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    content: bytes, words: str,
) -> None:
    # Before: the sweep ran, its database was created with a failed row, exit 1.
    bad = inputs / "notcap.jsonl"
    bad.write_bytes(content)
    work = tmp_path / "work"
    work.mkdir()
    err = _sweep(["--config", str(inputs / "maker.toml"), "--capture", str(bad)], work, monkeypatch, capsys)
    assert "capture: " in err and words in err, err


def test_a_timeline_is_checked_by_its_first_file_as_a_run_checks_it(inputs: Path) -> None:
    days = inputs / "days"
    days.mkdir()
    (days / "1.jsonl").write_text("nope\n")
    (days / "2.jsonl").write_text(SNAPSHOT)
    base = load_config(inputs / "maker.toml")
    for captures_as in ("runs", "timeline"):
        with pytest.raises(UsageError, match=r"capture: .*1\.jsonl:1: malformed JSON"):
            build_grid(base, {"capture": [str(days)], "captures_as": [captures_as]})


@pytest.mark.parametrize("workdir", ["a-file", "a-file/sub"])
def test_a_workdir_that_cannot_be_a_directory_is_a_usage_error(
    inputs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], workdir: str,
) -> None:
    # Before: "File exists" (or "Not a directory") from makedirs, exit 1, after the cluster had started.
    (inputs / "a-file").write_text("precious\n")
    work = tmp_path / "work"
    work.mkdir()
    err = _sweep(["--config", str(inputs / "maker.toml"), "--workdir", str(inputs / workdir)], work, monkeypatch,
                 capsys)
    assert "--workdir: " in err and "a-file exists and is not a directory" in err, err
    assert (inputs / "a-file").read_text() == "precious\n"
