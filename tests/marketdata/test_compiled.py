"""The optional Cython build of the book (setup.py): same results as the .py source, and no stray extension."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import arb.marketdata.book_side
from arb.compiled import GROUPS
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
    built = {".".join(path.relative_to(REPO).parts[:-1] + (path.name.split(".")[0],))
             for path in (REPO / "arb").rglob("*.so")}
    stray = built - {name for group in GROUPS for name in group}
    assert not stray, f"extension modules setup.py no longer builds (delete them): {sorted(stray)}"


def test_book_attributes_stay_assignable() -> None:
    """Compiled, the book is an extension type: the fields tests and tools set must stay public."""
    book = OrderBook("v", "A/B", depth=2)
    book.bids.window_size = 4
    book.seq = 7
    assert (book.bids.window_size, book.seq) == (4, 7)
    assert isinstance(book.bids, arb.marketdata.book_side.BookSide)
