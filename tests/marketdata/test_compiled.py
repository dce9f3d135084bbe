"""The optional Cython build of the book (setup.py): same results as the .py source, and no stray extension."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import arb.marketdata.book_side
from arb.compiled import remove_strays, stray_extensions
from arb.marketdata.book import OrderBook

from .book_digest import digest

REPO = Path(__file__).resolve().parents[2]


def test_pure_python_and_imported_books_agree_on_real_recordings() -> None:
    """Every intermediate book state on the Binance stream and the Gate samples is identical.

    Under a build with the extension this compares compiled against pure Python; without one both sides
    are pure Python and the check is that the subprocess really loaded the ``.py`` files.
    """
    ours = digest()
    run = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("book_digest.py")), "--pure"],
        capture_output=True, text=True, check=True, cwd=REPO, timeout=300,
    )
    pure = json.loads(run.stdout)
    assert all(path.endswith(".py") for path in pure["files"].values()), pure["files"]
    assert pure["digest"] == ours


def test_every_extension_module_is_one_setup_py_builds() -> None:
    """An extension left behind by a module no longer compiled (taken out of ``arb/compiled.py``'s groups) would
    still be imported before its ``.py``. (One older than its source stops the session: ``tests/conftest.py``.)"""
    stray = stray_extensions(REPO / "arb")
    assert not stray, f"extension modules setup.py no longer builds (a build removes them): {stray}"


def test_a_build_removes_the_old_build_of_a_module_no_longer_compiled_and_nothing_else(tmp_path: Path) -> None:
    package = tmp_path / "arb"
    suffix = ".cpython-311-x86_64-linux-gnu"
    grouped = package / "marketdata" / "book_side"
    dropped = package / "runtime" / "writer"  # compiled once, say: in no group now
    for module in (grouped, dropped):
        module.parent.mkdir(parents=True, exist_ok=True)
        for name in (f"{module.name}.py", f"{module.name}.c", f"{module.name}{suffix}.so"):
            (module.parent / name).write_text("")
    lone = package / "vendor" / f"libsomething{suffix}.so"  # no .py beside it: not arb's build to remove
    lone.parent.mkdir()
    lone.write_text("")

    assert stray_extensions(package) == [dropped.with_name(f"writer{suffix}.so")]
    assert remove_strays(package) == [dropped.with_name(f"writer{suffix}.so")]
    left = sorted(str(path.relative_to(package)) for path in package.rglob("*") if path.is_file())
    assert left == ["marketdata/book_side.c", f"marketdata/book_side{suffix}.so",
                    "marketdata/book_side.py", "runtime/writer.py", f"vendor/libsomething{suffix}.so"]
    assert stray_extensions(package) == []


def test_book_attributes_stay_assignable() -> None:
    """Compiled, the book is an extension type: the fields tests and tools set must stay public."""
    book = OrderBook("v", "A/B", depth=2)
    book.bids.window_size = 4
    book.seq = 7
    assert (book.bids.window_size, book.seq) == (4, 7)
    assert isinstance(book.bids, arb.marketdata.book_side.BookSide)
