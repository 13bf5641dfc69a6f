"""``nectar compile --check --deployed URL`` against a stub Refinery query API on 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_nectar.cli import main
from tests.plugin_support import PYPROJECT, SAFE_POLICY

TOKEN = "s3cret-token-value"


class _Refinery(http.server.BaseHTTPRequestHandler):
    """Refinery's /query routes: the token check of route/middleware.go, its error body."""

    rules_text = ""
    token = TOKEN

    def do_GET(self) -> None:
        sent = self.headers.get("X-Honeycomb-Refinery-Query", "")
        if sent != self.token:
            body = (
                '{"source":"refinery","error":"unknown API key - check your credentials: token '
                f'{sent} found in X-Honeycomb-Refinery-Query not authorized for query"}}'
            )
            self._send(400, body.encode(), "application/json")
            return
        if self.path == "/query/configmetadata":
            md5 = hashlib.md5(self.rules_text.encode()).hexdigest()
            meta = [
                {
                    "type": "config",
                    "id": "/etc/refinery/refinery.yaml",
                    "hash": "0" * 32,
                    "loaded_at": "2026-01-01T00:00:00Z",
                },
                {
                    "type": "rules",
                    "id": "/etc/refinery/rules.yaml",
                    "hash": md5,
                    "loaded_at": "2026-01-01T00:00:00Z",
                },
            ]
            self._send(200, json.dumps(meta).encode(), "application/json")
        elif self.path == "/query/allrules/yaml":
            self._send(200, self.rules_text.encode(), "application/yaml")
        else:
            self._send(404, b"404 page not found\n", "text/plain")

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def refinery() -> Iterator[tuple[str, type[_Refinery]]]:
    handler = type("Handler", (_Refinery,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Path:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "shop.toon").write_text(SAFE_POLICY)
    (tmp_path / "pyproject.toml").write_text(PYPROJECT.replace('corpus = "corpus/"\n', ""))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NECTAR_REFINERY_QUERY_TOKEN", TOKEN)
    assert main(["compile"]) == 0
    capsys.readouterr()
    return tmp_path


def test_pass_against_the_compiled_rules(
    project: Path, refinery: tuple[str, type[_Refinery]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, handler = refinery
    handler.rules_text = (project / "rules.yaml").read_text()
    assert main(["compile", "--check", "--deployed", url]) == 0
    out = capsys.readouterr().out
    md5 = hashlib.md5((project / "rules.yaml").read_bytes()).hexdigest()
    assert out == f"rules.yaml and nectar.lock are up to date\n{url} has loaded them (md5 {md5})\n"


def test_older_rules_fail_naming_the_difference(
    project: Path, refinery: tuple[str, type[_Refinery]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, handler = refinery
    current = (project / "rules.yaml").read_text()
    older = current.replace("SampleRate: 10", "SampleRate: 100")
    assert older != current
    handler.rules_text = older
    assert main(["compile", "--check", "--deployed", url]) == 1
    err = capsys.readouterr().err
    old_md5 = hashlib.md5(older.encode()).hexdigest()
    new_md5 = hashlib.md5(current.encode()).hexdigest()
    assert (
        f"{url}: the loaded rules' md5 is {old_md5}, nectar.lock records {new_md5} "
        "(rules loaded from /etc/refinery/rules.yaml at 2026-01-01T00:00:00Z)" in err
    )
    assert "RulesBasedSampler.Rules[2] 'sample-rest'.SampleRate: deployed 100, compiled 10" in err
    assert TOKEN not in err


def test_same_rules_other_bytes_still_fail(
    project: Path, refinery: tuple[str, type[_Refinery]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, handler = refinery
    handler.rules_text = "# deployed by hand\n" + (project / "rules.yaml").read_text()
    assert main(["compile", "--check", "--deployed", url]) == 1
    assert "differs only in bytes (comments, formatting or key order)" in capsys.readouterr().err


def test_wrong_token_is_a_clear_error_and_never_printed(
    project: Path,
    refinery: tuple[str, type[_Refinery]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, handler = refinery
    handler.rules_text = (project / "rules.yaml").read_text()
    monkeypatch.setenv("NECTAR_REFINERY_QUERY_TOKEN", "wrong-token-value")
    assert main(["compile", "--check", "--deployed", url]) == 2
    captured = capsys.readouterr()
    assert "wrong-token-value" not in captured.err + captured.out
    assert f"the Refinery at {url} refused /query/configmetadata (HTTP 400)" in captured.err
    assert "token *** found in X-Honeycomb-Refinery-Query not authorized for query" in captured.err
    assert (
        "check NECTAR_REFINERY_QUERY_TOKEN: Refinery did not accept the query token" in captured.err
    )
    monkeypatch.delenv("NECTAR_REFINERY_QUERY_TOKEN")
    assert main(["compile", "--check", "--deployed", url]) == 2
    assert (
        "set NECTAR_REFINERY_QUERY_TOKEN to the Refinery's QueryAuthToken"
        in capsys.readouterr().err
    )


def test_unreachable_is_exit_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    assert main(["compile", "--check", "--deployed", url]) == 2
    err = capsys.readouterr().err
    assert f"cannot reach the Refinery at {url}" in err
    assert TOKEN not in err
    assert main(["compile", "--deployed", url]) == 2
    assert "--deployed needs --check" in capsys.readouterr().err
