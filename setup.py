"""Optional compiled order book: Cython builds the book's hot modules, and detection's first pass over many
symbols' pairs, from their own ``.py`` source.

Why Cython: it is a well-kept compiler for the Python code we already have. Each compiled module stays
the one implementation: the ``.pxd`` beside it declares C types, and a few branches taken only when
compiled (``COMPILED``: a C integer window in ``book_side.py``, a C top view in ``book.py``, a C pass over
a number's characters in ``drops.py``; ``detection/batch.py`` calls ``top_screen`` only compiled) do the
same thing the interpreted branch does, faster, each held to it by tests
(``tests/marketdata/test_compiled.py``, ``test_drops.py``, ``tests/detection/test_top_screen.py``). So there
is no second book or validator to keep in sync; ``bench/bench_ingest.py`` prints which modules ran
compiled. Everything else is configured in ``pyproject.toml``.

Never a hard failure: without Cython (``ImportError``) no extension is declared, and when cythonizing a
group (``GROUPS``) fails, none of that group's; a failed C compile is skipped because every extension is
``optional``. The package then installs and runs those ``.py`` modules unchanged.
"""

from __future__ import annotations

import sys

from setuptools import Extension, setup

# The modules on the per-message path: check levels (drops), apply them (book_side, its levels in tick_map),
# book + top view (book), diff sync (diffsync) and the store's calls around them (books: compiled as it is,
# no declarations); and a depth frame in its venue's exact shape read in one pass, in place of JSON parsing
# and the checks (depth_scan). One group: they cimport each other's declarations, so they are built together
# or not at all.
# And detection's first pass over every pair's tops (top_screen), in place of a batch's ~100 numpy calls: a
# group of its own, so a failure in either group leaves the other compiled.
GROUPS = [
    [f"arb.marketdata.{name}"
     for name in ("drops", "tick_map", "book_side", "book", "books", "diffsync", "depth_scan")],
    ["arb.detection.top_screen"],
]


def extensions() -> list[Extension]:
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("arb: Cython not available, using the pure-Python modules", file=sys.stderr)
        return []
    built: list[Extension] = []
    for group in GROUPS:
        try:
            built += cythonize(
                [Extension(name, [name.replace(".", "/") + ".py"]) for name in group],
                # Types come from the .pxd files only: the .py annotations are for readers and mypy
                # (``n: int`` must not become a C long).
                compiler_directives={"language_level": 3, "annotation_typing": False},
                quiet=True,
            )
        except Exception as exc:  # noqa: BLE001 - any Cython failure falls back to the group's .py modules
            print(f"arb: cythonize failed ({exc}); {', '.join(group)} run as pure Python", file=sys.stderr)
    for ext in built:  # set after cythonize: it rebuilds the Extension objects and drops the flag
        ext.optional = True  # a failed C compile is a warning and the .py module stays in use
    return built


setup(ext_modules=extensions())
