"""The modules ``setup.py`` compiles with Cython, which of them run compiled, which old builds to remove, and a
way to run them from their ``.py`` source instead: the tests that hold a compiled build to its source and the
benchmarks that say which ran read the lists here, as setup.py does. Standard library only: setup.py loads this
file by its path (a PEP 517 build does not put the project on ``sys.path``) and needs nothing of arb beyond it.

Each group is built together or not at all; a failure in one leaves the others compiled.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
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
# (depletion) and the market clock (clock), with C declarations for what an instant asks several times (the
# clock, the inventory watch and the source's pending deliveries as extension types, running_simulation a C
# function: clock.pxd, depletion.pxd, feeds.pxd, simloop.pxd). Whether compiling them pays depends on the core's
# second-level cache, as their C is several times the bytes of their bytecode (bench/README.md, 2026-11-28):
# whole processes alternated, the single-symbol replay ran 13-15% faster compiled on a core with 2 MiB of L2
# (15 of 16 pairs faster) and 1-9% slower on one with 512 KiB; 100 symbols x 5 venues the same either way.
# Compiled, as most server cores now have 1 MiB or more. Other modules on the way (the risk gate, the writer, the
# venues' matchers) were measured compiled too and saved nothing: not in it.
SIMULATOR = ("arb.eventloop.simloop", "arb.eventloop.clock", "arb.runtime.feeds", "arb.runtime.decisions",
             "arb.runtime.depletion")
GROUPS = (BOOKS, DETECTION, SIMULATOR)


def stray_extensions(package: Path) -> list[Path]:
    """The extension modules under ``package`` (arb's directory) of modules no group builds any more, taken out
    of :data:`GROUPS` since that build: an extension is imported before its ``.py``, so one left in a checkout
    would run in place of the source."""
    built = {name for group in GROUPS for name in group}
    strays = []
    for extension in sorted(package.rglob("*.so")):
        stem = extension.name.split(".")[0]
        module = ".".join((package.name, *extension.parent.relative_to(package).parts, stem))
        if module not in built and extension.with_name(f"{stem}.py").exists():
            strays.append(extension)
    return strays


def remove_strays(package: Path) -> list[Path]:
    """Delete :func:`stray_extensions` and the C that Cython generated for each (setup.py, at every build);
    return what was deleted."""
    strays = stray_extensions(package)
    for extension in strays:
        extension.unlink()
        extension.with_name(f"{extension.name.split('.')[0]}.c").unlink(missing_ok=True)
    return strays


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


def source_module(name: str) -> ModuleType:
    """Module ``name``'s ``.py`` file loaded as a module of its own (``<name>_source``), beside ``name`` as imported
    (compiled, where built): for a test that holds a compiled module to its source, or subclasses a class of it
    whose methods an extension type would not let a Python subclass replace. Registered in ``sys.modules``
    under its own name, where its dataclasses look their module up."""
    imported = importlib.import_module(name)
    spec = importlib.util.spec_from_file_location(
        f"{name}_source", Path(imported.__file__ or "").with_name(f"{name.rpartition('.')[2]}.py"))
    assert spec is not None and spec.loader is not None
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
