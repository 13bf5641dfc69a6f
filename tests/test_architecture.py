"""The package's import graph keeps the guide's layering; read with ``ast``, nothing imported.

Layers import downward only (docs: guide.md, Style).  A module may import its own layer or
any layer below, at module level, inside a function or under ``TYPE_CHECKING`` alike: a
lazy import hides a dependency from start-up time, not from the design.  A package groups
one concept, so its modules may sit in different layers (``policy.model`` in 1,
``policy.parser`` in 2, ``policy.interpreter`` in 3); the table names each module.

1. model and errors: the standard library only (``errors``, ``trace``, ``fileio``, the
   policy model and its aliases).
2. parsing and the corpus: the policy and match parsers, printer and checker, the corpus,
   Refinery's rules file (YAML, model, reader, validation, warnings, writer, values, Go
   regexps), the project config and the lockfile.
3. evaluation, compilation, the prover and simulation.  The compiler sits here, not with
   the reports: the north star is that every verdict is computed on the *compiled* rules,
   so the prover and VOPR consume the compiler's output.  Compilation is a pure
   model-to-model transformation over layer 2 (it imports nothing above it), so this is
   where it belongs, not a convenience.  So does reading "a rules file or a policy"
   (``compiler.compile.load_rules_or_policy``), which the prover and the commands both need.
   The synthetic corpus generator (``synth``) sits here too, beside VOPR: it reuses VOPR's
   seeded streams and what VOPR learns from a corpus.
4. project compilation (``compiler.outputs``), the importer, reports, the Claude client and
   the GitHub annotations.
5. front ends: the pytest plugin (``pytest_plugin``), the CLI and its commands (``cli``),
   and the expectations (they read the CLI's trace JSON).

The package root is the public facade (PEP 562): it imports nothing at run time, so other
modules may take ``__version__`` from it and nothing else.
"""

from __future__ import annotations

import ast
import fnmatch
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Final

PACKAGE: Final = "pytest_nectar"
PACKAGE_DIR: Final = Path(__file__).resolve().parents[1] / PACKAGE

#: Layer number -> (name, module patterns relative to the package; fnmatch, "" is the root).
#: Every module must match exactly one pattern, and every pattern some module.
LAYERS: Final[dict[int, tuple[str, tuple[str, ...]]]] = {
    1: (
        "model and errors",
        ("", "errors", "trace", "fileio", "policy", "policy.model", "policy.aliases"),
    ),
    2: (
        "parsing and the corpus",
        (
            "policy.parser",
            "policy.match_parser",
            "policy.printer",
            "policy.check",
            "corpus",
            "corpus.*",
            "refinery",
            "refinery.yaml_loader",
            "refinery.rules_*",
            "refinery.values",
            "refinery.regex",
            "refinery.gjson*",
            "refinery.metadata",
            "project",
            "project.config",
            "project.settings",
            "compiler",
            "compiler.lockfile",
        ),
    ),
    3: (
        "evaluation, compilation, prover and simulation",
        (
            "refinery.conditions",
            "refinery.reference",
            "refinery.deterministic",
            "refinery.vector*",
            "refinery.reconcile",
            "refinery.samplers",
            "refinery.samplers.*",
            "policy.interpreter",
            "compiler.compile",
            "prover",
            "prover.*",
            "vopr",
            "vopr.*",
            "synth",
            "synth.*",
        ),
    ),
    4: (
        "project compilation, reports and the Claude client",
        (
            "compiler.outputs",
            "compiler.importer",
            "compiler.deployed",
            "github",
            "github.annotations",
            "report",
            "report.*",
            "claude",
            "claude.*",
            "project.session",
            "project.result",
        ),
    ),
    5: (
        "front ends",
        ("pytest_plugin", "pytest_plugin.*", "project.expectations", "cli", "cli.*", "__main__"),
    ),
}
FRONT_ENDS: Final = 5

#: Third-party modules too slow to import when pytest loads the plugin or the CLI starts.
HEAVY: Final = frozenset(
    {"numpy", "lark", "yaml", "re2", "anthropic", "matplotlib", "rich", "randomgen"}
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


@dataclass(frozen=True)
class Import:
    """One import statement's target, as the importing module sees it."""

    target: str  # dotted module name (internal: resolved to the module or package imported)
    names: tuple[str, ...]  # for ``from pkg import a, b``: the names taken when not modules
    line: int
    module_level: bool  # executed when the importing module is imported
    type_checking: bool  # under ``if TYPE_CHECKING:``

    @property
    def internal(self) -> bool:
        return self.target == PACKAGE or self.target.startswith(PACKAGE + ".")

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


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(
    body: list[ast.stmt], module_level: bool, type_checking: bool
) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool, bool]]:
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, module_level, type_checking
        elif isinstance(node, ast.If):
            guarded = type_checking or _is_type_checking(node.test)
            yield from _walk(node.body, module_level, guarded)
            yield from _walk(node.orelse, module_level, type_checking)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _walk(node.body, False, type_checking)
        else:  # class bodies, try/with/for/while/match blocks run when their parent does
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    yield from _walk([child], module_level, type_checking)
                elif isinstance(child, ast.excepthandler | ast.match_case):
                    yield from _walk(child.body, module_level, type_checking)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


@cache
def modules() -> dict[str, Module]:
    found: dict[str, Module] = {}
    paths = sorted(PACKAGE_DIR.rglob("*.py"))
    names = {_module_name(p) for p in paths}
    for path in paths:
        name = _module_name(path)
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        imports: list[Import] = []
        for node, module_level, type_checking in _walk(tree.body, True, False):
            where = (node.lineno, module_level, type_checking)
            if isinstance(node, ast.Import):
                imports.extend(Import(a.name, (), *where) for a in node.names)
                continue
            target = _resolve(name, is_package, node)
            plain = tuple(a.name for a in node.names if f"{target}.{a.name}" not in names)
            imports.extend(
                Import(f"{target}.{a.name}", (), *where)
                for a in node.names
                if f"{target}.{a.name}" in names
            )
            if plain:
                imports.append(Import(target, plain, *where))
        found[name] = Module(name, path, is_package, tuple(imports), tree)
    return found


def _relative(name: str) -> str:
    return name.removeprefix(PACKAGE).removeprefix(".")


def layer_of(name: str) -> int:
    rel = _relative(name)
    hits = [
        layer
        for layer, (_, patterns) in LAYERS.items()
        for pattern in patterns
        if rel == pattern or (pattern != "" and fnmatch.fnmatchcase(rel, pattern))
    ]
    assert len(hits) == 1, f"{name} matches {len(hits)} layer patterns, not one: {hits}"
    return hits[0]


def _where(module: Module, imp: Import) -> str:
    return f"{module.path.relative_to(PACKAGE_DIR.parent)}:{imp.line}"


def _describe(layer: int) -> str:
    return f"layer {layer} ({LAYERS[layer][0]})"


def test_every_module_has_exactly_one_layer() -> None:
    problems = []
    for name in modules():
        try:
            layer_of(name)
        except AssertionError as exc:
            problems.append(str(exc))
    assert problems == []


def test_every_layer_pattern_names_a_module() -> None:
    rels = [_relative(n) for n in modules()]
    stale = [
        pattern
        for _, patterns in LAYERS.values()
        for pattern in patterns
        if not any(r == pattern or (pattern and fnmatch.fnmatchcase(r, pattern)) for r in rels)
    ]
    assert stale == []


def test_every_internal_import_names_a_real_module() -> None:
    problems = [
        f"{_where(m, imp)}: {imp.target} is not a module of the package"
        for m in modules().values()
        for imp in m.imports
        if imp.internal and imp.target not in modules()
    ]
    assert problems == []


def test_layers_import_downward_only() -> None:
    problems = []
    for module in modules().values():
        if module.name == PACKAGE:
            continue  # the facade: checked by test_the_facade_imports_nothing_at_run_time
        own = layer_of(module.name)
        for imp in module.imports:
            if not imp.internal or imp.target not in modules():
                continue
            if imp.target == PACKAGE and set(imp.names) - {"__version__"}:
                problems.append(
                    f"{_where(module, imp)}: takes {imp.names} from the facade; "
                    "import from the defining module"
                )
            target = layer_of(imp.target)
            if target > own:
                problems.append(
                    f"{_where(module, imp)}: {module.name}, {_describe(own)}, imports "
                    f"{imp.target}, {_describe(target)}"
                )
    assert problems == []


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
    assert layer_of(f"{PACKAGE}.pytest_plugin.session") == FRONT_ENDS
