"""A local sweep's workers start with what a replay opens (``arb/sweep/warm.py``): a replay of a point on the
shipped config (a sandbox venue and a paper venue) in a process that has imported what the worker server
imports loads no module of its own, so no worker's first point pays for ccxt, a venue package or its sandbox.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from arb.sweep.worker_server import REPLAY_MODULES, WARM_MODULE
from sweep.helpers import small_config, trimmed_capture

# A fresh interpreter (this one has imported whatever other tests did): the worker server's imports, then a
# point's replay; what the replay still imported, printed.
SCRIPT = """
import importlib, json, sys
from pathlib import Path
for name in {modules!r}:
    importlib.import_module(name)
from arb.config import load_config
from arb.sweep.point import SCHEMA_FILE, replay_point, schema_file
work = Path({work!r})
config = load_config({config!r})
schema_file(work / SCHEMA_FILE)
before = set(sys.modules)
replay_point(config, {{"capture": {capture!r}}}, str(work), 0, 10**12)
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_a_warm_worker_imports_nothing_more_for_its_first_replay(tmp_path: Path) -> None:
    capture = trimmed_capture(tmp_path, "00:00", "00:01")
    config_path, config = small_config(tmp_path, capture)
    assert {section.kind for section in config.venues.values()} == {"sandbox", "paper"}
    work = tmp_path / "work"
    work.mkdir()

    def imported_by_replay(modules: tuple[str, ...]) -> list[str]:
        script = SCRIPT.format(modules=modules, work=str(work), config=str(config_path), capture=str(capture))
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
        return loaded

    cold = imported_by_replay(REPLAY_MODULES)
    assert any(m.startswith("ccxt.") for m in cold) and any(m.startswith("arb.venues.gate") for m in cold)
    assert imported_by_replay((WARM_MODULE,)) == []


def test_the_worker_server_imports_with_the_collector_off_and_leaves_it_on_its_imports_frozen() -> None:
    # The same imports with the collector on set off ~790 collections, 5 of them full; and every worker forked
    # from the server inherits its collector's state: left off, no worker would ever collect.
    script = (f"import gc; gc.callbacks.append(lambda phase, info: phase == 'start' and print(info['generation']));"
              f" import {WARM_MODULE}; print('enabled', gc.isenabled(), gc.get_freeze_count())")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    imported, _, after = done.stdout.partition("enabled ")
    generations = imported.split()
    enabled, frozen = after.split()[:2]  # collections at the interpreter's exit come after them
    assert enabled == "True" and int(frozen) > 100_000, done.stdout
    assert "2" not in generations and len(generations) < 50, f"collections while the server imported: {generations}"
