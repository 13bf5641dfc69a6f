"""Nectar: prove, simulate and compile Honeycomb Refinery sampling policies, from pytest.

The names below are the public API; each lives in the module named in ``_EXPORTS`` and is
imported on first use (PEP 562), so ``import pytest_nectar`` (which pytest does for every
run through the plugin entry point) costs no numpy, lark or yaml.  Inside the package,
import from the defining module instead: the facade sits above every layer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from pytest_nectar.compiler.compile import Compilation as Compilation
    from pytest_nectar.compiler.compile import compile_file as compile_file
    from pytest_nectar.compiler.compile import compile_policies as compile_policies
    from pytest_nectar.compiler.compile import load_rules_or_policy as load_rules_or_policy
    from pytest_nectar.corpus.load import load_corpus as load_corpus
    from pytest_nectar.corpus.summary import summarize as summarize
    from pytest_nectar.corpus.table import Corpus as Corpus
    from pytest_nectar.errors import ClaudeError as ClaudeError
    from pytest_nectar.errors import CompileError as CompileError
    from pytest_nectar.errors import CorpusError as CorpusError
    from pytest_nectar.errors import Diagnostic as Diagnostic
    from pytest_nectar.errors import NectarError as NectarError
    from pytest_nectar.errors import PolicyError as PolicyError
    from pytest_nectar.errors import Position as Position
    from pytest_nectar.errors import RulesError as RulesError
    from pytest_nectar.errors import UsageError as UsageError
    from pytest_nectar.policy.check import check_policy as check_policy
    from pytest_nectar.policy.model import Policy as Policy
    from pytest_nectar.policy.parser import load_policy as load_policy
    from pytest_nectar.policy.parser import parse_policy as parse_policy
    from pytest_nectar.policy.printer import format_policy as format_policy
    from pytest_nectar.prover.engine import ProofReport as ProofReport
    from pytest_nectar.prover.engine import prove as prove
    from pytest_nectar.prover.properties import Verdict as Verdict
    from pytest_nectar.refinery.reference import Decision as Decision
    from pytest_nectar.refinery.reference import decide as decide
    from pytest_nectar.refinery.rules_model import RulesFile as RulesFile
    from pytest_nectar.refinery.rules_reader import read_rules as read_rules
    from pytest_nectar.refinery.rules_writer import write_rules as write_rules
    from pytest_nectar.refinery.vector import evaluate_corpus as evaluate_corpus
    from pytest_nectar.trace import Span as Span
    from pytest_nectar.trace import Trace as Trace

__version__ = "0.1.0"

#: Public name -> the module (under ``pytest_nectar.``) that defines it.
_EXPORTS: Final[dict[str, str]] = {
    # errors and the trace model
    "NectarError": "errors",
    "UsageError": "errors",
    "PolicyError": "errors",
    "CorpusError": "errors",
    "RulesError": "errors",
    "CompileError": "errors",
    "ClaudeError": "errors",
    "Position": "errors",
    "Diagnostic": "errors",
    "Trace": "trace",
    "Span": "trace",
    # policies
    "Policy": "policy.model",
    "parse_policy": "policy.parser",
    "load_policy": "policy.parser",
    "check_policy": "policy.check",
    "format_policy": "policy.printer",
    # the corpus
    "Corpus": "corpus.table",
    "load_corpus": "corpus.load",
    "summarize": "corpus.summary",
    # Refinery rules and their evaluation
    "RulesFile": "refinery.rules_model",
    "read_rules": "refinery.rules_reader",
    "write_rules": "refinery.rules_writer",
    "Decision": "refinery.reference",
    "decide": "refinery.reference",
    "evaluate_corpus": "refinery.vector",
    # compilation and proof
    "Compilation": "compiler.compile",
    "compile_policies": "compiler.compile",
    "compile_file": "compiler.compile",
    "load_rules_or_policy": "compiler.compile",
    "ProofReport": "prover.engine",
    "Verdict": "prover.properties",
    "prove": "prover.engine",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


if not TYPE_CHECKING:  # hidden from mypy, which would otherwise accept any attribute name

    def __getattr__(name: str) -> object:
        module = _EXPORTS.get(name)
        if module is None:
            # AttributeError (not KeyError) lets ``from pytest_nectar import <submodule>`` work.
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
        globals()[name] = value  # later lookups skip this hook
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
