"""Shared pieces for the Claude tests: policies, the verifier, and a key-free environment."""

from __future__ import annotations

from typing import Final

import pytest

from pytest_nectar.claude.refine import Verify

#: The seed README's example (errors by the default criteria, and any HTTP 5xx): a correct
#: answer to the seed intent.
GOOD_POLICY: Final = """\
nectar_policy{version,name,budget_per_second,rules}:
  1
  production-sampling
  10000
  rules[3]{name,description,match,action,priority}:
    keep-errors,Retain all errors,default_errors or http.status >= 500,keep,100
    keep-slow,Retain slow requests,duration > 5s,keep,90
    sample-rest,Sample remaining traffic,true,sample(0.01),0
"""

#: The same policy with a wrong row count: every parser rejects it.
BAD_POLICY: Final = GOOD_POLICY.replace("rules[3]", "rules[4]")

SEED_INTENT: Final = (
    "Keep all errors and slow requests over 5 seconds, sample everything else at 1%"
)
FAKE_KEY: Final = "sk-ant-test-0123456789-SECRETKEYVALUE"
RATIONALE: Final = (
    ("keep-errors", "Errors are what on-call needs."),
    ("keep-slow", "Requests over 5 s are the latency outliers."),
    ("sample-rest", "Everything else at 1% to stay within budget."),
)


def verifier(path: str = "policies/main.toon") -> Verify:
    """The verifier ``nectar propose`` uses."""
    from pytest_nectar.claude.verify import build_verifier

    return build_verifier(policy_path=path)


def keyless_env(monkeypatch: pytest.MonkeyPatch, home: str) -> None:
    """No credential the SDK could find: no env vars, no profile on disk."""
    import os

    for name in list(os.environ):
        if name.startswith(("ANTHROPIC_", "NECTAR_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", home)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)


def stub_env(monkeypatch: pytest.MonkeyPatch, home: str, base_url: str) -> None:
    keyless_env(monkeypatch, home)
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", base_url)
