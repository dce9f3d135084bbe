"""What the quick commands import: ``arb --help``, ``arb config check`` and ``arb report`` start in well under
0.5 s because they leave the heavy libraries alone, and these tests hold that without timing anything
(``bench/bench_startup.py`` measures it).

Each command runs in a fresh interpreter, all the way through (``arb.cli.main``), and reports which of the
libraries it must not need were imported by then: ccxt and aiohttp (~0.5 s; only where an exchange is
opened), numpy (a book, detection), SQLAlchemy's ORM where no row is read, pydantic where no config is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from report.sample_run import write_sample_db

SHIPPED = Path(__file__).resolve().parent.parent / "config.toml"
VENUE_LIBRARIES = ("ccxt", "aiohttp", "numpy")


def imported_by(argv: list[str], cwd: Path) -> tuple[int, list[str]]:
    """The exit status of ``arb *argv`` and which loaded modules of interest it left in ``sys.modules``."""
    watched = (*VENUE_LIBRARIES, "sqlalchemy", "sqlalchemy.orm", "pydantic", "arb.engine")
    code = ("import contextlib, io, json, sys\n"
            "from arb.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n"
            f"        status = main({argv!r})\n"
            "    except SystemExit as exc:\n"
            "        status = exc.code\n"
            f"print(json.dumps([status, sorted(m for m in {watched!r} if m in sys.modules)]))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120,
                         cwd=cwd)
    status, loaded = json.loads(run.stdout.strip().splitlines()[-1])
    return status, loaded


def test_help_imports_no_library_of_any_command() -> None:
    status, loaded = imported_by(["--help"], SHIPPED.parent)
    assert status == 0
    assert loaded == []


def test_config_check_resolves_venues_without_ccxt() -> None:
    """The shipped config (a sandbox venue, a paper one through the generic ccxt adapter, a capture): the
    venues are resolved through the registry, the capture's first line read, the database URL checked
    through SQLAlchemy's engine, all without ccxt, numpy or the ORM."""
    status, loaded = imported_by(["config", "check", str(SHIPPED)], SHIPPED.parent)
    assert status == 0
    assert loaded == ["pydantic", "sqlalchemy"]


def test_report_of_a_stored_run_reads_it_without_venue_libraries(tmp_path: Path) -> None:
    url = write_sample_db(tmp_path / "arb.db")
    status, loaded = imported_by(["report", "--db", url], tmp_path)
    assert status == 0
    assert loaded == ["sqlalchemy", "sqlalchemy.orm"]
