"""The layers of ``docs/ARCHITECTURE.md`` hold: no module imports from a layer above its own, and no import
circle joins any modules, two files included.

The layers are read from the document itself (its ``layers`` block), so the picture a reader sees is the
rule this test applies. Every import counts, wherever it is written: at the top, inside a function (imported
late to start fast, but still a dependency), under ``TYPE_CHECKING`` (it decides what a module must know).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"


def _layers() -> dict[str, int]:
    """``arb.<unit>`` -> its layer number, from the ``layers`` block of ARCHITECTURE.md."""
    block = re.search(r"```layers\n(.*?)```", ARCHITECTURE.read_text(), re.S)
    assert block, "docs/ARCHITECTURE.md has no ```layers block"
    layers: dict[str, int] = {}
    for line in block.group(1).splitlines():
        number, _, rest = line.partition(" ")
        if not number.isdigit():
            continue
        units = rest.split("  ")[0]  # two spaces end the list; what follows says what the layer is
        for unit in (u.strip() for u in units.split(",")):
            layers["arb" if unit == "arb" else f"arb.{unit}"] = int(number)
    return layers


def _modules() -> dict[str, Path]:
    found = {}
    for path in (ROOT / "arb").rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _module_of(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """(arb module imported, line) for every import in ``path``, relative ones resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            # ``from arb.x import y``: y may be a module of its own (``from arb.store import views``)
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for name in names:
            target = _module_of(name) if name.split(".")[0] == "arb" else None
            if target is not None and target != module:
                yield target, node.lineno


GRAPH = {module: sorted(set(_imports(module, path))) for module, path in MODULES.items()}


def _unit(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_every_module_is_in_a_layer() -> None:
    layers = _layers()
    unplaced = sorted({_unit(m) for m in MODULES} - set(layers))
    assert not unplaced, f"not in ARCHITECTURE.md's layers block: {unplaced}"


def test_every_unit_in_the_layers_block_exists() -> None:
    # A package moved or deleted must leave the picture too (the sandbox listed on layer 3 after it had
    # become arb/venues/gate/sandbox/ went unnoticed): a layer names only what is there.
    units = {_unit(m) for m in MODULES}
    missing = sorted(set(_layers()) - units)
    assert not missing, f"ARCHITECTURE.md's layers block names what arb does not have: {missing}"


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    layers = _layers()
    upward = [f"{MODULES[m].relative_to(ROOT)}:{line} imports {target} (layer {layers[_unit(target)]} "
              f"over {layers[_unit(m)]})"
              for m, imports in GRAPH.items() for target, line in imports
              if layers[_unit(target)] > layers[_unit(m)]]
    assert not upward, "\n".join(upward)


def test_no_import_circle() -> None:
    # Two files count: a circle closed under ``TYPE_CHECKING`` is still two modules that must know each
    # other (the sandbox's server and control API were one, until control named what it calls in a Protocol).
    edges = {m: {t for t, _ in imports} for m, imports in GRAPH.items()}
    circles = [c for c in _strongly_connected(edges) if len(c) > 1]
    assert not circles, "\n".join(" <-> ".join(sorted(c)) for c in circles)


def test_the_layer_rule_sees_every_kind_of_import(tmp_path: Path) -> None:
    # The parser above must see in-function, TYPE_CHECKING and relative imports, or the test proves nothing.
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from arb.engine import Engine\n"
              "def f():\n    import arb.commands.run\n    from . import orders\n")
    path = tmp_path / "probe.py"
    path.write_text(source)
    found = {t for t, _ in _imports("arb.venues.probe", path)}
    assert found == {"arb.engine", "arb.commands.run", "arb.venues"} | (
        {"arb.venues.orders"} if "arb.venues.orders" in MODULES else set())


def _strongly_connected(edges: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (the graph is a few hundred modules deep at most)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    counter = 0
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                found.append(component)
    return found
