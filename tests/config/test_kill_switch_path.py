"""``[risk] kill_switch_file`` is found beside the config, as ``[replay] capture`` is: a relative name was
resolved from the working directory, so a trader who created the file next to the config of a run started
from elsewhere stopped nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from arb.cli import main
from arb.config import load_config
from arb.engine import Engine
from tests.engine.helpers import config_with, trimmed_capture


def _project(tmp_path: Path, **extra: str) -> tuple[Path, Path]:
    """A config in ``tmp_path/project`` and another directory, ``tmp_path/elsewhere``, to start from."""
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    return config_with(project, extra=extra), elsewhere


def test_config_check_prints_the_absolute_path_beside_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    config, elsewhere = _project(tmp_path)
    monkeypatch.chdir(elsewhere)
    assert main(["config", "check", "../project/config.toml"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("kill_switch_file"))
    assert line == f'kill_switch_file = "arb.kill"  # watched at {config.parent.resolve() / "arb.kill"}'


def test_an_absolute_kill_switch_file_stays_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "elsewhere" / "stop.now"
    config, elsewhere = _project(tmp_path, **{'kill_switch_file = "arb.kill"': f'kill_switch_file = "{target}"'})
    monkeypatch.chdir(elsewhere)
    assert load_config(config, environ={}).kill_switch_path() == target
    assert main(["config", "check", str(config)]) == 0
    assert f'kill_switch_file = "{target}"  # watched at {target}\n' in capsys.readouterr().out


def test_a_path_too_long_once_beside_the_config_is_refused_by_check(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # Each part and the name as written are short enough; in the config's directory the whole is not.
    name = "/".join(["d" * 200] * 20) + "/arb.kill"  # 4,028 bytes as written
    deep = tmp_path / ("p" * 100)
    deep.mkdir()
    config = config_with(deep, extra={'kill_switch_file = "arb.kill"': f'kill_switch_file = "{name}"'})
    assert main(["config", "check", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"arb: error: {config}: risk.kill_switch_file: a path of ") and "too long" in err, err


def test_a_run_started_elsewhere_is_stopped_by_the_file_beside_its_config(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # The window trades with these fees when nothing stops it (tests/config/test_check_run_agree.py).
    capture = trimmed_capture(tmp_path, "00:42:18", "00:42:34")
    config, elsewhere = _project(tmp_path, **{
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture.as_posix()}"',
        'status = "auto"': 'status = "off"',
        'taker_fee = "0.000175"': 'taker_fee = "0.0001"',
        'taker_fee = "0.00032"': 'taker_fee = "0.0001"',
    })
    (config.parent / "arb.kill").write_text("stop")
    monkeypatch.chdir(elsewhere)
    engine = Engine(load_config("../project/config.toml", environ={}), db_url=f"sqlite:///{tmp_path / 'run.db'}",
                    install_signal_handlers=False)
    result = asyncio.run(engine.run())
    f = result.summary["funnel"]
    assert f["executed"] == 0 and f["rejected"].get("kill_switch", 0) > 0, f
    (incident,) = [i for i in result.summary["incidents"] if i["kind"] == "kill_switch"]
    assert str(config.parent.resolve() / "arb.kill") in incident["detail"]
    assert not list(elsewhere.iterdir())  # nothing looked for, or made, in the working directory
