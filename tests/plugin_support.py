"""Builders for the pytest plugin's black-box tests: a small policy project in a pytester dir.

The corpus is synthetic on purpose (Honeycomb events written here): a handful of traces whose
decisions are known by construction, so every verdict below can be checked by hand.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest

# pytester's in-process runs drop the modules a run imported; numpy's C core cannot be
# imported twice in one process, so everything the plugin loads lazily is loaded here first.
import pytest_nectar.cli.decide
import pytest_nectar.compiler.outputs
import pytest_nectar.corpus
import pytest_nectar.policy.interpreter
import pytest_nectar.project.expectations
import pytest_nectar.prover
import pytest_nectar.pytest_plugin.checks
import pytest_nectar.pytest_plugin.items
import pytest_nectar.pytest_plugin.options
import pytest_nectar.pytest_plugin.summary
import pytest_nectar.refinery.vector

with contextlib.suppress(ImportError):  # the simulation extra (randomgen): else seeds skip
    import pytest_nectar.vopr.campaigns  # noqa: F401

SAFE_POLICY = """\
nectar_policy{version,name,budget_per_second,error,rules}:
  1
  shop
  1000
  http.status >= 500
  rules[3]{name,description,match,action,priority}:
    keep-errors,Keep every 5xx,http.status >= 500,keep,100
    drop-health,Health checks are noise,"http.route = \\"/health\\"",drop,50
    sample-rest,Everything else,true,sample(1/10),0
"""

#: The same rules with the health drop above the error rule: a 5xx health check is dropped.
UNSAFE_POLICY = SAFE_POLICY.replace(
    'drop-health,Health checks are noise,"http.route = \\"/health\\"",drop,50',
    'drop-health,Health checks are noise,"http.route = \\"/health\\"",drop,200',
)

PYPROJECT = """\
[tool.nectar]
policies = ["policies/*.toon"]
corpus = "corpus/"
"""

#: trace id -> (route, status) of its root span; each trace also has one child span.
TRACES: dict[str, tuple[str, int]] = {
    **{f"ok{i}": ("/cart", 200) for i in range(8)},
    **{f"err{i}": ("/cart", 503) for i in range(3)},
    **{f"health{i}": ("/health", 200) for i in range(2)},
    "health-err": ("/health", 500),
}


def corpus_lines() -> list[str]:
    lines = []
    t = 1_700_000_000
    for n, (trace_id, (route, status)) in enumerate(TRACES.items()):
        root = {
            "trace.trace_id": trace_id,
            "trace.span_id": f"{trace_id}-a",
            "service.name": "shop",
            "http.route": route,
            "http.status_code": status,
            "duration_ms": 12.5,
            "timestamp": t + 2 * n,
        }
        child = {
            "trace.trace_id": trace_id,
            "trace.span_id": f"{trace_id}-b",
            "trace.parent_id": f"{trace_id}-a",
            "service.name": "db",
            "duration_ms": 3.0,
            "timestamp": t + 2 * n,
        }
        lines += [json.dumps(child), json.dumps(root)]
    return lines


def make_project(
    pytester: pytest.Pytester,
    *,
    policy: str = SAFE_POLICY,
    pyproject: str = PYPROJECT,
    corpus: bool = True,
    extra: dict[str, str] | None = None,
) -> Path:
    root = pytester.path
    (root / "policies").mkdir()
    (root / "policies" / "shop.toon").write_text(policy)
    (root / "pyproject.toml").write_text(pyproject)
    if corpus:
        (root / "corpus").mkdir()
        (root / "corpus" / "events.jsonl").write_text("\n".join(corpus_lines()) + "\n")
    for name, text in (extra or {}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def expectation(trace_id: str, route: str, status: int, **fields: Any) -> str:
    trace = [
        {
            "trace.trace_id": trace_id,
            "trace.span_id": "a",
            "http.route": route,
            "http.status_code": status,
        }
    ]
    return json.dumps({"trace": trace, **fields})


#: Inner runs skip plugins that are not under test (they would be re-imported every run).
#: ``-W default``: the inner run sees warnings as a user's run does, not as this suite's
#: ``filterwarnings = error`` (in-process runs inherit the outer filters).
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:anyio", "-W", "default")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """pytest in-process in the pytester dir, with the plugin loaded from its entry point."""
    return pytester.runpytest_inprocess(*QUIET, *args)
