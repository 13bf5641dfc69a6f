"""``nectar replay`` end to end: every trace's decision and the totals per rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_nectar.cli import main
from pytest_nectar.corpus import load_corpus
from pytest_nectar.refinery.reference import Evaluator
from pytest_nectar.refinery.rules_reader import read_rules

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
              Datatype: bool
        - Name: drop checkout
          Drop: true
          Conditions:
            - Field: service.name
              Operator: starts-with
              Value: checkout
        - Name: rest
          Sampler:
            EMADynamicSampler:
              GoalSampleRate: 5
              FieldList: [service.name]
  prod:
    DeterministicSampler:
      SampleRate: 10
"""


@pytest.fixture
def workspace(tmp_path: Path, realdata: Path) -> tuple[Path, Path]:
    corpus = realdata / "otlp" / "oteltui-test_data.json"  # read in place
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    return rules, corpus


def _replay(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["replay", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_has_every_trace_with_the_reference_decision(
    workspace: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    rules, corpus_path = workspace
    code, out, _ = _replay(capsys, str(rules), "--corpus", str(corpus_path), "--json")
    assert code == 0
    doc: dict[str, Any] = json.loads(out)
    corpus = load_corpus(corpus_path)
    evaluator = Evaluator(read_rules(str(rules)).rules_file)
    assert doc["corpus"]["traces"] == corpus.n_traces == 141
    assert [d["trace_id"] for d in doc["decisions"]] == list(corpus.trace_ids)
    for i, entry in enumerate(doc["decisions"]):
        expected = evaluator.decide(corpus.trace(i)).to_json()
        assert {k: v for k, v in entry.items() if k != "trace_id"} == expected
    totals = {t["rule"]: t for t in doc["totals"]}
    assert set(totals) == {"keep errors", "drop checkout", "rest"}
    assert sum(t["traces"] for t in doc["totals"]) == 141
    assert sum(t["events"] for t in doc["totals"]) == corpus.n_rows
    errors = [d for d in doc["decisions"] if d["rule"] == "keep errors"]
    assert totals["keep errors"]["traces"] == len(errors) == 59
    assert totals["keep errors"]["expected_kept_traces"] == 59
    assert totals["drop checkout"]["expected_kept_traces"] == 0
    rest = totals["rest"]
    assert rest["expected_kept_traces"] == pytest.approx(rest["traces"] / 5)
    assert doc["destination"] == "__default__"
    # Same inputs, same bytes.
    assert _replay(capsys, str(rules), "--corpus", str(corpus_path), "--json")[1] == out


def test_env_picks_the_destination(
    workspace: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    rules, corpus_path = workspace
    code, out, _ = _replay(
        capsys, str(rules), "--corpus", str(corpus_path), "--env", "prod", "--json", "--totals-only"
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["destination"] == "prod"
    assert "decisions" not in doc
    assert [(t["rule"], t["traces"]) for t in doc["totals"]] == [(None, 141)]
    kept = doc["totals"][0]["expected_kept_traces"]
    assert 0 < kept < 141 and float(kept).is_integer()  # deterministic: keep or drop


def test_terminal_tables(workspace: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    rules, corpus_path = workspace
    code, out, _ = _replay(capsys, str(rules), "--corpus", str(corpus_path))
    assert code == 0
    assert "Totals per rule (__default__)" in out
    assert "0: keep errors" in out
    assert "rules/trace/rest:emadynamic" in out
    corpus = load_corpus(corpus_path)
    assert corpus.trace_ids[0][:8] in out


def test_bad_inputs_are_located_errors(
    workspace: tuple[Path, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rules, corpus_path = workspace
    missing = tmp_path / "nope.json"
    code, out, err = _replay(capsys, str(rules), "--corpus", str(missing))
    assert code == 2 and out == ""
    assert str(missing) in err and "Traceback" not in err
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "RulesVersion: 2\nSamplers:\n  other:\n    DeterministicSampler: {SampleRate: 1}\n"
    )
    code, out, err = _replay(capsys, str(bad), "--corpus", str(corpus_path))
    assert code != 0 and out == ""
    assert err.startswith(f"{bad}:") and "__default__" in err and "Traceback" not in err
