"""``nectar reconcile``: corpora built from the real captures, with Refinery's decision fields
written as Refinery writes them (``collect.go`` ``sendTraces``/``mergeTraceAndSpanSampleRates``)
from the decisions of the rules, then some traces altered and named."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from pytest_nectar.cli import main
from pytest_nectar.corpus import load_corpus
from pytest_nectar.errors import CorpusError
from pytest_nectar.refinery.reconcile import reconcile
from pytest_nectar.refinery.reference import Evaluator
from pytest_nectar.refinery.rules_reader import read_rules_text
from tests.realdata import REALDATA

CAPTURES = REALDATA / "otlp"

RULES = """\
RulesVersion: 2
Samplers:
  __default__:
    RulesBasedSampler:
      Rules:
        - Name: keep errors
          SampleRate: 1
          Conditions:
            - Field: error
              Operator: '='
              Value: true
        - Name: frontend by route
          Conditions:
            - Field: service.name
              Operator: '='
              Value: frontend
              Datatype: string
          Sampler:
            EMADynamicSampler:
              GoalSampleRate: 4
              FieldList: [name, service.name]
        - Name: fs access
          SampleRate: 3
          Conditions:
            - Field: name
              Operator: starts-with
              Value: fs
        - Name: drop health
          Drop: true
          Conditions:
            - Field: name
              Operator: contains
              Value: health
        - Name: rule on the root flag
          SampleRate: 2
          Scope: span
          Conditions:
            - Field: meta.refinery.root
              Operator: '='
              Value: true
            - Field: library.name
              Operator: exists
  other:
    DeterministicSampler:
      SampleRate: 5
"""


@pytest.fixture
def capture(realdata: Path) -> Any:
    """The real OTLP captures (read in place; the fixture skips when they are absent)."""
    return load_corpus([str(realdata / "otlp")], cache=False)


def export(
    corpus: Any, rules_text: str, env: str | None, *, dry_run: bool, seed: int = 7
) -> list[dict[str, Any]]:
    """The spans a Refinery running these rules sends, decorated as it decorates them."""
    rng = random.Random(seed)
    evaluator = Evaluator(read_rules_text(rules_text, "rules.yaml").rules_file, env)
    events = []
    for i in range(corpus.n_traces):
        trace = corpus.trace(i)
        d = evaluator.decide(trace)
        keep = d.keep if d.keep is not None else rng.random() < d.keep_probability
        if not keep and not dry_run:
            continue  # dropped traces are not sent
        for span in trace.spans:
            data = dict(span.data)
            data["meta.refinery.reason"] = d.reason
            data["meta.refinery.send_reason"] = "trace_send_got_root"
            data["meta.refinery.local_hostname"] = "refinery-0"
            if d.key:
                data["meta.refinery.sample_key"] = d.key
            data["meta.refinery.original_sample_rate"] = 1  # husky's incoming rate
            if dry_run:
                data["meta.refinery.dryrun.kept"] = keep
                data["meta.dryrun.sample_rate"] = d.rate
            else:
                data["meta.refinery.final_sample_rate"] = d.rate
            if span.is_root:
                data["meta.span_count"] = len(trace.spans)  # AddSpanCountToRoot
            events.append({"data": data, "samplerate": max(d.rate, 1)})
    return events


def _write(tmp_path: Path, events: list[dict[str, Any]], name: str = "export.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(events))
    return path


def _load(path: Path) -> Any:
    return load_corpus([str(path)], json_ints=True, cache=False)


@pytest.mark.parametrize(("env", "dry_run"), [(None, False), (None, True), ("other", True)])
def test_full_agreement_on_refinery_written_fields(
    capture: Any, tmp_path: Path, env: str | None, dry_run: bool
) -> None:
    path = _write(tmp_path, export(capture, RULES, env, dry_run=dry_run))
    rules = read_rules_text(RULES, "rules.yaml").rules_file
    result = reconcile(rules, _load(path), env)
    assert result.ok, [m.to_json() for m in result.mismatches[:3]]
    assert result.compared > 0 and result.agreed == result.compared
    if dry_run:
        assert result.compared == capture.n_traces  # dry run sends every trace
    compared, agreed = result.aspects["rule"]
    assert compared == agreed == result.compared
    assert result.aspects["keep"][0] > 0
    assert result.aspects["rate"][0] > 0


def test_altered_traces_are_named(
    capture: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = export(capture, RULES, None, dry_run=True)
    ids = sorted({e["data"]["trace.trace_id"] for e in events})
    reason_id, rate_id, key_id, keep_id = ids[3], ids[10], None, None
    for e in events:
        if e["data"].get("meta.refinery.sample_key") and key_id is None:
            key_id = e["data"]["trace.trace_id"]
    assert key_id is not None
    for e in events:
        data = e["data"]
        tid = data["trace.trace_id"]
        if tid == reason_id:
            data["meta.refinery.reason"] = "rules/trace/some other rule"
        elif tid == rate_id:
            data["meta.dryrun.sample_rate"] = 1000
        elif tid == key_id:
            data["meta.refinery.sample_key"] = "another•key,"
    # flip the recorded keep of one trace Nectar decides deterministically
    deterministic = {
        e["data"]["trace.trace_id"]
        for e in events
        if e["data"]["meta.refinery.reason"]
        in ("rules/trace/keep errors", "rules/trace/drop health")
    } - {reason_id, rate_id, key_id}
    keep_id = sorted(deterministic)[0]
    for e in events:
        if e["data"]["trace.trace_id"] == keep_id:
            e["data"]["meta.refinery.dryrun.kept"] = not e["data"]["meta.refinery.dryrun.kept"]
    path = _write(tmp_path, events)
    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text(RULES)
    assert main(["reconcile", str(rules_path), "--corpus", str(path), "--json-ints"]) == 1
    out = capsys.readouterr().out
    for tid in (reason_id, rate_id, key_id, keep_id):
        assert f"DISAGREE trace {tid}: " in out
    assert out.count("DISAGREE trace ") == 4
    assert f"DISAGREE trace {reason_id}: rule differ" in out
    assert "refinery: reason 'rules/trace/some other rule'" in out
    assert f"DISAGREE trace {rate_id}: rate differ" in out
    assert f"DISAGREE trace {key_id}: key differ" in out
    assert f"DISAGREE trace {keep_id}: keep differ" in out
    assert out.endswith("result: 4 disagree\n")
    assert main(["reconcile", str(rules_path), "--corpus", str(path), "--json-ints", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert sorted(m["trace_id"] for m in doc["mismatches"]) == sorted(
        [reason_id, rate_id, key_id, keep_id]
    )
    assert doc["compared"] == capture.n_traces and doc["agreed"] == capture.n_traces - 4


def test_cli_agreement_text(
    capture: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, export(capture, RULES, None, dry_run=False))
    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text(RULES)
    assert main(["reconcile", str(rules_path), "--corpus", str(path), "--json-ints"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"reconcile {rules_path} (environment __default__): ")
    assert "agreement: " in out and "(100.0%)" in out
    assert out.endswith("result: all agree\n")


def test_zero_evidence_is_an_error(
    capture: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text(RULES)
    assert main(["reconcile", str(rules_path), "--corpus", str(CAPTURES)]) == 2
    err = capsys.readouterr().err
    assert "the corpus has no Refinery decision fields: nothing to reconcile" in err
    with pytest.raises(CorpusError):
        reconcile(read_rules_text(RULES, "r.yaml").rules_file, capture)


def test_late_spans_take_no_part_in_the_decision(tmp_path: Path) -> None:
    # Refinery decided on the root alone (1 span); a late child then made the trace 2 long
    rules = read_rules_text(
        """\
RulesVersion: 2
Samplers:
  __default__:
    RulesBasedSampler:
      Rules:
        - Name: short
          SampleRate: 1
          Conditions:
            - {Field: '?.NUM_DESCENDANTS', Operator: '=', Value: 1, Datatype: int}
""",
        "r.yaml",
    ).rules_file
    events = [
        {"data": {"trace.trace_id": "t", "meta.refinery.reason": "rules/trace/short"}},
        {
            "data": {
                "trace.trace_id": "t",
                "trace.parent_id": "r",
                "meta.refinery.reason": "rules/trace/short - late arriving span",
            }
        },
    ]
    result = reconcile(rules, _load(_write(tmp_path, events)))
    assert result.ok and result.agreed == 1


def test_late_spans_and_inconsistent_records(tmp_path: Path) -> None:
    rules = read_rules_text(RULES, "r.yaml").rules_file
    base = {"trace.trace_id": "t1", "error": True, "meta.refinery.final_sample_rate": 1}
    events = [
        {"data": {**base, "meta.refinery.reason": "rules/trace/keep errors"}},
        {
            "data": {
                **base,
                "trace.parent_id": "p",
                "meta.refinery.reason": "rules/trace/keep errors - late arriving span",
            }
        },
        {
            "data": {
                "trace.trace_id": "t2",
                "meta.refinery.reason": "a",
                "meta.refinery.final_sample_rate": 1,
            }
        },
        {"data": {"trace.trace_id": "t2", "trace.parent_id": "p", "meta.refinery.reason": "b"}},
        {
            "data": {
                "trace.trace_id": "t3",
                "meta.stressed": True,
                "meta.refinery.reason": "stress_relief/always",
            }
        },
    ]
    result = reconcile(rules, _load(_write(tmp_path, [e for e in events])))
    assert result.agreed == 1
    (mismatch,) = result.mismatches
    assert mismatch.trace_id == "t2" and mismatch.refinery.conflict == "spans record 2 reasons"
    assert ("t3", "decided by stress relief, not by the rules") in result.not_compared


# --- the pytest item ---------------------------------------------------------------------------

pytest_plugins = ["pytester"]


def _decorated_corpus(tmp: Path, alter: str | None = None) -> str:
    """The plugin project's corpus as a dry-run Refinery running its compiled rules sends it."""
    from pytest_nectar.compiler.compile import compile_policies
    from pytest_nectar.policy.parser import parse_policy
    from tests.plugin_support import SAFE_POLICY, corpus_lines

    raw = tmp / "raw.jsonl"
    raw.write_text("\n".join(corpus_lines()) + "\n")
    corpus = load_corpus([str(raw)], cache=False)
    policy = parse_policy(SAFE_POLICY, path="shop.toon")
    compiled = compile_policies([policy])
    evaluator = Evaluator(compiled.rules_file, policy.effective_environment)
    decisions = {
        corpus.trace_ids[i]: evaluator.decide(corpus.trace(i)) for i in range(corpus.n_traces)
    }
    lines = []
    for line in corpus_lines():
        event = json.loads(line)
        d = decisions[event["trace.trace_id"]]
        event["meta.refinery.reason"] = d.reason
        event["meta.refinery.dryrun.kept"] = bool(d.keep) if d.keep is not None else True
        event["meta.dryrun.sample_rate"] = d.rate
        if event["trace.trace_id"] == alter:
            event["meta.refinery.reason"] = "rules/trace/hand edited"
        lines.append(json.dumps(event))
    return "\n".join(lines) + "\n"


def test_pytest_item_reconciles_a_corpus_with_decision_fields(pytester: pytest.Pytester) -> None:
    from tests.plugin_support import make_project, run

    make_project(pytester)
    events = pytester.path / "corpus" / "events.jsonl"
    events.write_text(_decorated_corpus(pytester.path / ".."))
    result = run(pytester, "-m", "nectar_corpus", "-v")
    result.stdout.fnmatch_lines(["*::corpus-reconcile PASSED*"])
    events.write_text(_decorated_corpus(pytester.path / "..", alter="err1"))
    result = run(pytester, "-m", "nectar_corpus")
    out = result.stdout.str()
    assert "corpus-reconcile: FAIL: 1 of 14 traces: Refinery's recorded decision differs" in out
    assert "trace err1: rule differ" in out


def test_no_reconcile_item_without_decision_fields(pytester: pytest.Pytester) -> None:
    from tests.plugin_support import make_project, run

    make_project(pytester)
    result = run(pytester, "-m", "nectar_corpus", "--collect-only", "-q")
    assert "corpus-reconcile" not in result.stdout.str()
