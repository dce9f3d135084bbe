"""Optional compiled order book: Cython builds the book's hot modules, detection's first pass over many
symbols' pairs, and the simulator's per-instant steps, from their own ``.py`` source.

Why Cython: it is a well-kept compiler for the Python code we already have. Each compiled module stays
the one implementation: the ``.pxd`` beside it declares C types, and a few branches taken only when
compiled (``COMPILED``: a C integer window in ``book_side.py``, a C top view in ``book.py``, a C pass over
a number's characters in ``drops.py``; ``detection/batch.py`` calls ``top_screen`` only compiled) do the
same thing the interpreted branch does, faster, each held to it by tests
(``tests/marketdata/test_compiled.py``, ``test_drops.py``, ``tests/detection/test_top_screen.py``). So there
is no second book or validator to keep in sync; ``bench/bench_ingest.py`` prints which modules ran
compiled. Everything else is configured in ``pyproject.toml``.

Which modules, in which groups, and why each: ``arb/compiled.py``. Never a hard failure: without Cython
(``ImportError``) no extension is declared, and when cythonizing a group fails, none of that group's; a
failed C compile is skipped because every extension is ``optional``. The package then installs and runs those
``.py`` modules unchanged.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

from setuptools import Extension, setup

# Every core translates and compiles: a full build of the 13 modules took 1 min 21 s one at a time and 47 s on
# two cores (CI's install, and test.sh's rebuild after an edit to one of them).
_CORES = os.cpu_count() or 1


def _compiled() -> ModuleType:
    """``arb/compiled.py`` (its groups, what each is and why; which old builds to remove), loaded by its path: a
    PEP 517 build (setuptools' ``build_meta``) does not put the project on ``sys.path``, and that file is all of
    arb the build needs."""
    spec = importlib.util.spec_from_file_location("arb_compiled", Path(__file__).resolve().parent / "arb" / "compiled.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def extensions() -> list[Extension]:
    compiled = _compiled()
    for extension in compiled.remove_strays(Path(__file__).resolve().parent / "arb"):
        print(f"arb: removed {extension.name}, the old build of a module no longer compiled", file=sys.stderr)
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("arb: Cython not available, using the pure-Python modules", file=sys.stderr)
        return []
    built: list[Extension] = []
    for group in compiled.GROUPS:
        try:
            built += cythonize(
                [Extension(name, [name.replace(".", "/") + ".py"]) for name in group],
                # Types come from the .pxd files only: the .py annotations are for readers and mypy
                # (``n: int`` must not become a C long).
                compiler_directives={"language_level": 3, "annotation_typing": False},
                quiet=True, nthreads=min(_CORES, len(group)),
            )
        except Exception as exc:  # noqa: BLE001 - any Cython failure falls back to the group's .py modules
            print(f"arb: cythonize failed ({exc}); {', '.join(group)} run as pure Python", file=sys.stderr)
    for ext in built:  # set after cythonize: it rebuilds the Extension objects and drops the flag
        ext.optional = True  # a failed C compile is a warning and the .py module stays in use
    return built


setup(ext_modules=extensions(), options={"build_ext": {"parallel": _CORES}})
