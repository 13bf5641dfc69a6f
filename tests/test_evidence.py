"""No vacuous green: rates per capture, no-evidence and not-exercised warnings, and
simulations of no traffic are errors; ``strict`` turns each warning into a failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_nectar.cli import main
from pytest_nectar.corpus import load_corpus
from pytest_nectar.corpus.captures import learn_rate
from pytest_nectar.prover import Verdict, prove

YEAR = 365 * 86400


def otlp(path: Path, traces: list[tuple[float, int]], *, status: int = 200) -> Path:
    """One OTLP JSON Lines file: per ``(start second, spans)`` a trace of server spans 1 s long."""
    lines = []
    for t, (start, spans) in enumerate(traces):
        nanos = int(start * 1e9)
        out = []
        for s in range(spans):
            out.append(
                {
                    "traceId": f"{t + 1:032x}",
                    "spanId": f"{t + 1:08x}{s + 1:08x}",
                    **({"parentSpanId": f"{t + 1:08x}{1:08x}"} if s else {}),
                    "name": "GET /",
                    "kind": 2,
                    "startTimeUnixNano": str(nanos),
                    "endTimeUnixNano": str(nanos + 1_000_000_000),
                    "attributes": [
                        {"key": "http.response.status_code", "value": {"intValue": str(status)}}
                    ],
                }
            )
        resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "shop"}}]}
        lines.append(
            json.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": out}]}]})
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


POLICY = """\
nectar_policy{version,name,budget_per_second,rules}:
  1
  shop
  BUDGET
  rules[2]{name,description,match,action,priority}:
    keep-errors,,default_errors,keep,100
    sample-rest,,true,sample(1/10),0
"""


def policy(folder: Path, budget: int = 1000) -> Path:
    path = folder / "shop.toon"
    path.write_text(POLICY.replace("BUDGET", str(budget)), encoding="utf-8")
    return path


def test_captures_years_apart_give_per_capture_rates(tmp_path: Path) -> None:
    # two 100-second captures a year apart: 2 traces/s each, not 4e-6 traces/s
    first = [(1_600_000_000 + i * 0.5, 1) for i in range(200)]
    second = [(1_600_000_000 + YEAR + i * 0.5, 1) for i in range(200)]
    corpus = load_corpus(otlp(tmp_path / "c.jsonl", first + second), cache=False)
    rate = learn_rate(corpus)
    assert len(rate.captures) == 2
    # a capture lasts from its first to its last event (Husky stamps a span at its start)
    assert rate.traces_per_s == pytest.approx(400 / (2 * 99.5))
    assert "learned from 2 capture(s)" in rate.why and "per capture" in rate.why


def test_a_corpus_of_instants_yields_no_traffic_and_vopr_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    # two single-trace captures a year apart: no capture lasts long enough to time
    corpus = otlp(tmp_path / "c.jsonl", [(1_600_000_000, 1), (1_600_000_000 + YEAR, 1)])
    rate = learn_rate(load_corpus(corpus, cache=False))
    assert len(rate.captures) == 2 and rate.traces_per_s is None
    args = ["vopr", str(policy(tmp_path)), "--corpus", str(corpus), "--campaign", "chaos"]
    assert main([*args, "--iterations", "3", "--workers", "1"]) == 2
    assert capsys.readouterr().err == (
        "the corpus yields no traffic to simulate; got 'no capture of the corpus lasts "
        "1 s or more (2 capture(s) split at gaps over 3600 s)'; set traffic "
        '(e.g. "2000 traces/s") or pass --rate\n'
    )


def test_a_simulation_of_no_trace_is_an_error_and_of_few_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    corpus = otlp(tmp_path / "c.jsonl", [(1_600_000_000 + i, 1) for i in range(3)])
    args = ["vopr", str(policy(tmp_path)), "--corpus", str(corpus), "--campaign", "chaos"]
    args += ["--iterations", "3", "--workers", "1"]
    assert main([*args, "--rate", "0.00001"]) == 1
    out = capsys.readouterr().out
    assert "0 traces (0 kept)" in out
    assert (
        "ERROR: simulated no trace: nothing was checked (traffic 1e-05 traces/s, given by --rate)"
        in out
    )
    assert main([*args, "--rate", "2"]) == 0
    out = capsys.readouterr().out
    assert "WARNING: simulated only 10 traces, under the minimum of 100" in out
    assert main([*args, "--rate", "2", "--strict"]) == 1


def test_no_error_trace_is_no_evidence_not_a_pass(tmp_path: Path) -> None:
    corpus = load_corpus(otlp(tmp_path / "c.jsonl", [(1_600_000_000 + i, 2) for i in range(50)]))
    result = prove(policy(tmp_path), corpus=corpus).results["error-preservation"]
    assert result.verdict is Verdict.WARN
    assert result.summary == (
        "no evidence on the corpus: none of its 50 traces is an error trace (default_errors); "
        "error-preservation-all decides it for every possible trace"
    )
    assert result.figures["error_traces"] == 0 and result.figures["traces"] == 50


def test_errors_are_counted_per_criterion(tmp_path: Path) -> None:
    ok = otlp(tmp_path / "ok.jsonl", [(1_600_000_000 + i, 1) for i in range(5)])
    bad = otlp(tmp_path / "bad.jsonl", [(1_600_000_100 + i, 1) for i in range(3)], status=503)
    corpus = load_corpus([str(ok), str(bad)], cache=False)
    result = prove(policy(tmp_path), corpus=corpus).results["error-preservation"]
    assert result.verdict is Verdict.PASS
    assert result.figures["error_traces_by_criterion"]["http-server-5xx"] == 3


def test_a_budget_the_traffic_never_approaches_warns_and_traffic_exercises_it(
    tmp_path: Path,
) -> None:
    corpus = load_corpus(otlp(tmp_path / "c.jsonl", [(1_600_000_000 + i, 2) for i in range(100)]))
    loose = prove(policy(tmp_path, budget=10000), corpus=corpus).results["budget"]
    assert loose.verdict is Verdict.WARN
    assert loose.summary.startswith(
        "not exercised: even keeping every event, the traffic peaks at 2 events/s, under 10% of "
        "the budget 10000 events/s"
    )
    from pytest_nectar.project.settings import Traffic

    busy = prove(
        policy(tmp_path, budget=10000), corpus=corpus, traffic=Traffic(60000, "traces")
    ).results["budget"]
    # 60000 traces/s of 2 events, 1 in 10 kept: 12000 kept events/s
    assert busy.verdict is Verdict.FAIL
    assert busy.figures["mean_events_per_second"] == pytest.approx(12000)
    assert busy.figures["traffic"] == "60000 traces/s"
    assert busy.figures["traffic_scale"] == pytest.approx(60000 / (100 / 99.0))


def test_strict_prove_fails_on_no_evidence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    corpus = otlp(tmp_path / "c.jsonl", [(1_600_000_000 + i, 2) for i in range(50)])
    args = ["prove", str(policy(tmp_path, budget=5)), "--corpus", str(corpus)]
    assert main(args) == 0
    assert "WARN    error-preservation: no evidence on the corpus" in capsys.readouterr().out
    assert main([*args, "--strict"]) == 1


PYTEST_PROJECT = """\
[tool.nectar]
policies = ["policies/*.toon"]
corpus = "corpus/"
seeds = 0
"""


def test_pytest_items_warn_and_fail_under_strict(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", pyproject=PYTEST_PROJECT)
    (pytester.path / "policies").mkdir()
    policy(pytester.path / "policies", budget=10000)
    (pytester.path / "corpus").mkdir()
    otlp(pytester.path / "corpus" / "c.jsonl", [(1_600_000_000 + i, 2) for i in range(50)])
    quiet = ("-p", "no:cacheprovider", "-W", "default")
    loose = pytester.runpytest_inprocess(*quiet, "-k", "error-preservation or budget")
    loose.assert_outcomes(passed=3)  # with two NectarLintWarnings:
    loose.stdout.fnmatch_lines(
        [
            "*NectarLintWarning: error-preservation: WARN for policy 'shop'*",
            "*verdict: no evidence on the corpus: none of its 50 traces is an error trace*",
            "*NectarLintWarning: budget: WARN for policy 'shop'*",
            "*verdict: not exercised: even keeping every event*",
        ]
    )
    strict = pytester.runpytest_inprocess(
        *quiet, "-k", "error-preservation or budget", "--nectar-strict"
    )
    strict.assert_outcomes(passed=1, failed=2)
