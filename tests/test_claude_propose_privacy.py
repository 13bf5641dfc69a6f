"""Nothing private to the model: ``propose`` redacts the corpus summary, ``--show-request``
prints exactly what the Messages API stub then receives, ``--patch`` without a change fails."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_nectar.cli import main
from tests.claude_stub import ClaudeStub, tool_reply
from tests.claude_support import GOOD_POLICY, RATIONALE, SEED_INTENT, keyless_env, stub_env
from tests.realdata import REPO, corpus_names, files

#: Planted in the test's corpus as the most frequent value of its field, so that without
#: redaction each would be among the summary's top values (checked with --redact off).
PLANTED = {
    "host.name": "Vadims-MacBook-Pro.local",
    "message": "login by alice.smith@example.org from 203.0.113.77",
    "code.filepath": "/Users/vadim/secret-project/main.py",
    "db.connection": "db-primary.prod.internal:5432",
    "request_uuid": "3f2b8c1e-9d4a-4b6f-8e2a-1c5d7f9a0b3e",
    "note": "ssh to 10.1.2.3, notes in C:\\Users\\vadim\\notes.txt, v6 2001:db8::17",
    "home": "/home/vkorolik/.local/share/nvm/v18.16.0/bin/node",
}
#: Values of secret-named attributes: never sent, whatever the level.
SECRETS = {
    "http.request.header.authorization": "planted-auth-value-1",
    "api_token": "planted-token-value-2",
    "db.password": "planted-password-3",
    "http.cookie": "planted-cookie-4",
    "user_session": "planted-session-5",
    "signing_key": "planted-key-6",
}
PRIVATE_PIECES = (
    "Vadims-MacBook-Pro",
    "alice.smith",
    "example.org",
    "203.0.113.77",
    "/Users/vadim",
    "prod.internal",
    "3f2b8c1e",
    "10.1.2.3",
    "C:\\\\Users",
    "2001:db8::17",
    "vkorolik",
    "customer-",
)


def _event(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "timestamp": f"2024-05-01T10:00:{i % 60:02d}.000Z",
        "service.name": "checkout",
        "endpoint": "/api/cart",
        "duration_ms": 10 + i,
        "trace.trace_id": f"t{i}",
        "trace.span_id": f"s{i}",
        **extra,
    }


def _planted_corpus(path: Path) -> None:
    events = [_event(i, **PLANTED, **SECRETS, order=f"customer-{i:03d}") for i in range(30)]
    path.write_text("".join(json.dumps(e) + "\n" for e in events))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    (root / "policies").mkdir(parents=True)
    (root / "policies" / "main.toon").write_text(GOOD_POLICY)
    _planted_corpus(root / "traces.json")
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def stub(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ClaudeStub]:
    with ClaudeStub() as server:
        stub_env(monkeypatch, str(project.parent), server.base_url)
        yield server


def _show(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code = main(["propose", SEED_INTENT, *args, "--show-request"])
    out, err = capsys.readouterr()
    assert code == 0, err
    body: dict[str, Any] = json.loads(out)
    return body


def _summary(body: dict[str, Any]) -> str:
    text = body["messages"][0]["content"][0]["text"]
    found = re.search(r"<corpus_summary>\n(.*)\n</corpus_summary>", text, re.S)
    assert found is not None
    return found.group(1)


def test_show_request_holds_no_planted_value_and_the_stub_sees_the_same(
    stub: ClaudeStub, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = _show(capsys, "--corpus", "traces.json", "--policy", "policies/main.toon")
    assert not stub.requests  # nothing was sent, not even a token count
    text = json.dumps(shown)
    for piece in (*PRIVATE_PIECES, *SECRETS.values()):
        assert piece not in text, piece
    summary = json.loads(_summary(shown))
    fields = summary["fields"]
    assert fields["host.name"]["top_strings"] == [["<host>", 30]]
    assert fields["message"]["top_strings"] == [["login by <email> from <ip>", 30]]
    assert fields["code.filepath"]["top_strings"] == [["<path>", 30]]
    assert fields["db.connection"]["top_strings"] == [["<host>:5432", 30]]
    assert fields["request_uuid"]["top_strings"] == [["<id>", 30]]
    assert fields["order"]["top_strings"] == [["<id>", 30]]  # 30 distinct of 30
    assert fields["api_token"]["top_strings"] == [["<secret>", 30]]
    assert fields["endpoint"]["top_strings"] == [["/api/cart", 30]]  # still useful
    assert summary["services"] == ["checkout"]

    stub.push(tool_reply(GOOD_POLICY, RATIONALE))
    code = main(["propose", SEED_INTENT, "--corpus", "traces.json", "-o", "new.toon"])
    assert code == 0, capsys.readouterr().err
    (sent,) = stub.message_requests()
    shown_plain = _show(capsys, "--corpus", "traces.json")
    assert sent == shown_plain


def test_redaction_levels(stub: ClaudeStub, capsys: pytest.CaptureFixture[str]) -> None:
    off = json.dumps(_show(capsys, "--corpus", "traces.json", "--redact", "off"))
    for piece in ("Vadims-MacBook-Pro", "alice.smith", "/Users/vadim", "203.0.113.77"):
        assert piece in off  # the planted values are in the summary: the checks above can fail
    for secret in SECRETS.values():
        assert secret not in off
    strict = _summary(_show(capsys, "--corpus", "traces.json", "--redact", "strict"))
    assert "/api/cart" not in strict and "checkout" in strict
    assert '"\\u003cvalue\\u003e"' in strict


def test_show_request_needs_no_key(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    keyless_env(monkeypatch, str(project.parent))
    body = _show(capsys, "--corpus", "traces.json")
    assert set(body) == {"model", "max_tokens", "system", "messages", "tools", "tool_choice"}


def test_patch_without_a_change_exits_1_and_writes_nothing(
    stub: ClaudeStub, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stub.push(tool_reply(GOOD_POLICY, RATIONALE))
    code = main(
        [
            "propose",
            SEED_INTENT,
            "--policy",
            "policies/main.toon",
            "--patch",
            "../change.patch",
            "--pr-body",
            "../pr.md",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1, err
    assert "the proposal equals the current policy: no change, nothing written" in err
    assert not (project.parent / "change.patch").exists()
    assert not (project.parent / "pr.md").exists()


def _private_values(summary: dict[str, Any]) -> set[str]:
    """What an unredacted summary of a real capture gives away, found independently."""
    found: set[str] = set()
    for name, field in summary["fields"].items():
        for value, _ in field.get("top_strings", []):
            if not isinstance(value, str):
                continue
            if name in ("host.name", "net.host.name", "net.peer.name", "http.host"):
                found.add(value.rsplit(":", 1)[0] if value.count(":") == 1 else value)
            found.update(re.findall(r"[\w.+-]+@[\w-]+\.[\w.-]+", value))
            found.update(re.findall(r"/(?:Users|home)/[\w.-]+", value))
            for candidate in re.findall(r"(?<![\w.])\d+\.\d+\.\d+\.\d+(?![\w.])", value):
                try:
                    ipaddress.ip_address(candidate)
                except ValueError:
                    continue
                found.add(candidate)
    # A container host named after its service (docker compose: frontend-proxy) is sent as
    # the service name, which policies need; every other host name must not be.
    services = set(summary["services"])
    return {v for v in found if len(v) > 3 and v not in services}


def _assert_nothing_private_sent(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_nectar.corpus import load_corpus, summarize

    private = _private_values(summarize(load_corpus([str(path)])))
    sent = _summary(_show(capsys, "--corpus", str(path)))
    # The rendered summary escapes < > & only; the values themselves appear verbatim.
    leaked = sorted(v for v in private if json.dumps(v)[1:-1] in sent)
    assert not leaked


@pytest.mark.usefixtures("realdata")
@pytest.mark.parametrize("name", corpus_names())
def test_real_captures_send_no_host_home_path_email_or_ip(
    name: str, project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    keyless_env(monkeypatch, str(project.parent))
    (path,) = files(name)
    _assert_nothing_private_sent(path, capsys)


BUNDLED = sorted(
    p
    for p in (*REPO.glob("examples/*/corpus/*"), *REPO.glob("pytest_nectar/project_template/**/*"))
    if p.is_file() and p.suffix in (".json", ".jsonl") and "corpus" in p.parts
)


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: str(p.relative_to(REPO)))
def test_bundled_corpora_send_no_host_home_path_email_or_ip(
    path: Path, project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    keyless_env(monkeypatch, str(project.parent))
    _assert_nothing_private_sent(path, capsys)
