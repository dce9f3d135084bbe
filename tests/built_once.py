"""Files that several test modules build the same way (a converted recording, a replay's database), built once
per test session and copied to each test that asks.

Converting the Binance recordings alone took ~3 s of CPU each time, and about twenty modules converted the
same two pairs of files. Under pytest-xdist the first worker to ask builds while the others wait on a file
lock, in a folder beside the workers' own temporary folders (``tests/conftest.py`` names it per session, so a
change to the code is always built again). Each caller gets its own copy of the files: nothing a test writes
is seen by another. Outside a test session (a benchmark) the files are built where asked, as before.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

ENV = "PYTEST_ARB_BUILT_ONCE"  # the session's folder of built files (set by tests/conftest.py)


def built_once(key: str, names: Sequence[str], into: Path, build: Callable[[Path], None]) -> None:
    """``names`` in ``into``: copies of what ``build(folder)`` wrote, built once per session for ``key``."""
    root = os.environ.get(ENV)
    if root is None:
        build(into)
        return
    shared = Path(root)
    shared.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", key)
    folder, done = shared / slug, shared / f"{slug}.done"
    with (shared / f"{slug}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or when its process dies
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a build that failed part-way
            folder.mkdir()
            build(folder)
            done.touch()
    for name in names:
        shutil.copyfile(folder / name, into / name)
