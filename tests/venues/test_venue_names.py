"""The grep-able fact: outside ``arb/venues/`` no module names a venue or reads a venue-specific field (a
venue's simulator included: Gate's sandbox is ``arb/venues/gate/sandbox/``).

Checked over code tokens (``tokenize``): identifiers and string literals. Identifiers are split into
words (``GateBookFeed`` -> gate, book, feed; ``GATE_SPOT_LIMITS`` -> gate, spot, limits), string literals
too (``"X-Gate-RateLimit-Reset-Timestamp"``); a venue name matches a whole word, a field name a whole
identifier-like run (``finish_as``). Comments and docstrings (string statements) are prose, not code:
they may cite a venue to explain a rule ("Gate reports a partially filled IOC as cancelled") without
making the code depend on it, so they do not count. Venue names come from the registry (adapter keys and
their ccxt ids, and the ccxt ids the generic adapter has facts about); field names from each adapter's
declaration.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

from arb.venues.registry import field_names, venue_names

ROOT = Path(__file__).resolve().parents[2]
OWNER = "arb/venues/"

# Identifiers where a venue's name is an English word, not the venue.
ENGLISH = {"RiskGate"}  # the risk gate: execution/risk.py



def _words(token: str) -> set[str]:
    parts = re.split(r"[^0-9A-Za-z]+", token)
    words = set()
    for part in parts:
        words.update(w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+", part))
    return words


def _prose_lines(source: str) -> set[tuple[int, int]]:
    """Start positions of string statements (docstrings and other bare strings)."""
    starts = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            starts.add((node.lineno, node.col_offset))
    return starts


def offences(path: Path, venues: frozenset[str], fields: frozenset[str]) -> list[str]:
    source = path.read_text(encoding="utf-8")
    prose = _prose_lines(source)
    found = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.STRING and tok.start in prose:
            continue
        if tok.type not in (tokenize.NAME, tokenize.STRING) or tok.string in ENGLISH:
            continue
        named = _words(tok.string) & venues
        fielded = {f for f in fields if re.search(rf"(?<![0-9A-Za-z_]){re.escape(f)}(?![0-9A-Za-z_])", tok.string)}
        for what in sorted(named | fielded):
            found.append(f"{path.relative_to(ROOT)}:{tok.start[0]}: {what!r} in {tok.string[:60]!r}")
    return found


def checked_files() -> list[Path]:
    files = []
    for path in sorted((ROOT / "arb").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if not rel.startswith(OWNER):
            files.append(path)
    return files


def test_no_module_outside_the_venue_packages_names_a_venue_or_its_fields() -> None:
    venues, fields = venue_names(), field_names()
    assert {"gate", "okx", "binance"} <= venues and "finish_as" in fields
    found = [line for path in checked_files() for line in offences(path, venues, fields)]
    assert not found, "venue names outside arb/venues/:\n" + "\n".join(found)


def test_the_check_sees_identifiers_and_strings_but_not_prose(tmp_path: Path) -> None:
    venues, fields = frozenset({"gate"}), frozenset({"finish_as"})
    sample = ROOT / "arb" / "_sample_for_test.py"
    cases = {
        '"""Gate reports IOCs as cancelled."""\n# gate\nx = 1\n': 0,
        "from arb.venues.gate import GateExchange\n": 2,  # the module path and the class name
        'LIMITS = GATE_SPOT_LIMITS\n': 1,
        'h = "X-Gate-RateLimit-Reset-Timestamp"\n': 1,
        'if name == "gate": pass\n': 1,
        'status = info.get("finish_as")\n': 1,
        'gateway = RiskGate\n': 0,
    }
    try:
        for source, count in cases.items():
            sample.write_text(source)
            assert len(offences(sample, venues, fields)) == count, source
    finally:
        sample.unlink(missing_ok=True)
