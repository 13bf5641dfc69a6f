"""The package root: a pinned public API, resolved lazily (PEP 562)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap

import pytest

import pytest_nectar

PUBLIC: tuple[str, ...] = (
    "ClaudeError",
    "Compilation",
    "CompileError",
    "Corpus",
    "CorpusError",
    "Decision",
    "Diagnostic",
    "NectarError",
    "Policy",
    "PolicyError",
    "Position",
    "ProofReport",
    "RulesError",
    "RulesFile",
    "Span",
    "Trace",
    "UsageError",
    "Verdict",
    "__version__",
    "check_policy",
    "compile_file",
    "compile_policies",
    "decide",
    "evaluate_corpus",
    "format_policy",
    "load_corpus",
    "load_policy",
    "load_rules_or_policy",
    "parse_policy",
    "prove",
    "read_rules",
    "summarize",
    "write_rules",
)


def test_all_is_pinned() -> None:
    assert sorted(pytest_nectar.__all__) == sorted(PUBLIC)
    assert len(set(pytest_nectar.__all__)) == len(pytest_nectar.__all__)


@pytest.mark.parametrize("name", [n for n in PUBLIC if n != "__version__"])
def test_each_name_is_the_defining_modules_object(name: str) -> None:
    module = importlib.import_module(f"pytest_nectar.{pytest_nectar._EXPORTS[name]}")
    assert getattr(pytest_nectar, name) is getattr(module, name)
    assert name in dir(pytest_nectar)


def test_error_classes_share_the_base() -> None:
    for name in ("UsageError", "PolicyError", "CorpusError", "RulesError", "CompileError"):
        assert issubclass(getattr(pytest_nectar, name), pytest_nectar.NectarError)
    assert issubclass(pytest_nectar.ClaudeError, pytest_nectar.NectarError)


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'no_such_thing'"):
        _ = pytest_nectar.no_such_thing  # type: ignore[attr-defined]
    # from-import of a submodule still works through the hook's AttributeError
    from pytest_nectar import fileio

    assert fileio.__name__ == "pytest_nectar.fileio"


def _imported_after(code: str) -> list[str]:
    script = textwrap.dedent(
        f"""
        import json, sys
        {code}
        print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}})))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True, timeout=60
    )
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


HEAVY = {"numpy", "lark", "yaml", "re2", "anthropic", "matplotlib", "rich", "randomgen"}


def test_importing_the_package_imports_nothing_heavy() -> None:
    loaded = _imported_after("import pytest_nectar; pytest_nectar.__version__")
    assert HEAVY & set(loaded) == set()


def test_a_name_imports_only_what_it_needs() -> None:
    loaded = set(_imported_after("from pytest_nectar import NectarError, Trace, format_policy"))
    assert "lark" in loaded  # the printer sits on the parser
    assert {"numpy", "anthropic", "matplotlib"} & loaded == set()
