"""Talking to Claude through the official SDK, and nothing else.

The client comes from the SDK's usual environment (``ANTHROPIC_API_KEY`` or
``ANTHROPIC_AUTH_TOKEN``, ``ANTHROPIC_BASE_URL``), so the same code reaches the real API
and the local stub the tests run.  Every failure becomes a :class:`ClaudeError` whose text
never holds a credential; the SDK's exception is not chained, because it carries the
request and with it the ``Authorization`` header.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

import anthropic
import httpx2

from pytest_nectar.claude.prompt import TOOL_NAME, Conversation, estimate_tokens
from pytest_nectar.errors import ClaudeError

__all__ = [
    "ClaudeClient",
    "ClaudeSettings",
    "Proposal",
    "Rationale",
    "default_model",
    "make_client",
    "read_tool_config",
    "resolve_model",
    "scrub",
]

NO_KEY_MESSAGE: Final = (
    "no Anthropic API key: set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) to use `nectar propose`"
)
NO_KEY_HINT: Final = "every other nectar command works offline without a key"
_CREDENTIAL_VARS: Final = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")


def default_model() -> str:
    """The newest Sonnet-class id the installed SDK lists, skipping deprecated ones."""
    from anthropic.types.model_param import ModelParam

    # Not re-exported by every SDK version (nor typed as public): read it if it is there.
    try:
        messages = importlib.import_module("anthropic.resources.messages.messages")
    except ImportError:  # pragma: no cover - older or newer SDK layouts
        messages = None
    deprecated: Mapping[str, object] = getattr(messages, "DEPRECATED_MODELS", {})
    listed: list[str] = []
    for arg in typing.get_args(ModelParam):
        listed.extend(a for a in typing.get_args(arg) if isinstance(a, str))
    candidates: list[tuple[tuple[int, ...], str]] = []
    for model in listed:
        match = re.fullmatch(r"claude-sonnet-(\d+)(?:-(\d{1,2}))?", model)
        if match is None or model in deprecated:
            continue
        version = tuple(int(g) for g in match.groups() if g is not None)
        candidates.append((version, model))
    if not candidates:
        raise ClaudeError(
            "the installed anthropic SDK lists no current Sonnet model",
            hint="pass --model, set NECTAR_MODEL, or set model in [tool.nectar]",
        )
    return max(candidates)[1]


def read_tool_config(start: Path) -> dict[str, Any]:
    """The ``[tool.nectar]`` table of the nearest ``pyproject.toml`` at or above ``start``."""
    for folder in (start.resolve(), *start.resolve().parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                data = tomllib.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, RecursionError, ValueError) as err:
                raise ClaudeError(f"cannot read {candidate}", got=str(err)) from None
            table = data.get("tool", {}).get("nectar", {})
            return dict(table) if isinstance(table, dict) else {}
    return {}


def resolve_model(
    cli: str | None, env: Mapping[str, str], config: Mapping[str, Any] | None = None
) -> str:
    """``--model``, then ``NECTAR_MODEL``, then ``[tool.nectar] model``, then the default."""
    for candidate in (cli, env.get("NECTAR_MODEL"), (config or {}).get("model")):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return default_model()


@dataclass(frozen=True, slots=True)
class ClaudeSettings:
    model: str
    max_retries: int = 2
    timeout_s: float = 120.0
    max_tokens: int = 8_192


@dataclass(frozen=True, slots=True)
class Rationale:
    rule: str
    why: str


@dataclass(frozen=True, slots=True)
class Proposal:
    """One ``submit_policy`` call: only the policy text and the rationale are kept."""

    policy: str
    rationale: tuple[Rationale, ...]
    tool_use_id: str
    model: str

    def tool_input(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "rationale": [{"rule": r.rule, "why": r.why} for r in self.rationale],
        }


def _secrets(env: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(env[name] for name in _CREDENTIAL_VARS if env.get(name))


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every credential replaced (server messages may echo what was sent)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


def make_client(
    settings: ClaudeSettings,
    *,
    http_client: httpx2.Client | None = None,
    env: Mapping[str, str] | None = None,
) -> ClaudeClient:
    """A client configured the SDK's usual way; :class:`ClaudeError` when there is no key."""
    environ = os.environ if env is None else env
    try:
        sdk = anthropic.Anthropic(
            max_retries=settings.max_retries,
            timeout=httpx2.Timeout(settings.timeout_s, connect=min(10.0, settings.timeout_s)),
            http_client=http_client,
        )
    except anthropic.AnthropicError as err:
        message = scrub(str(err), _secrets(environ))
        raise ClaudeError(
            "cannot load Anthropic credentials", got=message, hint=NO_KEY_HINT
        ) from None
    if sdk.api_key is None and sdk.auth_token is None and sdk.credentials is None:
        raise ClaudeError(NO_KEY_MESSAGE, hint=NO_KEY_HINT)
    return ClaudeClient(sdk, settings, secrets=_secrets(environ))


def request_body(conversation: Conversation, settings: ClaudeSettings) -> dict[str, Any]:
    """The Messages API request body, as sent (and as ``propose --show-request`` prints it)."""
    return {
        "model": settings.model,
        "max_tokens": settings.max_tokens,
        "system": list(conversation.system),
        "messages": list(conversation.messages),
        "tools": list(conversation.tools),
        "tool_choice": conversation.tool_choice,
    }


def request_json(conversation: Conversation, settings: ClaudeSettings) -> str:
    return json.dumps(request_body(conversation, settings), ensure_ascii=False, indent=2)


class ClaudeClient:
    """Sends conversations and returns the forced ``submit_policy`` call as a :class:`Proposal`."""

    def __init__(
        self, sdk: anthropic.Anthropic, settings: ClaudeSettings, *, secrets: tuple[str, ...] = ()
    ) -> None:
        self._sdk = sdk
        self.settings = settings
        self._secrets = tuple(s for s in (*secrets, sdk.api_key, sdk.auth_token) if s)
        self.counted_locally = False

    def __repr__(self) -> str:
        return f"ClaudeClient(model={self.settings.model!r})"

    def count_tokens(self, conversation: Conversation) -> int:
        """Input tokens as the server counts them, else the local (pessimistic) estimate.

        Credential errors are raised (the real request would fail the same way); anything
        else, such as a proxy without the counting endpoint, falls back to the estimate.
        """
        try:
            counted = self._sdk.messages.count_tokens(
                model=self.settings.model,
                system=cast(Any, list(conversation.system)),
                messages=cast(Any, list(conversation.messages)),
                tools=cast(Any, list(conversation.tools)),
                tool_choice=cast(Any, conversation.tool_choice),
            )
        except (anthropic.AuthenticationError, anthropic.PermissionDeniedError) as err:
            raise self._translate(err, "counting tokens") from None
        except anthropic.APIError:
            self.counted_locally = True
            return estimate_tokens(conversation)
        self.counted_locally = False
        return int(counted.input_tokens)

    def propose(self, conversation: Conversation) -> Proposal:
        """One round trip; the reply must be exactly the forced tool call."""
        try:
            message = self._sdk.messages.create(**request_body(conversation, self.settings))
        except anthropic.APIError as err:
            raise self._translate(err, "asking Claude for a policy") from None
        return self._read(message)

    def _read(self, message: Any) -> Proposal:
        stop = getattr(message, "stop_reason", None)
        if stop == "refusal":
            raise ClaudeError(
                "Claude declined to write this policy (stop_reason 'refusal')",
                hint="rephrase the intent; nothing was written",
            )
        if stop == "max_tokens":
            raise ClaudeError(
                "Claude's reply was cut off at the output limit",
                got=f"max_tokens={self.settings.max_tokens}",
                hint="simplify the intent; nothing was written",
            )
        calls = [b for b in message.content if getattr(b, "type", None) == "tool_use"]
        if len(calls) != 1 or calls[0].name != TOOL_NAME:
            kinds = [getattr(b, "type", "?") for b in message.content]
            raise ClaudeError(
                "Claude's reply is malformed: expected exactly one submit_policy tool call",
                got=f"stop_reason {stop!r}, content {kinds}",
                hint="try again; nothing was written",
            )
        call = calls[0]
        proposal = Proposal(
            policy=_policy_text(call.input),
            rationale=_rationale(call.input),
            tool_use_id=str(call.id),
            model=str(getattr(message, "model", self.settings.model)),
        )
        if any(s in str(proposal.tool_input()) for s in self._secrets):
            # Only possible if something echoed the credential; never write it anywhere.
            raise ClaudeError(
                "Claude's reply contains the API key; refusing to use it",
                hint="rotate the key; nothing was written",
            )
        return proposal

    def _translate(self, err: anthropic.APIError, doing: str) -> ClaudeError:
        retries = self.settings.max_retries
        after = f" after {retries} retr{'y' if retries == 1 else 'ies'}" if retries else ""
        if isinstance(err, anthropic.APITimeoutError):
            return ClaudeError(
                f"timed out {doing}{after}",
                got=f"timeout {self.settings.timeout_s:g}s",
                hint="check the network, or try again later",
            )
        if isinstance(err, anthropic.APIConnectionError):
            return ClaudeError(
                f"cannot connect to the Anthropic API while {doing}{after}",
                got=scrub(str(self._sdk.base_url), self._secrets),
                hint="check the network and ANTHROPIC_BASE_URL",
            )
        if not isinstance(err, anthropic.APIStatusError):
            return ClaudeError(f"unexpected reply while {doing}", got=self._detail(err))
        detail = self._detail(err)
        if isinstance(err, anthropic.AuthenticationError):
            return ClaudeError(
                "the Anthropic API rejected the API key (401 authentication error)",
                got=detail,
                hint="check ANTHROPIC_API_KEY; " + NO_KEY_HINT,
            )
        if isinstance(err, anthropic.PermissionDeniedError):
            return ClaudeError(
                "the API key may not use this model or feature (403 permission error)",
                got=detail,
                hint="check the key's workspace, or pick another model with --model",
            )
        if isinstance(err, anthropic.NotFoundError):
            return ClaudeError(
                "the Anthropic API does not know this model or endpoint (404)",
                got=f"model {self.settings.model!r}: {detail}",
                hint="pick another model with --model or NECTAR_MODEL",
            )
        if isinstance(err, anthropic.RateLimitError):
            return ClaudeError(
                f"rate limited by the Anthropic API (429){after}",
                got=detail,
                hint="wait a minute and try again",
            )
        if isinstance(err, anthropic.OverloadedError):
            return ClaudeError(
                f"the Anthropic API is overloaded (529){after}",
                got=detail,
                hint="try again in a few minutes",
            )
        if isinstance(err, anthropic.InternalServerError):
            return ClaudeError(
                f"the Anthropic API failed ({err.status_code}){after}",
                got=detail,
                hint="try again later",
            )
        return ClaudeError(f"the Anthropic API refused the request ({err.status_code})", got=detail)

    def _detail(self, err: anthropic.APIError) -> str:
        text = (
            getattr(err, "api_message", None) or getattr(err, "message", "") or type(err).__name__
        )
        return scrub(str(text), self._secrets)[:300]


def _policy_text(data: object) -> str:
    if not isinstance(data, dict):
        raise _malformed("tool input is not an object", data)
    policy = data.get("policy")
    if not isinstance(policy, str) or not policy.strip():
        raise _malformed("'policy' is missing or not a non-empty string", policy)
    return policy if policy.endswith("\n") else policy + "\n"


def _rationale(data: dict[str, Any]) -> tuple[Rationale, ...]:
    items = data.get("rationale", [])
    if not isinstance(items, list):
        raise _malformed("'rationale' is not a list", items)
    out: list[Rationale] = []
    for item in items:
        if not isinstance(item, dict) or not all(
            isinstance(item.get(k), str) for k in ("rule", "why")
        ):
            raise _malformed("a 'rationale' entry is not {rule, why} strings", item)
        out.append(Rationale(item["rule"].strip(), " ".join(item["why"].split())))
    return tuple(out)


def _malformed(what: str, got: object) -> ClaudeError:
    return ClaudeError(
        f"Claude's submit_policy call is malformed: {what}",
        got=repr(got)[:120],
        hint="try again; nothing was written",
    )
