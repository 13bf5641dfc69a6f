"""One end-to-end run against the real Anthropic API; skipped unless a key is set."""

from __future__ import annotations

import os

import pytest

from pytest_nectar.claude import prompt
from pytest_nectar.claude.client import ClaudeSettings, default_model, make_client
from pytest_nectar.claude.refine import refine
from tests.claude_support import SEED_INTENT, verifier

pytestmark = [
    pytest.mark.real_api,
    pytest.mark.skipif(
        not os.environ.get("ANTHROPIC_API_KEY"), reason="needs ANTHROPIC_API_KEY (real API)"
    ),
]


def test_seed_intent_end_to_end_with_the_real_api() -> None:
    model = os.environ.get("NECTAR_MODEL") or default_model()
    client = make_client(ClaudeSettings(model=model, timeout_s=180.0))
    summary = {"traces": 1000, "services": ["checkout"], "error_traces": 12}

    def build(summary_json: str | None) -> prompt.Conversation:
        return prompt.build_conversation(
            SEED_INTENT, reference=prompt.load_reference(), summary_json=summary_json
        )

    conversation, tokens = prompt.fit_to_budget(build, summary, client.count_tokens)
    assert tokens <= prompt.INPUT_TOKEN_BUDGET
    result = refine(client, conversation, verifier("proposed.toon"))
    assert result.passed, result.best.verdict.problems
    assert result.best.proposal.rationale
