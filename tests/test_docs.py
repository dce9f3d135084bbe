"""Every file, module, class and function README.md and docs/*.md name in backticks exists (#48).

A newcomer follows the docs' names into the code; a name that was renamed or removed sends them nowhere. The
checker reads each backticked token outside fenced blocks and sorts it by what it looks like:

- **a path** (it has a ``/``, or ends in ``.py``, ``.toml``, ``.md``, ``.ipynb``; no space, no ``://``): relative
  (or ``.sh``, ``.ini``) relative to the repository root or to ``arb/`` (the docs say ``store/lease.py`` for ``arb/store/lease.py``); a
  trailing ``/`` must be a directory; a bare file or directory name (``lease.py``, ``sim/``; the
  architecture's per-package lists) must exist somewhere in the tree; ``<name>`` is a placeholder (any one
  part). ``runtime/feeds.market_source``: the module ``arb/runtime/feeds.py`` and its attribute. Not paths:
  absolute ones (``/dev/zero``, HTTP endpoints ``/spot/orders``), market symbols (``BTC/USDT``,
  ``BTC/USDT:USDT``), the venv set-up makes (``.venv/...``), outputs git ignores (``runs/``) and the
  example files a user writes (:data:`USER_FILES`).
- **a dotted name** (``arb.sweep.grid``, ``Engine._run``, ``repo.implied_positions``, ``fills.ts``): ``arb.``
  names a module and attributes under it; ``Class.member`` a class defined in arb/ with that member (its own
  or a base class's); ``module.name`` a module of arb/ whose dotted path ends so (``repo`` is
  ``arb.store.repo``, ``detection.core`` is ``arb.detection.core``) that defines it, or a package's module;
  ``table.column`` a column of the store's models; a standard-library module's attribute (``asyncio.sleep``).
  File names of the data a run writes (``arb.db``, ``arb.db.lock``, ``x.jsonl.gz``) and venue wire names
  (:data:`WIRE_PREFIXES`) are not code.
- **a class-like word** (``RunView``: CamelCase) or **a call** (``snapshot()``): defined in arb/ (a class,
  function, method or module-level name) or a builtin; the few that are other projects' are
  :data:`FOREIGN` with where they come from.

Everything else (shell commands, SQL, TOML, config keys and values, numbers, formulas: anything with a space
or an operator) is left alone. An index built from arb/'s syntax trees answers "is it defined": nothing is
imported, so a doc cannot pass by a name that only exists at run time.
"""

from __future__ import annotations

import ast
import builtins
import importlib.util
import os
import re
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

PATH_SUFFIXES = (".py", ".toml", ".md", ".ipynb", ".sh", ".ini")
DATA_SUFFIXES = {"db", "lock", "jsonl", "gz", "json", "csv", "log", "kill", "txt", "png", "wal", "shm"}
# Files the docs show a user writing or passing, not files of this repository.
USER_FILES = {
    "ranges.toml": "the optimiser's ranges, a file the README shows a user writing",
    "grid.toml": "a sweep's grid, a file the README shows a user writing",
    "other.toml": "`bash run.sh --config other.toml`: any config of the user's",
    "live.toml": "the config \"A first live day\" shows a user making from config.toml",
}
# Names of the venues' protocols (WebSocket channels, API methods), not arb's code.
WIRE_PREFIXES = ("spot.", "futures.", "userDataStream.")
FOREIGN = {
    "IntpOrderLatency": "hftbacktest's latency model, set against arb's profiles",
    "ProbQueueModel": "hftbacktest's queue model, which arb's power and log models follow",
    "rate()": "PromQL's rate(), applied to a counter",
    "cursor.lastrowid": "the DB-API cursor's attribute",
}
SKIP_DIRS = {".git", ".venv", "__pycache__", "node_modules", ".pytest_cache", ".ruff_cache", ".mypy_cache"}
SYMBOL = re.compile(r"[A-Z0-9]+/[A-Z0-9]+(:[A-Z0-9]+)?")
DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+(\(\))?")
CAMEL = re.compile(r"[A-Z][a-z0-9]+[A-Z]\w*")
CALL = re.compile(r"[A-Za-z_]\w*\(\)")


# ------------------------------------------------------------------------------------------------ the index


@dataclass
class Index:
    """What arb/ defines, from its syntax trees: modules by dotted name, each module's top-level names,
    every class's members and bases, and every name defined anywhere (classes, functions, methods)."""

    root: Path
    modules: dict[str, Path] = field(default_factory=dict)  # "arb.store.repo" -> file (or package dir)
    top: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # module -> its names
    classes: dict[str, list[tuple[set[str], list[str]]]] = field(default_factory=lambda: defaultdict(list))
    defined: set[str] = field(default_factory=set)
    files: set[str] = field(default_factory=set)  # every file's and directory's name in the tree
    columns: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, root: Path) -> Index:
        index = cls(root)
        for _directory, dirs, names in os.walk(root):
            dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
            index.files.update(names)
            index.files.update(d + "/" for d in dirs)
        for path in sorted((root / "arb").rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            index.modules[module] = path
            tree = ast.parse(path.read_text(encoding="utf-8"))
            index._read(module, tree)
        for package in {m.rsplit(".", 1)[0] for m in index.modules if "." in m}:
            index.modules.setdefault(package, root / package.replace(".", "/"))
        index.columns = _columns(root / "arb" / "store" / "models.py")
        return index

    def _read(self, module: str, tree: ast.Module) -> None:
        for node in tree.body:
            self.top[module].update(_names(node, imports=True))  # what `module.name` may name: re-exports too
            self.defined.update(_names(node))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                members = {n for child in node.body for n in _names(child)}
                bases = [b.id if isinstance(b, ast.Name) else b.attr for b in node.bases
                         if isinstance(b, (ast.Name, ast.Attribute))]
                self.classes[node.name].append((members, bases))
                self.defined.add(node.name)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.defined.add(node.name)
                for sub in ast.walk(node):  # self.x = ... in a method: an instance attribute
                    if (isinstance(sub, (ast.Assign, ast.AnnAssign)) and node.args.args
                            and node.args.args[0].arg == "self"):
                        for target in (sub.targets if isinstance(sub, ast.Assign) else [sub.target]):
                            if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                                    and target.value.id == "self"):
                                self.defined.add(target.attr)

    def member(self, cls_name: str, attr: str, seen: frozenset[str] = frozenset()) -> bool:
        """Whether a class named ``cls_name`` in arb/ has ``attr``, itself or through a base class."""
        if cls_name in seen:
            return False
        for members, bases in self.classes.get(cls_name, []):
            if attr in members or any(self.member(b, attr, seen | {cls_name}) for b in bases):
                return True
        return False

    def attr_chain(self, module: str, attrs: list[str]) -> bool:
        """``module`` defines ``attrs[0]`` (a name, or a submodule), and each later one is a member of the
        class before it."""
        if not attrs:
            return module in self.modules
        first, rest = attrs[0], attrs[1:]
        if f"{module}.{first}" in self.modules:
            return self.attr_chain(f"{module}.{first}", rest)
        if first not in self.top.get(module, set()):
            return False
        owner = first
        for attr in rest:
            if not self.member(owner, attr):
                return False
            owner = attr
        return True


def _names(node: ast.stmt, *, imports: bool = False) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)] + [
            e.id for t in node.targets if isinstance(t, ast.Tuple) for e in t.elts if isinstance(e, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    if isinstance(node, (ast.Import, ast.ImportFrom)) and imports:  # a name a module re-exports
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    if isinstance(node, (ast.If, ast.Try)):
        return [n for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt)
                for n in _names(child, imports=imports)]
    return []


def _columns(models: Path) -> dict[str, set[str]]:
    """Table -> columns, from the models' ``__tablename__`` and their mapped attributes."""
    tables: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(models.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ClassDef):
            continue
        names = {n for child in node.body for n in _names(child)}
        for child in node.body:
            if (isinstance(child, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__tablename__"
                                                      for t in child.targets)
                    and isinstance(child.value, ast.Constant)):
                tables[child.value.value] = names
    return tables


# ---------------------------------------------------------------------------------------------- the checker


def tokens(markdown: str) -> list[tuple[int, str]]:
    """Each backticked token outside fenced blocks, with its line number."""
    found: list[tuple[int, str]] = []
    fenced = False
    for number, line in enumerate(markdown.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            found += [(number, t) for t in re.findall(r"`([^`\n]+)`", line)]
    # a backticked token broken over two lines is two halves the pattern above never sees: join them
    joined = re.sub(r"^```.*?^```", "", markdown, flags=re.M | re.S)
    for m in re.finditer(r"`([^`\n]+\n[^`\n]+)`", joined):
        found.append((joined[:m.start()].count("\n") + 1, " ".join(m[1].split())))
    return found


def problem(token: str, index: Index) -> str | None:
    """Why ``token`` names nothing, or None (it exists, or it is not a name the checker checks)."""
    token = token.strip()
    if token in FOREIGN or token in USER_FILES:
        return None
    bare = re.sub(r"<\w+>", "", token)  # a placeholder (`arb/venues/<name>/`) is not an operator
    if " " in token or "://" in token or any(c in bare for c in "=?{}[]\"'|*@#,;<>+!$%^&~\\"):
        return None
    if "/" in token or token.endswith(PATH_SUFFIXES):
        return _path_problem(token, index)
    if DOTTED.fullmatch(token):
        return _dotted_problem(token.removesuffix("()"), index)
    if CAMEL.fullmatch(token) or CALL.fullmatch(token):
        name = token.removesuffix("()")
        if name in index.defined or hasattr(builtins, name):
            return None
        return f"{name} is defined nowhere in arb/"
    return None


def _path_problem(token: str, index: Index) -> str | None:
    if token.startswith(("/", ".venv/", "~")) or SYMBOL.fullmatch(token) or any(c in token for c in " :"):
        return None  # absolute (endpoints, system files), set-up's venv, a market symbol, venue:market forms
    if "<" in token and not re.fullmatch(r"[\w./-]*(<\w+>[\w./-]*)+", token):
        return None
    head, _, tail = token.rstrip("/").rpartition("/")
    if "." in tail and not tail.endswith(PATH_SUFFIXES) and tail.rsplit(".", 1)[1] not in DATA_SUFFIXES:
        module, *attrs = tail.split(".")  # runtime/feeds.market_source: a module and its attribute
        dotted = ".".join(["arb", *head.split("/"), module]) if head else f"arb.{module}"
        dotted = dotted.replace("arb.arb.", "arb.")
        if not index.attr_chain(dotted, attrs):
            return f"{token}: no {'.'.join(attrs)} in {dotted}" if dotted in index.modules else \
                f"{token}: no module {dotted}"
        return None
    if _ignored(token):
        return None  # an output the README's commands write (runs/), which git ignores: not a source
    pattern = re.sub(r"<\w+>", "*", token.rstrip("/"))
    want_dir = token.endswith("/")
    if "/" not in token.rstrip("/"):  # a bare name: somewhere in the tree
        if ("<" in token) or (token in index.files) or (not want_dir and token + "/" in index.files):
            return None
        return f"{token}: no such file or directory anywhere in the repository"
    for base in (index.root, index.root / "arb"):
        for hit in base.glob(pattern) if "*" in pattern else [base / pattern]:
            if hit.exists() and (hit.is_dir() or not want_dir):
                return None
    return f"{token}: not in the repository (looked under ./ and arb/)"


def _ignored(token: str) -> bool:
    """Whether git ignores ``token`` at the repository root (``.gitignore``: outputs, not sources)."""
    done = subprocess.run(["git", "check-ignore", "-q", "--no-index", token], cwd=ROOT, capture_output=True)
    return done.returncode == 0


def _dotted_problem(token: str, index: Index) -> str | None:
    parts = token.split(".")
    if parts[-1] in DATA_SUFFIXES or token.startswith(WIRE_PREFIXES):
        return None  # a data file's name (arb.db.lock), a venue's channel
    if parts[0] == "arb":
        for cut in range(len(parts), 0, -1):
            if ".".join(parts[:cut]) in index.modules:
                return None if index.attr_chain(".".join(parts[:cut]), parts[cut:]) else \
                    f"{token}: {'.'.join(parts[:cut])} has no {'.'.join(parts[cut:])}"
        return f"{token}: no such module"
    if parts[0] in index.classes:  # Class.member[.member]
        owner = parts[0]
        for attr in parts[1:]:
            if not index.member(owner, attr):
                return f"{token}: {owner} has no {attr}"
            owner = attr
        return None
    # module.name: an arb module whose dotted path ends with the leading parts
    for cut in range(len(parts) - 1, 0, -1):
        suffix = "." + ".".join(parts[:cut])
        for module in index.modules:
            if ("." + module).endswith(suffix) and index.attr_chain(module, parts[cut:]):
                return None
    if parts[0] in index.columns and len(parts) == 2 and parts[1] in index.columns[parts[0]]:
        return None
    if importlib.util.find_spec(parts[0]) is not None and parts[0] not in ("arb", "tests"):
        try:
            obj = importlib.import_module(parts[0])
            for attr in parts[1:]:
                obj = getattr(obj, attr)
            return None
        except (ImportError, AttributeError):
            return f"{token}: {parts[0]} has no {'.'.join(parts[1:])}"
    if parts[0][:1].isupper():
        return f"{token}: no class {parts[0]} in arb/"
    return f"{token}: names no arb module, class, table column or library attribute"


def check(markdown: str, index: Index) -> list[str]:
    return [f"line {n}: {p}" for n, t in tokens(markdown) if (p := problem(t, index))]


@pytest.fixture(scope="module")
def index() -> Index:
    return Index.build(ROOT)


# ------------------------------------------------------------------------------------------------ the tests


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_name_the_docs_give_exists(doc: Path, index: Index) -> None:
    problems = check(doc.read_text(encoding="utf-8"), index)
    assert not problems, f"{doc.name} names what is not there:\n" + "\n".join(problems)


def test_the_checker_catches_a_renamed_path_module_class_and_function(index: Index) -> None:
    """The same names as the docs give, and each renamed: every rename is caught, nothing else is."""
    good = ("`arb/store/lease.py`, `store/lease.py`, `lease.py`, `arb/venues/sim/`, `arb.sweep.grid`, "
            "`detection/record.py`, `Engine._take_closing_books`, `repo.implied_positions`, `RunView.snapshot()`, "
            "`runtime/feeds.market_source`, `fills.ts`, `asyncio.sleep`, `BookStore`, `snapshot()`, "
            "`tests/venues/<name>/`, `notebooks/replay_study.ipynb`, `config.toml`")
    assert check(good, index) == []
    renamed = {
        "`arb/store/leases.py`": "not in the repository",
        "`store/leasing.py`": "not in the repository",
        "`leasing.py`": "anywhere in the repository",
        "`arb/venues/simulated/`": "not in the repository",
        "`arb.sweep.grids`": "arb.sweep has no grids",
        "`detection/selection.py`": "not in the repository",
        "`Engine._take_closing_book`": "Engine has no _take_closing_book",
        "`repo.implied_position`": "names no arb module",
        "`RunView.snapshots()`": "RunView has no snapshots",
        "`runtime/feeds.market_sources`": "no market_sources in arb.runtime.feeds",
        "`runtime/feed.market_source`": "no module arb.runtime.feed",
        "`fills.timestamp`": "names no arb module",
        "`asyncio.sleeps`": "asyncio has no sleeps",
        "`BookStores`": "defined nowhere",
        "`snapshots()`": "defined nowhere",
        "`Engines.run`": "no class Engines",
        "`notebooks/replay-study.ipynb`": "not in the repository",
        "`configs.toml`": "anywhere in the repository",
    }
    for planted, why in renamed.items():
        [found] = check(f"A newcomer reads {planted} here.", index)
        assert why in found, (planted, found)
    # Left alone: commands, SQL, config values, symbols, endpoints, numbers, formulas, user files.
    alone = ("`arb run --config x.toml`, `SELECT * FROM runs`, `min_edge_bps = 0.5`, `BTC/USDT`, `/spot/orders`, "
             "`0.5`, `notional / leverage`, `sqlite:///arb.db`, `arb.db.lock`, `ranges.toml`, `spot.usertrades`, "
             "`.venv/bin/arb`, `/dev/zero`, `taker_fee`")
    assert check(alone, index) == []
