"""The optional Cython build of the book (setup.py): same results as the .py source, and never stale."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import arb.marketdata.book_side
from arb.marketdata.book import OrderBook

from .book_digest import COMPILED, digest, module_files

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


def test_compiled_modules_are_not_older_than_their_source() -> None:
    """An extension module shadows its ``.py``: an edit is invisible until rebuilt (``pip install -e .``)."""
    for name, path in module_files().items():
        built = Path(path)
        if built.suffix == ".py" or not built.is_relative_to(REPO):
            continue
        for source in (built.with_name(f"{name}.py"), built.with_name(f"{name}.pxd")):
            if source.exists():
                assert built.stat().st_mtime >= source.stat().st_mtime, (
                    f"{built.name} is older than {source.name}: rebuild with `pip install -e .`"
                )
    assert set(module_files()) == set(COMPILED)


def test_book_attributes_stay_assignable() -> None:
    """Compiled, the book is an extension type: the fields tests and tools set must stay public."""
    book = OrderBook("v", "A/B", depth=2)
    book.bids.window_size = 4
    book.seq = 7
    assert (book.bids.window_size, book.seq) == (4, 7)
    assert isinstance(book.bids, arb.marketdata.book_side.BookSide)
