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
# group of its own, so a failure in one group leaves the others compiled.
# And what a simulation does once every market instant besides books and detection: the market-time loop
# (simloop), the market source (feeds), the decision loop's step (decisions), the inventory watch's look
# (depletion) and the market clock (clock). Compiled as they are, no declarations: the interpreter's
# dispatch of their small steps was ~22,000 instructions of the ~190,000 a simulated instant adds to books
# and detection (bench/bench_instructions.py --workload single). Other modules on the way (the risk gate, the
# writer, the venues' matchers) were measured compiled too and saved nothing: they are not in it.
SIMULATOR = ("arb.eventloop.simloop", "arb.eventloop.clock", "arb.runtime.feeds", "arb.runtime.decisions",
             "arb.runtime.depletion")
GROUPS = [
    [f"arb.marketdata.{name}"
     for name in ("drops", "tick_map", "book_side", "book", "books", "diffsync", "depth_scan")],
    ["arb.detection.top_screen"],
    list(SIMULATOR),
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
