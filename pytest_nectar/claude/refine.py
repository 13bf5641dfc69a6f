"""Propose, verify, and send the problems back until a proposal passes or rounds run out.

Each failed proposal is answered the way the Messages API expects a tool call to be
answered: the assistant turn with the ``submit_policy`` call, then a user turn whose
``tool_result`` (``is_error: true``) lists what failed.  Claude never sees our verdict as
free text it could confuse with the intent, and we never run anything it wrote: the only
thing taken from a reply is the policy text, handed to ``verify``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from pytest_nectar.claude.client import Proposal
from pytest_nectar.claude.prompt import TOOL_NAME, Conversation, redact_text
from pytest_nectar.errors import UsageError

__all__ = [
    "DEFAULT_MAX_ROUNDS",
    "Attempt",
    "Proposer",
    "RefineResult",
    "Review",
    "feedback_text",
    "refine",
]

DEFAULT_MAX_ROUNDS: Final = 3
#: The problems sent back per round are capped so that every round's request stays bounded.
MAX_FEEDBACK_CHARS: Final = 6_000
_MAX_PROBLEMS: Final = 30


@dataclass(frozen=True, slots=True)
class Review:
    """What verification found: no problems means the proposal passes.

    ``notes`` are facts worth showing a reviewer (e.g. "proved on 1,204 traces") that are
    not failures.
    """

    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.problems


Verify = Callable[[str], Review]


class Proposer(Protocol):
    """What the loop needs from a client (:class:`~.client.ClaudeClient` is one)."""

    def propose(self, conversation: Conversation) -> Proposal: ...


@dataclass(frozen=True, slots=True)
class Attempt:
    round: int
    proposal: Proposal
    verdict: Review

    @property
    def passed(self) -> bool:
        return self.verdict.passed


@dataclass(frozen=True, slots=True)
class RefineResult:
    attempts: tuple[Attempt, ...]
    conversation: Conversation = field(repr=False)

    @property
    def passed(self) -> bool:
        return self.attempts[-1].passed

    @property
    def best(self) -> Attempt:
        """The passing attempt, else the one with fewest problems (the later one on ties)."""
        if self.passed:
            return self.attempts[-1]
        return min(reversed(self.attempts), key=lambda a: len(a.verdict.problems))


def feedback_text(verdict: Review, secrets: Sequence[str] = ()) -> str:
    """The tool result for a failed proposal: every problem, bounded, secrets removed."""
    lines = ["The policy did not pass Nectar's verification. Problems:"]
    problems = list(verdict.problems)
    shown = problems[:_MAX_PROBLEMS]
    lines.extend(f"- {redact_text(p, secrets)}" for p in shown)
    if len(problems) > len(shown):
        lines.append(f"- … and {len(problems) - len(shown)} more problems")
    lines.append(
        "Fix every problem and call submit_policy again with the complete corrected policy."
    )
    text = "\n".join(lines)
    if len(text) > MAX_FEEDBACK_CHARS:
        text = text[: MAX_FEEDBACK_CHARS - 40] + "\n…[further problems truncated]"
    return text


def answer(
    proposal: Proposal, verdict: Review, secrets: Sequence[str] = ()
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The assistant turn that made ``proposal`` and the user turn answering it."""
    call = {
        "type": "tool_use",
        "id": proposal.tool_use_id,
        "name": TOOL_NAME,
        "input": proposal.tool_input(),
    }
    result = {
        "type": "tool_result",
        "tool_use_id": proposal.tool_use_id,
        "is_error": True,
        "content": [{"type": "text", "text": feedback_text(verdict, secrets)}],
    }
    return {"role": "assistant", "content": [call]}, {"role": "user", "content": [result]}


def refine(
    proposer: Proposer,
    conversation: Conversation,
    verify: Verify,
    *,
    max_rounds: int = DEFAULT_MAX_ROUNDS,
    secrets: Sequence[str] = (),
    on_attempt: Callable[[Attempt], None] | None = None,
) -> RefineResult:
    """Ask, verify, and feed failures back, at most ``max_rounds`` times.

    Returns after the first passing attempt, or after the last round with every attempt
    (:attr:`RefineResult.best` is what to show).  Errors talking to Claude propagate as
    :class:`~pytest_nectar.errors.ClaudeError`.
    """
    if max_rounds < 1:
        raise UsageError("--max-rounds must be at least 1", got=max_rounds)
    attempts: list[Attempt] = []
    for number in range(1, max_rounds + 1):
        proposal = proposer.propose(conversation)
        attempt = Attempt(number, proposal, verify(proposal.policy))
        attempts.append(attempt)
        if on_attempt is not None:
            on_attempt(attempt)
        if attempt.passed or number == max_rounds:
            break
        conversation = conversation.followed_by(*answer(proposal, attempt.verdict, secrets))
    return RefineResult(tuple(attempts), conversation)
