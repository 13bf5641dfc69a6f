"""The SDK client: model choice, the forced tool call, and every failure as a clear ClaudeError."""

from __future__ import annotations

import json
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic.types.model_param import ModelParam

from pytest_nectar.claude import client as claude
from pytest_nectar.claude.prompt import Conversation, build_conversation
from pytest_nectar.errors import ClaudeError
from tests.claude_stub import (
    ClaudeStub,
    Reply,
    malformed_reply,
    overloaded,
    rate_limited,
    refusal_reply,
    text_reply,
    tool_reply,
    unauthorized,
)
from tests.claude_support import FAKE_KEY, GOOD_POLICY, RATIONALE, keyless_env

SDK_MODELS = [a for arg in typing.get_args(ModelParam) for a in typing.get_args(arg)]


def _conversation() -> Conversation:
    return build_conversation("keep errors", reference="# ref", summary_json="{}")


def _mock_client(
    handler: Callable[[httpx2.Request], httpx2.Response], **settings: Any
) -> claude.ClaudeClient:
    sdk = anthropic.Anthropic(
        api_key=FAKE_KEY,
        base_url="http://mock.invalid",
        max_retries=settings.pop("max_retries", 0),
        http_client=anthropic.DefaultHttpxClient(transport=httpx2.MockTransport(handler)),
    )
    model = settings.pop("model", claude.default_model())
    return claude.ClaudeClient(sdk, claude.ClaudeSettings(model=model, **settings))


def _respond(reply: Reply, seen: list[dict[str, Any]] | None = None) -> Any:
    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        if seen is not None:
            seen.append(body)
        payload = json.loads(json.dumps(reply.body))
        if payload.get("type") == "message":
            payload["model"] = body["model"]
            for block in payload["content"]:
                block["id"] = block.get("id") or "toolu_mock"
        return httpx2.Response(reply.status, json=payload, headers=reply.headers)

    return handler


# -- model choice -------------------------------------------------------------------------


def test_default_model_is_the_newest_current_sonnet_the_sdk_lists() -> None:
    from anthropic.resources.messages.messages import DEPRECATED_MODELS

    model = claude.default_model()
    assert model in SDK_MODELS
    assert model.startswith("claude-sonnet-")
    assert model not in DEPRECATED_MODELS
    sonnets = [
        m for m in SDK_MODELS if m.startswith("claude-sonnet-") and m not in DEPRECATED_MODELS
    ]
    key = [tuple(int(x) for x in m.split("-")[2:] if len(x) <= 2) for m in sonnets]
    assert max(zip(key, sonnets, strict=True))[1] == model


def test_model_precedence_cli_then_env_then_config_then_default() -> None:
    env = {"NECTAR_MODEL": "from-env"}
    config = {"model": "from-config"}
    assert claude.resolve_model("from-cli", env, config) == "from-cli"
    assert claude.resolve_model(None, env, config) == "from-env"
    assert claude.resolve_model(None, {}, config) == "from-config"
    assert claude.resolve_model(None, {"NECTAR_MODEL": " "}, {}) == claude.default_model()


def test_tool_nectar_table_is_read_from_the_nearest_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.nectar]\nmodel = "claude-x"\n')
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert claude.read_tool_config(nested) == {"model": "claude-x"}
    (tmp_path / "pyproject.toml").write_text("[tool.nectar\n")
    with pytest.raises(ClaudeError, match="cannot read"):
        claude.read_tool_config(nested)


# -- the forced tool call -------------------------------------------------------------------


def test_request_forces_submit_policy_with_the_schema_and_no_sampling_knobs() -> None:
    seen: list[dict[str, Any]] = []
    client = _mock_client(_respond(tool_reply(GOOD_POLICY, RATIONALE), seen))
    proposal = client.propose(_conversation())
    assert proposal.policy == GOOD_POLICY
    assert [r.rule for r in proposal.rationale] == ["keep-errors", "keep-slow", "sample-rest"]
    assert proposal.tool_use_id == "toolu_mock"
    (body,) = seen
    assert body["tool_choice"] == {
        "type": "tool",
        "name": "submit_policy",
        "disable_parallel_tool_use": True,
    }
    (tool,) = body["tools"]
    assert tool["name"] == "submit_policy" and tool["strict"] is True
    schema = tool["input_schema"]
    assert schema["required"] == ["policy", "rationale"]
    assert schema["properties"]["rationale"]["items"]["required"] == ["rule", "why"]
    assert not {"temperature", "top_p", "top_k"} & set(body)
    assert body["model"] == claude.default_model()


def test_policy_without_final_newline_gets_one() -> None:
    client = _mock_client(_respond(tool_reply(GOOD_POLICY.rstrip("\n"))))
    assert client.propose(_conversation()).policy == GOOD_POLICY


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (
            text_reply("```toon\nnectar_policy...\n```"),
            "Claude's reply is malformed: expected exactly one submit_policy tool call; "
            "got \"stop_reason 'end_turn', content ['text']\"; try again; nothing was written",
        ),
        (
            malformed_reply({"policy": 42, "rationale": []}),
            "Claude's submit_policy call is malformed: 'policy' is missing or not a "
            "non-empty string; got '42'; try again; nothing was written",
        ),
        (
            malformed_reply({"policy": GOOD_POLICY, "rationale": [{"rule": "x"}]}),
            "Claude's submit_policy call is malformed: a 'rationale' entry is not {rule, why} "
            "strings; got \"{'rule': 'x'}\"; try again; nothing was written",
        ),
        (
            malformed_reply({"policy": GOOD_POLICY}, name="run_shell"),
            "Claude's reply is malformed: expected exactly one submit_policy tool call; "
            "got \"stop_reason 'tool_use', content ['tool_use']\"; try again; nothing was written",
        ),
        (
            refusal_reply(),
            "Claude declined to write this policy (stop_reason 'refusal'); "
            "rephrase the intent; nothing was written",
        ),
    ],
    ids=["free-text", "bad-policy", "bad-rationale", "wrong-tool", "refusal"],
)
def test_unusable_replies_are_clear_errors(reply: Reply, message: str) -> None:
    client = _mock_client(_respond(reply))
    with pytest.raises(ClaudeError) as info:
        client.propose(_conversation())
    assert info.value.message == message


# -- failures after the SDK's retries --------------------------------------------------------


def test_rate_limit_is_retried_by_the_sdk_then_succeeds() -> None:
    with ClaudeStub([rate_limited(), rate_limited(), tool_reply(GOOD_POLICY)]) as stub:
        sdk = anthropic.Anthropic(api_key=FAKE_KEY, base_url=stub.base_url, max_retries=2)
        client = claude.ClaudeClient(sdk, claude.ClaudeSettings("claude-test", max_retries=2))
        assert client.propose(_conversation()).policy == GOOD_POLICY
    retries = [r.headers.get("x-stainless-retry-count") for r in stub.requests]
    assert retries == ["0", "1", "2"]


@pytest.mark.parametrize(
    ("replies", "message"),
    [
        (
            [overloaded()] * 3,
            "the Anthropic API is overloaded (529) after 2 retries; got 'Overloaded'; "
            "try again in a few minutes",
        ),
        (
            [rate_limited()] * 3,
            "rate limited by the Anthropic API (429) after 2 retries; got 'Number of request "
            "tokens has exceeded your rate limit.'; wait a minute and try again",
        ),
        (
            [unauthorized()],
            "the Anthropic API rejected the API key (401 authentication error); got 'invalid "
            "x-api-key'; check ANTHROPIC_API_KEY; every other nectar command works offline "
            "without a key",
        ),
    ],
    ids=["overloaded", "rate-limited", "unauthorized"],
)
def test_api_failures_become_clear_messages_without_the_key(
    replies: list[Reply], message: str
) -> None:
    with ClaudeStub(replies) as stub:
        sdk = anthropic.Anthropic(api_key=FAKE_KEY, base_url=stub.base_url, max_retries=2)
        client = claude.ClaudeClient(sdk, claude.ClaudeSettings("claude-test", max_retries=2))
        with pytest.raises(ClaudeError) as info:
            client.propose(_conversation())
        assert stub.pending == 0
    assert info.value.message == message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert FAKE_KEY not in info.value.render()
    # The key went out as the SDK sends it, and only there.
    assert all(r.headers["authorization"] == f"Bearer {FAKE_KEY}" for r in stub.requests)


def test_a_server_echoing_the_key_is_scrubbed() -> None:
    echo = Reply(403, {"type": "error", "error": {"type": "permission_error", "message": FAKE_KEY}})
    client = _mock_client(_respond(echo))
    with pytest.raises(ClaudeError) as info:
        client.propose(_conversation())
    assert FAKE_KEY not in str(info.value)
    assert "403 permission error" in info.value.message


def test_a_reply_holding_the_key_is_refused() -> None:
    client = _mock_client(_respond(tool_reply(GOOD_POLICY, [("r", f"uses {FAKE_KEY}")])))
    with pytest.raises(ClaudeError) as info:
        client.propose(_conversation())
    assert info.value.message == (
        "Claude's reply contains the API key; refusing to use it; "
        "rotate the key; nothing was written"
    )


def test_timeout_is_a_clear_error() -> None:
    slow = tool_reply(GOOD_POLICY)
    slow.delay_s = 1.0
    with ClaudeStub([slow]) as stub:
        sdk = anthropic.Anthropic(
            api_key=FAKE_KEY, base_url=stub.base_url, max_retries=0, timeout=0.2
        )
        client = claude.ClaudeClient(sdk, claude.ClaudeSettings("claude-test", 0, 0.2))
        with pytest.raises(ClaudeError) as info:
            client.propose(_conversation())
    assert info.value.message == (
        "timed out asking Claude for a policy; got 'timeout 0.2s'; "
        "check the network, or try again later"
    )


def test_connection_refused_is_a_clear_error() -> None:
    with ClaudeStub() as stub:
        url = stub.base_url  # the port is free again once the stub stops
    sdk = anthropic.Anthropic(api_key=FAKE_KEY, base_url=url, max_retries=0)
    client = claude.ClaudeClient(sdk, claude.ClaudeSettings("claude-test", max_retries=0))
    with pytest.raises(ClaudeError, match="cannot connect to the Anthropic API"):
        client.propose(_conversation())


def test_count_tokens_uses_the_server_and_falls_back_to_the_estimate() -> None:
    with ClaudeStub(token_count=1234) as stub:
        sdk = anthropic.Anthropic(api_key=FAKE_KEY, base_url=stub.base_url, max_retries=0)
        client = claude.ClaudeClient(sdk, claude.ClaudeSettings("claude-test", max_retries=0))
        assert client.count_tokens(_conversation()) == 1234
        assert not client.counted_locally
        (body,) = stub.count_requests()
        assert body["tool_choice"]["name"] == "submit_policy"
    # Stopped stub: the count falls back to the local estimate instead of failing.
    from pytest_nectar.claude.prompt import estimate_tokens

    assert client.count_tokens(_conversation()) == estimate_tokens(_conversation())
    assert client.counted_locally


# -- no key ---------------------------------------------------------------------------------


def test_no_key_is_a_clear_error_naming_the_offline_commands(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    keyless_env(monkeypatch, str(tmp_path))
    with pytest.raises(ClaudeError) as info:
        claude.make_client(claude.ClaudeSettings("claude-test"))
    assert info.value.message == (
        "no Anthropic API key: set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) to use "
        "`nectar propose`; every other nectar command works offline without a key"
    )


def test_key_from_the_environment_reaches_the_base_url_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    keyless_env(monkeypatch, str(tmp_path))
    with ClaudeStub([tool_reply(GOOD_POLICY)]) as stub:
        monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", stub.base_url)
        client = claude.make_client(claude.ClaudeSettings("claude-test"))
        assert FAKE_KEY not in repr(client)
        assert client.propose(_conversation()).policy == GOOD_POLICY
    assert stub.requests[0].headers["authorization"] == f"Bearer {FAKE_KEY}"
