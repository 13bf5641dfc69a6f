"""Corpus proofs on the quickstart's generated shop corpus (examples/quickstart/corpus)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_nectar.errors import Position
from pytest_nectar.policy.match_parser import parse_match
from pytest_nectar.policy.model import Expr
from pytest_nectar.prover import Verdict, prove
from pytest_nectar.prover.engine import load_target
from pytest_nectar.refinery.reference import Evaluator
from pytest_nectar.trace import Span, Trace
from tests.realdata import REALDATA

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "examples" / "quickstart" / "corpus"
SEED_POLICY = ROOT / "examples" / "quickstart" / "policies" / "production.toon"
DEMO_RULES = REALDATA / "refinery-rules" / "devreldemo-rules.yaml"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from pytest_nectar.corpus import load_corpus

    return load_corpus(CORPUS, cache_dir=tmp_path_factory.mktemp("cache"))


def _brute_failing(
    target_path: str, corpus, env: str | None = None, error: str | None = None
) -> set[str]:  # type: ignore[no-untyped-def]
    """Error traces whose reference decision is not a certain keep, trace by trace."""
    parsed = None if error is None else parse_match(error, position=Position("test", 1, 1))
    target = load_target(target_path, env=env, error=parsed)
    evaluator = Evaluator(target.rules_file, target.env)
    out = set()
    for trace in corpus.iter_traces():
        if target.error.holds(trace) and evaluator.decide(trace).keep is not True:
            out.add(trace.trace_id)
    return out


DROPS_CART = """nectar_policy{version,name,error,rules}:
  1
  drops-cart
  http.status >= 500
  rules[3]{name,match,action,priority}:
    drop-cart,"http.route = \\"/api/cart\\"",drop,100
    keep-errors,http.status >= 500,keep,50
    rest,true,sample(0.1),0
"""


def test_policy_dropping_some_5xx_fails_and_names_them(tmp_path: Path, corpus) -> None:  # type: ignore[no-untyped-def]
    policy = tmp_path / "drops.toon"
    policy.write_text(DROPS_CART)
    report = prove(policy, corpus=corpus, properties=["error-preservation"])
    result = report.results["error-preservation"]
    expected = _brute_failing(str(policy), corpus)
    assert expected, "the corpus has 5xx traces on /api/cart"
    assert result.verdict is Verdict.FAIL
    assert set(result.figures["failing_trace_ids"]) == expected
    assert result.total_failing == len(expected)
    witness = result.witnesses[0]
    assert witness.rule == "drop-cart"
    assert witness.decision.startswith("drop")
    assert witness.matches[0].value == "/api/cart"
    # a corpus with no path to name: no command that could not run as printed
    assert witness.command is None
    assert [b.criterion for b in witness.because] == ["http.status >= 500"]


def test_seed_policy_passes_fallback_and_error_preservation(corpus) -> None:  # type: ignore[no-untyped-def]
    report = prove(SEED_POLICY, corpus=corpus)
    assert report.results["fallback"].verdict is Verdict.PASS
    assert report.results["error-preservation"].verdict is Verdict.PASS
    assert report.results["error-preservation-all"].verdict is Verdict.PASS
    assert report.decisions is not None and len(report.decisions) == corpus.n_traces


@pytest.mark.usefixtures("realdata")
def test_demo_rules_property_by_property(corpus) -> None:  # type: ignore[no-untyped-def]
    # HTTP errors: what the DevRel rules mean to keep (the default criteria ask for more)
    http = parse_match("http.status >= 500", position=Position("test", 1, 1))
    report = prove(DEMO_RULES, corpus=corpus, env="demo", budget=50, error=http)
    verdicts = {k: r.verdict for k, r in report.results.items()}
    assert verdicts["fallback"] is Verdict.PASS
    assert verdicts["error-preservation"] is Verdict.PASS
    assert _brute_failing(str(DEMO_RULES), corpus, "demo", "http.status >= 500") == set()
    # The rules read only http.status_code; an error reported as http.response.status_code
    # (the new convention) with a 2xx/3xx root falls to the dynamic sampler.
    every = report.results["error-preservation-all"]
    assert every.verdict is Verdict.FAIL
    witness = every.witnesses[0]
    assert witness.rule in ("Dynamically Sample 200s through 400s", "Catchall rule")
    assert witness.spans is not None
    trace = Trace(witness.trace_id, tuple(Span(s["data"], s["root"]) for s in witness.spans))
    target = load_target(str(DEMO_RULES), env="demo", error=http)
    assert target.error.holds(trace)
    assert Evaluator(target.rules_file, "demo").decide(trace).keep is not True
    assert verdicts["budget"] is Verdict.PASS
    # Every condition on the mixed http.status_code has Datatype: int: no hazard to warn of.
    assert verdicts["mixed-types"] is Verdict.PASS
    assert verdicts["unreachable-rules"] is Verdict.WARN
    assert "'Keep long duration traces'" in report.results["unreachable-rules"].summary
    assert verdicts["shadowed-rules"] is Verdict.PASS


UNTYPED = """RulesVersion: 2
Samplers:
  __default__:
    RulesBasedSampler:
      Rules:
        - Name: keep errors
          SampleRate: 1
          Conditions:
            - {Field: http.status_code, Operator: '>=', Value: 500}
        - Name: rest
          SampleRate: 10
"""


def _status_error() -> Expr:
    return parse_match("http.status_code >= 500", position=Position("test", 1, 1))


def test_untyped_error_rule_misses_string_statuses(tmp_path: Path, corpus) -> None:  # type: ignore[no-untyped-def]
    rules = tmp_path / "untyped.yaml"
    rules.write_text(UNTYPED)
    report = prove(rules, corpus=corpus, error=_status_error())
    # The shop's edge proxy reports its status as a string, like Envoy: a trace whose only
    # 5xx is the proxy's "503" is sampled by the untyped rule, on the corpus ...
    result = report.results["error-preservation"]
    assert result.verdict is Verdict.FAIL
    failing = _brute_failing(str(rules), corpus, error="http.status_code >= 500")
    assert failing and result.total_failing == len(failing)
    assert set(result.figures["failing_trace_ids"]) <= failing
    for trace_id in failing:
        spans = corpus.trace(corpus.trace_index(trace_id)).spans
        statuses = [s.data.get("http.status_code") for s in spans]
        assert not any(isinstance(v, int) and v >= 500 for v in statuses)
    assert "http.status_code (int 77, string 299)" in report.results["mixed-types"].summary
    # ... and for all traces, a trace whose status arrives only as a string.
    every = report.results["error-preservation-all"]
    assert every.verdict is Verdict.FAIL
    witness = every.witnesses[0]
    assert witness.rule == "rest"
    assert witness.spans is not None
    values = [s["data"].get("http.status_code") for s in witness.spans]
    assert any(isinstance(v, str) for v in values) and not any(isinstance(v, int) for v in values)
    trace = Trace(witness.trace_id, tuple(Span(s["data"], s["root"]) for s in witness.spans))
    assert Evaluator(load_target(str(rules)).rules_file).decide(trace).rule_name == "rest"
    # With Datatype: int the same rule keeps every error trace, proven for all traces.
    rules.write_text(UNTYPED.replace("Value: 500}", "Value: 500, Datatype: int}"))
    typed = prove(rules, error=_status_error(), properties=["error-preservation-all"])
    assert typed.results["error-preservation-all"].verdict is Verdict.PASS


def test_must_keep_labels_and_expressions(tmp_path: Path, corpus) -> None:  # type: ignore[no-untyped-def]
    policy = tmp_path / "mk.toon"
    policy.write_text(
        "nectar_policy{version,name,must_keep,rules}:\n  1\n  mk\n"
        '  [1]: "service.name = \\"frontend\\""\n'
        "  rules[2]{name,match,action,priority}:\n"
        "    keep-errors,http.status >= 500,keep,50\n    rest,true,sample(0.5),0\n"
    )
    report = prove(policy, corpus=corpus, properties=["must-keep", "must-keep-all"])
    assert report.results["must-keep"].verdict is Verdict.FAIL
    assert report.results["must-keep-all"].verdict is Verdict.FAIL


def test_probes_from_the_shared_pass_equal_separate_probe_passes(tmp_path: Path, corpus) -> None:  # type: ignore[no-untyped-def]
    from pytest_nectar.prover.corpus_proofs import CorpusContext

    policy = tmp_path / "mk.toon"
    policy.write_text(
        "nectar_policy{version,name,error,must_keep,rules}:\n  1\n  mk\n"
        '  "http.status >= 500 or span(service.name = \\"cart\\" and duration > 50ms)"\n'
        '  [2]: "service.name = \\"frontend\\"","http.status = 404"\n'
        "  rules[2]{name,match,action,priority}:\n"
        "    keep-errors,http.status >= 500,keep,50\n    rest,true,sample(0.5),0\n"
    )
    target = load_target(str(policy))
    shared = CorpusContext.evaluate(target, corpus, None)
    assert shared.probed_error is not None and shared.probed_must_keep is not None
    separate = CorpusContext(target, corpus, None, shared.decisions, shared.evaluator)
    assert shared.error_mask.tolist() == target.error.corpus_mask(corpus).tolist()
    assert shared.error_mask.tolist() == separate.error_mask.tolist()
    assert shared.error_mask.any() and shared.must_keep_mask.any()
    assert shared.must_keep_mask.tolist() == separate.must_keep_mask.tolist()
    by_reference = [target.error.holds(t) for t in corpus.iter_traces()]
    assert shared.error_mask.tolist() == by_reference
