"""ccxt's exchange ids as arb reads them from ccxt's files (``arb.venues.ccxt_exchanges``) are ccxt's own.

Read in a fresh interpreter, where ccxt is not imported (in this one another test may have imported it, and
the module would then hand back ccxt's own lists), and compared with ccxt's lists here, exactly: same ids,
same order.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import ccxt
import ccxt.pro

from arb.venues.ccxt_exchanges import _literal

READ = ("import json, sys; from arb.venues.ccxt_exchanges import exchanges, pro_exchanges; "
        "print(json.dumps({'all': exchanges(), 'pro': pro_exchanges(), "
        "'imported': sorted(m for m in ('ccxt', 'aiohttp') if m in sys.modules)}))")


def test_the_ids_read_from_ccxts_files_are_ccxts_own() -> None:
    run = subprocess.run([sys.executable, "-c", READ], capture_output=True, text=True, check=True, timeout=120)
    read = json.loads(run.stdout)
    assert read["imported"] == []  # read from the files: ccxt itself never imported
    assert read["all"] == list(ccxt.exchanges)
    assert read["pro"] == list(ccxt.pro.exchanges)


def test_a_file_without_the_literal_is_not_read(tmp_path: Path) -> None:
    """Another ccxt layout (the list built, or no file): None, and the module imports ccxt after all."""
    built = tmp_path / "built.py"
    built.write_text("exchanges = ['binance'] + PRO\n")
    assert _literal(built) is None
    assert _literal(tmp_path / "missing.py") is None
    listed = tmp_path / "listed.py"
    listed.write_text("x = 1\nexchanges = [\n    'binance',\n    'gate',\n]\n")
    assert _literal(listed) == ("binance", "gate")
