"""The modules ``setup.py`` compiles with Cython, which of them run compiled, and a way to run them from their
``.py`` source instead: the tests that hold a compiled build to its source and the benchmarks that say which
ran read the lists here, as setup.py does. Standard library only: setup.py loads this file by its path (a PEP
517 build does not put the project on ``sys.path``) and needs nothing of arb beyond it.

Each group is built together or not at all; a failure in one leaves the others compiled.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
from collections.abc import Iterable, Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

# The modules on the per-message path: check levels (drops), apply them (book_side, its levels in tick_map),
# book + top view (book), diff sync (diffsync) and the store's calls around them (books: compiled as it is,
# no declarations); and a depth frame in its venue's exact shape read in one pass, in place of JSON parsing
# and the checks (depth_scan). One group: they cimport each other's declarations.
BOOKS = tuple(f"arb.marketdata.{name}"
              for name in ("drops", "tick_map", "book_side", "book", "books", "diffsync", "depth_scan"))
# Detection's first pass over every pair's tops, in place of a batch's ~100 numpy calls.
DETECTION = ("arb.detection.top_screen",)
# What a simulation does once every market instant besides books and detection: the market-time loop
# (simloop), the market source (feeds), the decision loop's step (decisions), the inventory watch's look
# (depletion) and the market clock (clock). Compiled as they are: the interpreter's dispatch of their small
# steps was ~22,000 instructions of the ~190,000 a simulated instant adds to books and detection
# (bench/bench_instructions.py --workload single). What is asked several times an instant has declarations:
# the clock, the inventory watch and the source's pending deliveries are extension types with C fields, and
# running_simulation a C function (clock.pxd, depletion.pxd, feeds.pxd, simloop.pxd). Other modules on the way
# (the risk gate, the writer, the venues' matchers) were measured compiled too and saved nothing: not in it.
SIMULATOR = ("arb.eventloop.simloop", "arb.eventloop.clock", "arb.runtime.feeds", "arb.runtime.decisions",
             "arb.runtime.depletion")
GROUPS = (BOOKS, DETECTION, SIMULATOR)


def module_files(names: Iterable[str]) -> dict[str, str]:
    """Each module of ``names`` (imported if it is not yet) -> the file it runs from: an extension's ``.so``,
    or its ``.py`` source."""
    return {name: importlib.import_module(name).__file__ or "" for name in names}


def running_compiled(names: Iterable[str]) -> list[str]:
    """Those of ``names`` that run from an extension module."""
    return [name for name, path in module_files(names).items() if not path.endswith(".py")]


class FromSource(importlib.abc.MetaPathFinder):
    """A meta path finder (first on ``sys.meta_path``, before anything imports them) that loads the named
    modules from their ``.py`` files, as if nothing had been built."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(names)

    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
                  ) -> ModuleSpec | None:
        if name not in self.names or not path:
            return None
        return importlib.util.spec_from_file_location(name, Path(next(iter(path))) / f"{name.rpartition('.')[2]}.py")
