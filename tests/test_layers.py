"""The layers of ``docs/ARCHITECTURE.md`` hold: no module imports from a layer above its own, nor from a unit
on its own layer that the line does not put before it with ``<``; and no import circle joins any modules,
two files included.

The layers are read from the document itself (its ``layers`` block), so the picture a reader sees is the
rule this test applies. Every import counts, wherever it is written: at the top, inside a function (imported
late to start fast, but still a dependency), under ``TYPE_CHECKING`` (it decides what a module must know).
The checks are functions of an import graph and the block, so the tests at the end feed them planted trees
and show each rule failing.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"


Layers = dict[str, tuple[int, int]]  # unit -> (its layer, its step on the layer's line)
Graph = dict[str, list[tuple[str, int]]]  # module -> (arb module it imports, line)


def _layers() -> Layers:
    """``arb.<unit>`` -> (layer, step), from the ``layers`` block of ARCHITECTURE.md.

    A line is ``N units  what the layer is``; its units are steps joined by ``<``, a step's units by commas:
    ``a, b < c`` puts ``a`` and ``b`` on step 0 and ``c`` on step 1."""
    block = re.search(r"```layers\n(.*?)```", ARCHITECTURE.read_text(), re.S)
    assert block, "docs/ARCHITECTURE.md has no ```layers block"
    layers: Layers = {}
    for line in block.group(1).splitlines():
        number, _, rest = line.partition(" ")
        if not number.isdigit():
            continue
        units = rest.split("  ")[0]  # two spaces end the list; what follows says what the layer is
        for step, group in enumerate(units.split("<")):
            for unit in (u.strip() for u in group.split(",")):
                name = "arb" if unit == "arb" else f"arb.{unit}"
                assert name not in layers, f"{unit} is in the layers block twice"
                layers[name] = (int(number), step)
    return layers


def _modules(root: Path = ROOT) -> dict[str, Path]:
    found = {}
    for path in (root / "arb").rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _module_of(name: str, modules: dict[str, Path] = MODULES) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path, modules: dict[str, Path] = MODULES) -> Iterator[tuple[str, int]]:
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
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for name in names:
            target = _module_of(name, modules) if name.split(".")[0] == "arb" else None
            if target is not None and target != module:
                yield target, node.lineno


def _graph(modules: dict[str, Path]) -> Graph:
    return {module: sorted(set(_imports(module, path, modules))) for module, path in modules.items()}


GRAPH = _graph(MODULES)


def _unit(module: str, layers: Layers) -> str:
    """The most specific unit of the block that holds ``module``: ``arb.venues.gate.sandbox.server`` is in
    ``arb.venues.gate``, ``arb.venues.throttle`` in ``arb.venues``; ``arb`` is the package's own module only.
    A module no unit holds answers its top-level package, which the block then lacks."""
    parts = module.split(".")
    for n in range(len(parts), 1, -1):
        if ".".join(parts[:n]) in layers:
            return ".".join(parts[:n])
    return ".".join(parts[:2])


def forbidden_imports(graph: Graph, layers: Layers) -> list[str]:
    """Every import of another unit that is not below the importer's layer, nor on its line before it."""
    found = []
    for module, imports in graph.items():
        own = _unit(module, layers)
        for target, line in imports:
            theirs = _unit(target, layers)
            if theirs == own:
                continue
            (layer, step), (their_layer, their_step) = layers[own], layers[theirs]
            if their_layer < layer or their_layer == layer and their_step < step:
                continue
            where = (f"layer {their_layer}, above {own}'s {layer}" if their_layer > layer
                     else f"layer {layer} beside {own}, no < between them" if their_step == step
                     else f"layer {layer} after {own}")
            found.append(f"{module}:{line} imports {target} ({theirs}: {where})")
    return found


def circles(graph: Graph) -> list[set[str]]:
    """Every set of modules that import each other round, two files included."""
    edges = {m: {t for t, _ in imports} for m, imports in graph.items()}
    return [c for c in _strongly_connected(edges) if len(c) > 1]


def test_every_module_is_in_a_layer() -> None:
    layers = _layers()
    unplaced = sorted({_unit(m, layers) for m in MODULES} - set(layers))
    assert not unplaced, f"not in ARCHITECTURE.md's layers block: {unplaced}"


def test_every_venue_package_is_a_unit_of_its_own() -> None:
    # Else a new venue's package would join ``venues``, the modules every venue shares, and they could
    # import it unseen (venues/adapter.py imported Gate's Sandbox type while venues/ was one unit).
    layers = _layers()
    packages = sorted(f"arb.venues.{p.parent.name}" for p in (ROOT / "arb" / "venues").glob("*/__init__.py"))
    assert packages, "arb/venues/ has no package"
    unlisted = [p for p in packages if p not in layers]
    assert not unlisted, f"each package in arb/venues/ is a unit in ARCHITECTURE's layers block: {unlisted}"


def test_every_unit_in_the_layers_block_exists() -> None:
    # A package moved or deleted must leave the picture too (the sandbox listed on layer 3 after it had
    # become arb/venues/gate/sandbox/ went unnoticed): a layer names only what is there.
    missing = sorted(set(_layers()) - set(MODULES))
    assert not missing, f"ARCHITECTURE.md's layers block names what arb does not have: {missing}"


def test_no_module_imports_from_above_its_place() -> None:
    # Above its layer, or on its layer but not before it on the line: every import counts, so a unit's
    # place is all a reader needs to know what it may use.
    found = forbidden_imports(GRAPH, _layers())
    assert not found, "\n".join(found)


def test_no_import_circle() -> None:
    # Two files count: a circle closed under ``TYPE_CHECKING`` is still two modules that must know each
    # other (the sandbox's server and control API were one, until control named what it calls in a Protocol).
    found = circles(GRAPH)
    assert not found, "\n".join(" <-> ".join(sorted(c)) for c in found)


def test_the_layer_rule_sees_every_kind_of_import(tmp_path: Path) -> None:
    # The parser above must see in-function, TYPE_CHECKING and relative imports, or the test proves nothing.
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from arb.engine import Engine\n"
              "def f():\n    import arb.commands.run\n    from . import orders\n")
    path = tmp_path / "probe.py"
    path.write_text(source)
    found = {t for t, _ in _imports("arb.venues.probe", path)}
    assert found == {"arb.engine", "arb.commands.run", "arb.venues"} | (
        {"arb.venues.orders"} if "arb.venues.orders" in MODULES else set())


def _planted(root: Path, files: dict[str, str]) -> Graph:
    """The import graph of a tree of ``files`` (path -> source) under ``root``, packages made as needed."""
    for name, source in files.items():
        path = root / name
        for package in reversed(path.relative_to(root).parents):
            if package.parts:
                (root / package).mkdir(exist_ok=True)
                (root / package / "__init__.py").touch()
        path.write_text(source)
    return _graph(_modules(root))


def test_a_planted_two_file_circle_fails(tmp_path: Path) -> None:
    # The circle that was: the server serves the control API, which names the server's type for checking.
    graph = _planted(tmp_path, {
        "arb/venues/gate/sandbox/server.py": "from arb.venues.gate.sandbox.control import control_routes\n",
        "arb/venues/gate/sandbox/control.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                              "    from arb.venues.gate.sandbox.server import Sandbox\n",
    })
    assert circles(graph) == [{"arb.venues.gate.sandbox.server", "arb.venues.gate.sandbox.control"}]
    assert not forbidden_imports(graph, _layers())  # one unit: only the circle rule sees it


def test_a_planted_import_against_the_order_of_a_layer_fails(tmp_path: Path) -> None:
    graph = _planted(tmp_path, {
        "arb/valuation.py": "from arb.margin import apply_fill\n",  # before it on layer 0: allowed
        "arb/margin.py": "",
        "arb/accounting.py": "def f():\n    from arb.valuation import value\n",  # after it on layer 0
        "arb/detection/core.py": "import arb.quoting.price\n",  # beside it on layer 1, no < between them
        "arb/quoting/price.py": "",
        "arb/store/repo.py": "from arb.execution import plan\n",  # a layer above
        "arb/execution/plan.py": "",
    })
    found = forbidden_imports(graph, _layers())
    assert sorted(f.split(" (")[0] for f in found) == [
        "arb.accounting:2 imports arb.valuation",
        "arb.detection.core:1 imports arb.quoting.price",
        "arb.store.repo:1 imports arb.execution.plan",
    ], found
    assert not circles(graph)


def test_a_planted_import_of_a_venue_package_from_the_shared_venue_modules_fails(tmp_path: Path) -> None:
    graph = _planted(tmp_path, {
        "arb/venues/adapter.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                 "    from arb.venues.gate.sandbox import Sandbox\n",
        "arb/venues/gate/adapter.py": "from arb.venues.adapter import VenueAdapter\n",  # allowed: built on it
        "arb/venues/registry.py": "from arb.venues.gate.adapter import ADAPTER\n",  # allowed: it lists them
        "arb/venues/binance/adapter.py": "from arb.venues.gate import facts\n",  # a venue's from another's
        "arb/venues/gate/facts.py": "",
        "arb/venues/gate/sandbox/__init__.py": "",
    })
    found = forbidden_imports(graph, _layers())
    assert sorted(f.split(" (")[0] for f in found) == [
        "arb.venues.adapter:3 imports arb.venues.gate.sandbox",
        "arb.venues.binance.adapter:1 imports arb.venues.gate.facts",
    ], found


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
