"""``arb`` with the simulator's per-instant modules (``arb/compiled.py``'s ``SIMULATOR``) loaded from their ``.py``
source, as if nothing was built: ``python tests/engine/pure_simulator.py FILES_JSON ARB_ARGS...`` runs ``arb
ARB_ARGS`` and writes which file each of those modules ran from to ``FILES_JSON``. ``test_compiled_simulator.py``
compares its rows with the compiled modules' own."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from arb.compiled import SIMULATOR, FromSource, module_files

if __name__ == "__main__":
    sys.meta_path.insert(0, FromSource(SIMULATOR))
    from arb.cli import main

    Path(sys.argv[1]).write_text(json.dumps(module_files(SIMULATOR)))
    sys.exit(main(sys.argv[2:]))
