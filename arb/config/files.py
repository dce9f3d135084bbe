"""Where a config's files are: the config itself (``config.toml`` in the working directory unless named), its
capture, a path relative to the config file or ``bundled:<name>`` for the captures shipped in ``arb/data``,
and its kill-switch file, relative to the config file too. Only names and paths, imported by every command's
arguments (so nothing heavy): that a capture exists and opens is the preflight's to check
(``arb/runtime/preflight.py``), through the strict reader the run uses."""

from __future__ import annotations

from pathlib import Path

DEFAULT_CONFIG = Path("config.toml")
BUNDLED_PREFIX = "bundled:"
BUNDLED_DIR = Path(__file__).parent.parent / "data"


def beside_config(text: str, config_path: Path) -> Path:
    """A path the config names: as written when absolute, else in the config file's directory (never the
    working directory, which is wherever the command happened to be started)."""
    path = Path(text)
    return path if path.is_absolute() else config_path.parent / path


def resolve_capture(capture: str, config_path: Path) -> Path:
    if capture.startswith(BUNDLED_PREFIX):
        return BUNDLED_DIR / f"{capture[len(BUNDLED_PREFIX):]}.jsonl.gz"
    return beside_config(capture, config_path)


def bundled_captures() -> list[str]:
    """The names ``bundled:<name>`` accepts: the captures shipped in ``arb/data``."""
    return sorted(p.name.removesuffix(".jsonl.gz") for p in BUNDLED_DIR.glob("*.jsonl.gz"))
