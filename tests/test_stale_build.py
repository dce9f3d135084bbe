"""``tests/conftest.py`` refuses to test an old build: a compiled module older than its ``.py`` or ``.pxd``."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import stale_extensions


def test_an_extension_older_than_its_source_or_declarations_is_named(tmp_path: Path) -> None:
    package = tmp_path / "arb" / "sub"
    package.mkdir(parents=True)
    for name in ("fresh.py", "fresh.cpython-311-x86_64-linux-gnu.so", "old.py", "old.cpython-311-x86_64-linux-gnu.so",
                 "typed.py", "typed.pxd", "typed.cpython-311-x86_64-linux-gnu.so", "plain.py"):
        (package / name).write_text("")
    os.utime(package / "old.cpython-311-x86_64-linux-gnu.so", (1_000, 1_000))
    os.utime(package / "typed.cpython-311-x86_64-linux-gnu.so", (2_000, 2_000))
    os.utime(package / "typed.py", (1_000, 1_000))  # only its declarations were edited after the build
    assert stale_extensions(tmp_path / "arb") == ["arb/sub/old.py", "arb/sub/typed.pxd"]

