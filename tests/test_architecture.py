"""The package's import graph keeps the layering of ARCHITECTURE.md; read with ``ast``.

:data:`PACKAGES` is the table: every package (and root module) of ``pytest_nectar``, the layer
it sits in, and the few modules that sit in another layer than their package.  Layers import
downward only; nothing imports in a cycle; evaluation never imports simulation or a front end.
Every import counts, wherever it is written: at module level, inside a function (a lazy import
hides a dependency from start-up time, not from the design), under ``TYPE_CHECKING``, and
``importlib.import_module`` / ``__import__`` of a string literal.

1. model and errors: the standard library only.
2. parsing and the corpus: the policy parsers, printer and checker, the corpus, Refinery's
   rules file (YAML, model, reader, validation, warnings, writer, values, Go regexps, gjson
   paths, router metadata), TRACE JSON (``trace_json``), the project configuration and the
   lockfile.
3. Refinery evaluation and compilation.  The compiler sits here, not with the reports: every
   verdict is computed on the *compiled* rules, so the prover and VOPR consume its output;
   compilation is a pure model-to-model transformation over layer 2.
4. the prover and the simulator (VOPR), side by side: neither imports the other.
5. what a project writes and explains: project outputs and rules import, reports, Claude.
6. the project session: settings, policies, corpus and expectations resolved and evaluated
   once for every front end (Claude's verification of a proposal reads it too).
7. front ends: the pytest plugin, the CLI, the GitHub annotations.

A package's ``__init__`` runs before any of its modules, so it sits in the lowest layer of
its modules.  The package root is the public facade (PEP 562): it imports nothing at run time,
so other modules may take ``__version__`` from it and nothing else.  The checker itself is
tested on planted package trees (an upward import, a cycle, an ``importlib`` literal).
"""

from __future__ import annotations

import ast
import fnmatch
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from itertools import pairwise
from pathlib import Path
from typing import Final

import pytest

PACKAGE: Final = "pytest_nectar"
PACKAGE_DIR: Final = Path(__file__).resolve().parents[1] / PACKAGE
ARCHITECTURE_MD: Final = PACKAGE_DIR.parent / "ARCHITECTURE.md"

LAYERS: Final[dict[int, str]] = {
    1: "model and errors",
    2: "parsing and the corpus",
    3: "Refinery evaluation and compilation",
    4: "prover and simulation",
    5: "project outputs, reports and the Claude client",
    6: "project session",
    7: "front ends",
}
FRONT_ENDS: Final = 7


@dataclass(frozen=True)
class Placement:
    """Where a package sits: its layer, and module patterns (relative to the package,
    fnmatch) that sit in another layer."""

    layer: int
    modules: Mapping[str, int] = field(default_factory=dict)


#: Every package and root module of the package, and its layer.
PACKAGES: Final[dict[str, Placement]] = {
    "errors": Placement(1),
    "escape": Placement(1),
    "trace": Placement(1),
    "fileio": Placement(1),
    "limits": Placement(1),
    "trace_json": Placement(2),
    "policy": Placement(2, {"model": 1, "aliases": 1, "interpreter": 3}),
    "corpus": Placement(2),
    "refinery": Placement(
        3,
        {"values": 2, "regex": 2, "yaml_loader": 2, "rules_*": 2, "gjson*": 2, "metadata": 2},
    ),
    "compiler": Placement(3, {"lockfile": 2, "outputs": 5, "importer": 5, "deployed": 5}),
    "prover": Placement(4),
    "vopr": Placement(4),
    "synth": Placement(4),
    "report": Placement(5),
    "claude": Placement(5, {"verify": 6, "change": 6, "project": 6}),
    "project": Placement(6, {"config": 2, "settings": 2}),
    "github": Placement(7),
    "pytest_plugin": Placement(7),
    "cli": Placement(7),
    "__main__": Placement(7),
}
#: Evaluation decides; simulation and front ends build on it, never the other way round.
EVALUATION: Final = ("refinery", "prover")
NOT_FROM_EVALUATION: Final = ("vopr", "pytest_plugin", "cli", "github", "__main__")

#: Third-party modules too slow to import when pytest loads the plugin or the CLI starts.
HEAVY: Final = frozenset(
    {"numpy", "lark", "yaml", "re2", "anthropic", "matplotlib", "rich", "randomgen", "ruamel"}
)
#: Module-level import closures that must stay free of HEAVY modules.
LIGHT_ENTRY_POINTS: Final = (
    "pytest_nectar",
    "pytest_nectar.pytest_plugin.hooks",
    "pytest_nectar.cli",
)
#: Third-party module -> the only package part allowed to import it.
CONFINED: Final = {"anthropic": "claude", "httpx": "claude", "httpx2": "claude"}
CONFINED_REPORT: Final = {"matplotlib": "report"}


# --- reading the import graph --------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    """One import's target, as the importing module sees it."""

    target: str  # dotted module name (internal: resolved to the module or package imported)
    names: tuple[str, ...]  # for ``from pkg import a, b``: the names taken when not modules
    line: int
    module_level: bool  # executed when the importing module is imported
    type_checking: bool  # under ``if TYPE_CHECKING:``
    package: str = PACKAGE

    @property
    def internal(self) -> bool:
        return self.target == self.package or self.target.startswith(self.package + ".")

    @property
    def top(self) -> str:
        return self.target.split(".")[0]


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool
    imports: tuple[Import, ...]
    tree: ast.Module = field(compare=False, repr=False)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _base(module: str, is_package: bool, level: int) -> list[str]:
    base = module.split(".") if is_package else module.split(".")[:-1]
    return base[: len(base) - (level - 1)]


def _literal_import(call: ast.Call, module: str, is_package: bool) -> str | None:
    """The module named by ``importlib.import_module("…")`` or ``__import__("…")``."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name not in ("import_module", "__import__") or not call.args:
        return None
    arg = call.args[0]
    if not isinstance(arg, ast.Constant) or not isinstance(arg.value, str):
        return None
    text = arg.value
    level = len(text) - len(text.lstrip("."))
    if not level:
        return text
    rest = text[level:]
    return ".".join([*_base(module, is_package, level), *([rest] if rest else [])])


def _scan(
    name: str, is_package: bool, tree: ast.Module, names: set[str], package: str
) -> tuple[Import, ...]:
    found: list[Import] = []

    def add(target: str, plain: tuple[str, ...], node: ast.AST, ml: bool, tc: bool) -> None:
        found.append(Import(target, plain, getattr(node, "lineno", 0), ml, tc, package))

    def visit(node: ast.AST, ml: bool, tc: bool) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, (), node, ml, tc)
            return
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = _base(name, is_package, node.level)
                target = ".".join([*parts, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            plain = tuple(a.name for a in node.names if f"{target}.{a.name}" not in names)
            for alias in node.names:
                if f"{target}.{alias.name}" in names:
                    add(f"{target}.{alias.name}", (), node, ml, tc)
            if plain:
                add(target, plain, node, ml, tc)
            return
        if isinstance(node, ast.Call):
            literal = _literal_import(node, name, is_package)
            if literal is not None:
                add(literal, (), node, ml, tc)
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for stmt in node.body:
                visit(stmt, ml, True)
            for stmt in node.orelse:
                visit(stmt, ml, tc)
            return
        inner = ml and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            visit(child, inner, tc)

    visit(tree, True, False)
    return tuple(found)


@dataclass(frozen=True)
class Architecture:
    """A package tree checked against a layer table (the real one, or a planted one)."""

    package: str
    root: Path  # the package's directory
    packages: Mapping[str, Placement]
    layers: Mapping[int, str]

    @cached_property
    def modules(self) -> dict[str, Module]:
        paths = sorted(self.root.rglob("*.py"))
        named = {self._name(p): p for p in paths}
        found: dict[str, Module] = {}
        for name, path in named.items():
            is_package = path.name == "__init__.py"
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            imports = _scan(name, is_package, tree, set(named), self.package)
            found[name] = Module(name, path, is_package, imports, tree)
        return found

    def _name(self, path: Path) -> str:
        parts = list(path.relative_to(self.root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        return ".".join(parts)

    def relative(self, name: str) -> str:
        return name.removeprefix(self.package).removeprefix(".")

    def where(self, module: Module, imp: Import) -> str:
        return f"{module.path.relative_to(self.root.parent)}:{imp.line}"

    def describe(self, layer: int) -> str:
        return f"layer {layer} ({self.layers[layer]})"

    def _own_layer(self, rel: str) -> int:
        top, _, inner = rel.partition(".")
        placement = self.packages[top]
        hits = [
            n for pattern, n in placement.modules.items() if fnmatch.fnmatchcase(inner, pattern)
        ]
        if len(hits) > 1:
            raise LookupError(f"{rel} matches {len(hits)} module patterns of {top!r}")
        return hits[0] if hits else placement.layer

    def layer_of(self, name: str) -> int:
        """A module's layer; a package's ``__init__`` sits in its lowest module's layer; the
        facade (the package root) is 0: it is checked on its own."""
        rel = self.relative(name)
        if rel == "":
            return 0
        layer = self._own_layer(rel)
        if self.modules[name].is_package:
            below = [
                self._own_layer(self.relative(n)) for n in self.modules if n.startswith(name + ".")
            ]
            layer = min([layer, *below])
        return layer

    def edges(self) -> Iterator[tuple[Module, Import]]:
        for module in self.modules.values():
            for imp in module.imports:
                if imp.internal and imp.target in self.modules and imp.target != module.name:
                    yield module, imp

    def upward_imports(self) -> list[str]:
        problems = []
        for module, imp in self.edges():
            if module.name == self.package:
                continue  # the facade: see test_the_facade_imports_nothing_at_run_time
            if imp.target == self.package and set(imp.names) - {"__version__"}:
                problems.append(
                    f"{self.where(module, imp)}: takes {imp.names} from the facade; "
                    "import from the defining module"
                )
            own, target = self.layer_of(module.name), self.layer_of(imp.target)
            if target > own:
                problems.append(
                    f"{self.where(module, imp)}: {module.name}, {self.describe(own)}, imports "
                    f"{imp.target}, {self.describe(target)}"
                )
        return problems

    def cycles(self) -> list[str]:
        """Each strongly connected set of modules, as one cycle through it with its lines."""
        graph: dict[str, dict[str, str]] = {n: {} for n in self.modules}
        for module, imp in self.edges():
            graph[module.name].setdefault(imp.target, self.where(module, imp))
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        found: list[list[str]] = []

        def connect(v: str) -> None:
            index[v] = low[v] = len(index)
            stack.append(v)
            on_stack.add(v)
            for w in sorted(graph[v]):
                if w not in index:
                    connect(w)
                    low[v] = min(low[v], low[w])
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

        for v in sorted(graph):
            if v not in index:
                connect(v)
        return [self._one_cycle(sorted(c), graph) for c in sorted(found)]

    @staticmethod
    def _one_cycle(component: list[str], graph: dict[str, dict[str, str]]) -> str:
        """The shortest cycle through the component's first module, with each import's line."""
        start, inside = component[0], set(component)
        back: dict[str, str | None] = {start: None}
        queue = [start]
        for v in queue:  # breadth first: the queue grows while it is read
            for w in sorted(graph[v]):
                if w == start:
                    path = [v]
                    while (up := back[path[-1]]) is not None:
                        path.append(up)
                    path = [*reversed(path), start]
                    lines = ", ".join(graph[x][y] for x, y in pairwise(path))
                    return f"cycle: {' -> '.join(path)} ({lines})"
                if w in inside and w not in back:
                    back[w] = v
                    queue.append(w)
        raise AssertionError(f"no cycle through {start} in {component}")

    def forbidden_imports(self, sources: tuple[str, ...], targets: tuple[str, ...]) -> list[str]:
        def within(name: str, tops: tuple[str, ...]) -> bool:
            return self.relative(name).partition(".")[0] in tops

        return [
            f"{self.where(module, imp)}: {module.name} imports {imp.target}"
            for module, imp in self.edges()
            if within(module.name, sources) and within(imp.target, targets)
        ]


@cache
def nectar() -> Architecture:
    return Architecture(PACKAGE, PACKAGE_DIR, PACKAGES, LAYERS)


def modules() -> dict[str, Module]:
    return nectar().modules


def layer_of(name: str) -> int:
    return nectar().layer_of(name)


def _where(module: Module, imp: Import) -> str:
    return nectar().where(module, imp)


# --- the table -------------------------------------------------------------------------------


def _top_level(root: Path) -> set[str]:
    files = {p.stem for p in root.glob("*.py") if p.name != "__init__.py"}
    return files | {p.name for p in root.iterdir() if (p / "__init__.py").is_file()}


def test_every_package_has_a_layer_and_every_row_a_package() -> None:
    assert _top_level(PACKAGE_DIR) == set(PACKAGES)
    assert {p.layer for p in PACKAGES.values()} <= set(LAYERS)


def test_every_module_pattern_names_a_module_in_one_way() -> None:
    rels = [nectar().relative(n) for n in modules()]
    stale = [
        f"{top}.{pattern}"
        for top, placement in PACKAGES.items()
        for pattern in placement.modules
        if not any(fnmatch.fnmatchcase(r, f"{top}.{pattern}") for r in rels)
    ]
    assert stale == []
    for name in modules():
        layer_of(name)  # raises when a module matches two patterns


def test_every_internal_import_names_a_real_module() -> None:
    problems = [
        f"{_where(m, imp)}: {imp.target} is not a module of the package"
        for m in modules().values()
        for imp in m.imports
        if imp.internal and imp.target not in modules()
    ]
    assert problems == []


def _code_map() -> dict[str, tuple[int, str]]:
    """ARCHITECTURE.md's code map: per package named there, its layer section and title."""
    found: dict[str, tuple[int, str]] = {}
    layer, title = 0, ""
    for line in ARCHITECTURE_MD.read_text(encoding="utf-8").splitlines():
        if heading := re.fullmatch(r"### (\d+)\. (.+)", line):
            layer, title = int(heading[1]), heading[2]
        elif entry := re.match(r"- `([\w.]+?)(/|\.py)`", line):
            assert entry[1] not in found, f"{entry[1]} is named twice in ARCHITECTURE.md"
            found[entry[1]] = (layer, title)
    return found


def test_architecture_md_names_every_package_in_its_layer() -> None:
    """Every package named in ARCHITECTURE.md exists and every package is named there, in
    the section of the layer the table gives it."""
    code_map = _code_map()
    assert set(code_map) == _top_level(PACKAGE_DIR)
    for name, (layer, title) in code_map.items():
        assert layer == PACKAGES[name].layer, f"{name}: ARCHITECTURE.md says layer {layer}"
        assert title.lower() == LAYERS[layer].lower(), f"layer {layer} is {LAYERS[layer]!r}"


# --- the rules ------------------------------------------------------------------------------


def test_layers_import_downward_only() -> None:
    assert nectar().upward_imports() == []


def test_no_import_cycles() -> None:
    assert nectar().cycles() == []


def test_evaluation_imports_no_simulation_or_front_end() -> None:
    assert nectar().forbidden_imports(EVALUATION, NOT_FROM_EVALUATION) == []


def test_the_facade_imports_nothing_at_run_time() -> None:
    facade = modules()[PACKAGE]
    runtime = [imp.target for imp in facade.imports if imp.internal and not imp.type_checking]
    assert runtime == []


def test_layer_one_uses_the_standard_library_only() -> None:
    allowed = set(sys.stdlib_module_names) | {"__future__"}
    problems = [
        f"{_where(m, imp)}: {imp.target}"
        for m in modules().values()
        if layer_of(m.name) == 1 and m.name != PACKAGE
        for imp in m.imports
        if not imp.internal and imp.top not in allowed
    ]
    assert problems == []


def test_only_front_ends_import_pytest() -> None:
    problems = [
        f"{_where(m, imp)}: {m.name} imports {imp.target}"
        for m in modules().values()
        if layer_of(m.name) != FRONT_ENDS
        for imp in m.imports
        if imp.top in {"pytest", "_pytest"}
    ]
    assert problems == []


def test_clients_of_anthropic_and_matplotlib_are_confined() -> None:
    confined = {**CONFINED, **CONFINED_REPORT}
    problems = []
    for m in modules().values():
        for imp in m.imports:
            home = confined.get(imp.top)
            if home is not None and not m.name.startswith(f"{PACKAGE}.{home}."):
                problems.append(f"{_where(m, imp)}: {imp.target} outside {PACKAGE}.{home}")
    assert problems == []


def _parents(name: str) -> list[str]:
    """The packages Python imports before ``name`` (``a.b.c`` imports ``a`` and ``a.b``)."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def test_entry_points_import_no_heavy_module_at_start_up() -> None:
    """What pytest (plugin entry point) and ``nectar`` execute before any command runs."""
    problems = []
    for entry in LIGHT_ENTRY_POINTS:
        chain: dict[str, str | None] = {entry: None}
        todo = [entry]
        while todo:
            name = todo.pop()
            module = modules()[name]
            for imp in module.imports:
                if not imp.module_level or imp.type_checking:
                    continue
                if imp.top in HEAVY:
                    path = [name]
                    while (up := chain[path[-1]]) is not None:
                        path.append(up)
                    via = " <- ".join(path)
                    problems.append(f"{_where(module, imp)}: {imp.target} (via {via})")
                if imp.internal and imp.target in modules():
                    for reached in [*_parents(imp.target), imp.target]:
                        if reached not in chain:
                            chain[reached] = name
                            todo.append(reached)
    assert problems == []


def test_every_module_starts_with_future_annotations() -> None:
    missing = []
    for m in modules().values():
        code = [
            n
            for n in m.tree.body
            if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
        ]
        first = code[0] if code else None
        ok = first is None or (
            isinstance(first, ast.ImportFrom)
            and first.module == "__future__"
            and [a.name for a in first.names] == ["annotations"]
        )
        if not ok:
            missing.append(str(m.path.relative_to(PACKAGE_DIR.parent)))
    assert missing == []


def test_the_checker_sees_lazy_and_type_checking_imports() -> None:
    """The graph is only as good as its parser: pin what it reads from known modules."""
    engine = modules()[f"{PACKAGE}.prover.engine"]
    lazy = {i.target for i in engine.imports if not i.module_level}
    assert f"{PACKAGE}.compiler.compile" in lazy  # inside load_target
    explain = modules()[f"{PACKAGE}.cli.explain"]
    assert any(
        i.type_checking and i.target == f"{PACKAGE}.project.session" for i in explain.imports
    )
    assert layer_of(f"{PACKAGE}.compiler.compile") == 3
    assert layer_of(f"{PACKAGE}.compiler") == 2  # its lockfile sits in layer 2
    assert layer_of(f"{PACKAGE}.refinery.samplers") == 3
    assert layer_of(f"{PACKAGE}.pytest_plugin.session") == FRONT_ENDS


# --- the checker fails when it should: planted package trees ---------------------------------

TOY_LAYERS: Final = {1: "bottom", 2: "middle", 3: "top"}
TOY: Final = {
    "low": Placement(1),
    "mid": Placement(2, {"base": 1}),
    "high": Placement(3),
    "evaluation": Placement(2),
    "simulation": Placement(2),
}
#: The ways one module can import ``toy.mid.core`` (from inside package ``toy.low``).
IMPORT_FORMS: Final = {
    "module level": "import toy.mid.core\n",
    "from": "from toy.mid import core\n",
    "relative": "from ..mid import core\n",
    "lazy": "def f():\n    from toy.mid import core\n    return core\n",
    "type checking": (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import toy.mid.core\n"
    ),
    "importlib literal": (
        "import importlib\ndef f():\n    return importlib.import_module('toy.mid.core')\n"
    ),
    "importlib relative": (
        "import importlib\nm = importlib.import_module('..mid.core', __package__)\n"
    ),
    "__import__": "x = __import__('toy.mid.core')\n",
}


def _plant(tmp_path: Path, files: Mapping[str, str]) -> Architecture:
    root = tmp_path / "toy"
    tree = {"__init__.py": "", "low/__init__.py": "", "mid/__init__.py": "", "high/__init__.py": ""}
    tree |= {"evaluation/__init__.py": "", "simulation/__init__.py": ""}
    for rel, text in {**tree, **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return Architecture("toy", root, TOY, TOY_LAYERS)


@pytest.mark.parametrize("form", IMPORT_FORMS)
def test_checker_reports_an_upward_import(tmp_path: Path, form: str) -> None:
    arch = _plant(tmp_path, {"low/user.py": IMPORT_FORMS[form], "mid/core.py": ""})
    (problem,) = arch.upward_imports()
    assert re.fullmatch(
        r"toy/low/user\.py:\d+: toy\.low\.user, layer 1 \(bottom\), imports toy\.mid\.core, "
        r"layer 2 \(middle\)",
        problem,
    ), problem


@pytest.mark.parametrize("form", IMPORT_FORMS)
def test_checker_reports_a_cycle(tmp_path: Path, form: str) -> None:
    # Both in layer 2 (no upward import): core imports user, user imports core.
    arch = _plant(
        tmp_path,
        {
            "mid/user.py": IMPORT_FORMS[form].replace("..mid.", ".").replace("..mid", "."),
            "mid/core.py": "from toy.mid import user\n",
        },
    )
    assert arch.upward_imports() == []
    (cycle,) = arch.cycles()
    assert cycle.startswith(
        "cycle: toy.mid.core -> toy.mid.user -> toy.mid.core (toy/mid/core.py:1, toy/mid/user.py:"
    ), cycle


def test_checker_reports_a_longer_cycle_through_packages(tmp_path: Path) -> None:
    arch = _plant(
        tmp_path,
        {
            "high/a.py": "from toy.high import b\n",
            "high/b.py": "def f():\n    import toy.high.c\n",
            "high/c.py": "import importlib\nimportlib.import_module('toy.high.a')\n",
        },
    )
    assert arch.cycles() == [
        "cycle: toy.high.a -> toy.high.b -> toy.high.c -> toy.high.a "
        "(toy/high/a.py:1, toy/high/b.py:2, toy/high/c.py:2)"
    ]


def test_checker_reports_a_package_init_that_imports_above_its_lowest_module(
    tmp_path: Path,
) -> None:
    # mid.base sits in layer 1, so mid/__init__ does too: it may not pull in mid.core (2).
    arch = _plant(
        tmp_path, {"mid/__init__.py": "from . import core\n", "mid/base.py": "", "mid/core.py": ""}
    )
    assert arch.layer_of("toy.mid") == 1
    assert [p.split(": ", 1)[1] for p in arch.upward_imports()] == [
        "toy.mid, layer 1 (bottom), imports toy.mid.core, layer 2 (middle)"
    ]


def test_checker_reports_evaluation_importing_simulation(tmp_path: Path) -> None:
    # Same layer, so only the evaluation rule catches it.
    arch = _plant(
        tmp_path,
        {
            "evaluation/rules.py": "def f():\n    import toy.simulation.run\n",
            "simulation/run.py": "",
        },
    )
    assert arch.upward_imports() == [] and arch.cycles() == []
    assert arch.forbidden_imports(("evaluation",), ("simulation",)) == [
        "toy/evaluation/rules.py:2: toy.evaluation.rules imports toy.simulation.run"
    ]


def test_checker_accepts_a_clean_tree(tmp_path: Path) -> None:
    arch = _plant(
        tmp_path,
        {
            "low/a.py": "",
            "mid/core.py": "from toy.low import a\nimport importlib\nimportlib.import_module(x)\n",
            "high/top.py": "from toy.mid import core\nfrom ..low import a\n",
        },
    )
    assert arch.upward_imports() == [] and arch.cycles() == []
    assert arch.forbidden_imports(("evaluation",), ("simulation",)) == []
