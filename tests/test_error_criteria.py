"""The default error criteria: exact on Husky-flattened spans, named in witnesses, documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_nectar.errors import Position
from pytest_nectar.policy.error_criteria import (
    DEFAULT_CRITERIA,
    criteria_of,
    default_error_match,
    markdown_table,
)
from pytest_nectar.policy.match_parser import parse_match
from pytest_nectar.policy.printer import format_match
from pytest_nectar.prover.target import criteria_probes, probe_of
from pytest_nectar.trace import Span, Trace

ROOT = Path(__file__).resolve().parents[1]


def _trace(*spans: dict[str, object]) -> Trace:
    rows = []
    for i, data in enumerate(spans):
        row = {"trace.trace_id": "t1", "trace.span_id": f"s{i}", **data}
        if i:
            row.setdefault("trace.parent_id", "s0")
        rows.append(Span(row, is_root=i == 0))
    return Trace("t1", tuple(rows))


def _met(trace: Trace) -> list[str]:
    return [name for name, probe in criteria_probes(default_error_match()) if probe.holds(trace)]


@pytest.mark.parametrize(
    ("span", "criteria"),
    [
        # Husky: status ERROR gives status_code 2 (int64) and error true
        ({"status_code": 2, "error": True}, ["otel-status-error", "error-flag"]),
        ({"status_code": 1}, []),
        # a Zipkin tag arrives as a string: Datatype bool reads "true"
        ({"error": "true"}, ["error-flag"]),
        ({"error": False}, []),
        ({"http.response.status_code": 503, "span.kind": "server"}, ["http-server-5xx"]),
        # Zipkin and Jaeger carry numbers as strings: Datatype int reads "503"
        ({"http.status_code": "503", "span.kind": "server"}, ["http-server-5xx"]),
        # a client span's 5xx is an error through its status (set by instrumentation)
        ({"http.status_code": 503, "span.kind": "client"}, []),
        ({"http.response.status_code": 499, "span.kind": "server"}, []),
        ({"rpc.grpc.status_code": 14}, ["grpc-server-fault"]),
        ({"rpc.grpc.status_code": "4"}, ["grpc-server-fault"]),
        ({"rpc.grpc.status_code": 5}, []),  # NOT_FOUND is the caller's problem
        ({"rpc.response.status_code": "DATA_LOSS"}, ["grpc-server-fault"]),
        ({"rpc.response.status_code": "CANCELLED"}, []),
        ({"meta.annotation_type": "span_event", "name": "exception"}, ["exception-event"]),
        ({"meta.annotation_type": "link", "name": "exception"}, []),
    ],
)
def test_each_criterion_on_flattened_spans(span: dict[str, object], criteria: list[str]) -> None:
    assert _met(_trace({"name": "root"}, span)) == criteria


def test_default_keyword_extends_and_prints_back() -> None:
    expr = parse_match("default_errors or payment.declined = true", position=Position("x"))
    assert format_match(expr) == "default_errors or payment.declined = true"
    names = [name for name, _ in criteria_of(expr)]
    assert names == [c.name for c in DEFAULT_CRITERIA] + ["payment.declined = true"]
    assert parse_match(format_match(expr), position=Position("x")) == expr


def test_spelled_out_criteria_keep_their_names() -> None:
    expr = parse_match("status_code = 2 or my.flag = true", position=Position("x"))
    assert [name for name, _ in criteria_of(expr)] == ["otel-status-error", "my.flag = true"]


def test_default_compiles_to_exact_refinery_rules() -> None:
    probe = probe_of(default_error_match())
    shown = [
        (r.scope, [(c.fields or (c.field,), c.operator, c.value, c.datatype) for c in r.conditions])
        for r in probe.rules
    ]
    assert shown[0] == (None, [(("status_code",), "=", 2, "int")])
    assert shown[1] == (None, [(("error",), "=", True, "bool")])
    assert shown[2] == (
        "span",
        [
            (("http.response.status_code", "http.status_code"), ">=", 500, "int"),
            (("span.kind",), "=", "server", "string"),
        ],
    )
    assert shown[3] == (None, [(("rpc.grpc.status_code",), "in", (2, 4, 12, 13, 14, 15), "int")])


@pytest.mark.parametrize("doc", ["README.md", "pytest_nectar/policy/policy-language.md"])
def test_the_documented_table_is_the_table(doc: str) -> None:
    assert markdown_table() in (ROOT / doc).read_text(encoding="utf-8")


HTTP_ONLY = """\
nectar_policy{version,name,rules}:
  1
  http-only
  rules[2]{name,description,match,action,priority}:
    keep-5xx,,http.status >= 500,keep,100
    sample-rest,,true,sample(1/100),0
"""


@pytest.mark.usefixtures("realdata")
def test_on_the_real_captures_the_default_fails_a_policy_that_keeps_only_http_5xx(
    tmp_path: Path,
) -> None:
    from pytest_nectar.corpus import load_corpus
    from pytest_nectar.project.settings import parse_cli_error
    from pytest_nectar.prover import Verdict, prove
    from tests.realdata import REALDATA

    corpus = load_corpus([str(REALDATA / d) for d in ("otlp", "jaeger", "zipkin", "honeycomb")])
    policy = tmp_path / "http-only.toon"
    policy.write_text(HTTP_ONLY, encoding="utf-8")
    result = prove(policy, corpus=corpus, properties=["error-preservation"]).results[
        "error-preservation"
    ]
    assert result.verdict is Verdict.FAIL
    by = result.figures["error_traces_by_criterion"]
    assert by["otel-status-error"] > 0 and by["grpc-server-fault"] > 0
    named = {b.criterion for w in result.witnesses for b in w.because}
    assert "otel-status-error" in named
    for w in result.witnesses:
        assert w.rule == "sample-rest" and w.because  # each says which criterion, which span
        assert all(m.span is not None for b in w.because for m in b.matches)
    # with the HTTP-only expression the same policy passes: the default is what changed
    http = parse_cli_error("http.status >= 500")
    old = prove(policy, corpus=corpus, properties=["error-preservation"], error=http)
    assert old.results["error-preservation"].verdict is Verdict.PASS
