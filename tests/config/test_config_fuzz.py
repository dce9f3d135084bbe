"""Fuzzing the config: whatever the file holds, `config check` accepts it or names the key in one line.

Hostile values (NaN, inf, 1e400, 1e-30, huge integers, control characters, wrong types) and hostile
structure (keys removed, unknown keys, tables replaced by scalars, venues copied) on top of the shipped
config. Zero tracebacks: the only exception ``checked_config`` (the config and its preflight) raises is ``ConfigError``, and the line the
user sees is one line naming the file and a key of the document.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arb.cli import main
from arb.errors import ConfigError
from tests.config.checked import checked_config

from .tomlgen import mutated, revalued, to_toml

FUZZ_CASES = int(os.environ.get("ARB_FUZZ_CONFIGS", "600"))
SECTIONS = {"engine", "store", "replay", "detection", "symbols", "risk", "execution", "venues", "sandbox"}


def _check_one_line(path: Path, doc: dict, line: str) -> None:
    assert "\n" not in line.rstrip("\n"), line
    prefix = f"arb: error: {path}: "
    assert line.startswith(prefix), line
    key = line[len(prefix):].split(": ", 1)[0]
    # The first part of the key is a table of the document (or a section it lacks), or the one
    # environment variable the config reads besides credentials.
    head = key.split(".", 1)[0]
    assert head in doc or head in SECTIONS, line


@settings(max_examples=FUZZ_CASES, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.function_scoped_fixture])
@given(doc=st.one_of(mutated(), revalued()))
def test_fuzzed_configs_are_accepted_or_refused_in_one_line_naming_the_key(
    doc: dict, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "config.toml"
    text = to_toml(doc)
    tomllib.loads(text)  # the generator writes valid TOML: what is fuzzed is arb's validation
    path.write_text(text)
    try:
        checked_config(path, environ={})
    except ConfigError as exc:
        assert exc.key, str(exc)  # every rejection of a TOML document names a key
    # The command: exit 0 with the effective config, or exit 2 with one line naming file and key.
    status = main(["config", "check", str(path)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    if status == 0:
        assert out.startswith(f"# {path}: valid") and err == ""
    else:
        assert status == 2 and out == "", (status, err)
        assert err.count("\n") == 1, err
        _check_one_line(path, doc, err)
