"""``arb`` with the simulator's per-instant modules (setup.py's ``SIMULATOR``) loaded from their ``.py`` source,
as if nothing was built: ``python tests/engine/pure_simulator.py FILES_JSON ARB_ARGS...`` runs ``arb ARB_ARGS``
and writes which file each of those modules ran from to ``FILES_JSON``. ``test_compiled_simulator.py`` compares
its rows with the compiled modules' own."""

from __future__ import annotations

import ast
import importlib.abc
import importlib.machinery
import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def simulator_modules() -> tuple[str, ...]:
    """setup.py's ``SIMULATOR``: read from its text (importing setup.py would run setuptools)."""
    tree = ast.parse((REPO / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "SIMULATOR" for t in node.targets):
            return tuple(ast.literal_eval(node.value))
    raise AssertionError("setup.py names no SIMULATOR modules")


class PurePython(importlib.abc.MetaPathFinder):
    """Meta path finder: the named modules from their ``.py`` files."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = frozenset(names)

    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if name not in self.names or not path:
            return None
        return importlib.util.spec_from_file_location(name, Path(next(iter(path))) / f"{name.rpartition('.')[2]}.py")


def module_files(names: Sequence[str]) -> dict[str, str]:
    for name in names:
        importlib.import_module(name)
    return {name: sys.modules[name].__file__ or "" for name in names}


if __name__ == "__main__":
    names = simulator_modules()
    sys.meta_path.insert(0, PurePython(names))
    from arb.cli import main

    Path(sys.argv[1]).write_text(json.dumps(module_files(names)))
    sys.exit(main(sys.argv[2:]))
