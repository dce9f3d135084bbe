"""Where a config's files are: the config itself (``config.toml`` in the working directory unless named), and
its capture, a path relative to the config file or ``bundled:<name>`` for the captures shipped in
``arb/data``. Only names and paths, imported by every command's arguments (so nothing heavy): that a
capture exists and opens is the preflight's to check (``arb/runtime/preflight.py``), through the strict
reader the run uses."""

from __future__ import annotations

from pathlib import Path

DEFAULT_CONFIG = Path("config.toml")
BUNDLED_PREFIX = "bundled:"
BUNDLED_DIR = Path(__file__).parent.parent / "data"


def resolve_capture(capture: str, config_path: Path) -> Path:
    if capture.startswith(BUNDLED_PREFIX):
        return BUNDLED_DIR / f"{capture[len(BUNDLED_PREFIX):]}.jsonl.gz"
    path = Path(capture)
    return path if path.is_absolute() else config_path.parent / path


def bundled_captures() -> list[str]:
    """The names ``bundled:<name>`` accepts: the captures shipped in ``arb/data``."""
    return sorted(p.name.removesuffix(".jsonl.gz") for p in BUNDLED_DIR.glob("*.jsonl.gz"))
