"""``nectar validate`` and ``nectar decide`` end to end."""

# ruff: noqa: E501  (verbatim messages and inline rules files)
from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_nectar.cli import main
from tests.realdata import REALDATA

RULES_DIR = REALDATA / "refinery-rules"
RULES = """\
RulesVersion: 2
Samplers:
  __default__:
    RulesBasedSampler:
      Rules:
        - Name: keep errors
          SampleRate: 1
          Conditions:
            - Field: http.status_code
              Operator: '>='
              Value: 500
              Datatype: int
        - Name: rest
          Sampler:
            EMADynamicSampler:
              GoalSampleRate: 5
              FieldList: [service.name]
  prod:
    DeterministicSampler:
      SampleRate: 10
"""


@pytest.mark.usefixtures("realdata")
def test_validate_exit_codes_and_text(capsys: pytest.CaptureFixture[str]) -> None:
    ok = RULES_DIR / "devreldemo-rules.yaml"
    bad = RULES_DIR / "hpsf-04-specify-environment-refinery.yaml"
    assert main(["validate", str(ok)]) == 0
    assert capsys.readouterr().out == f"{ok}: valid; 0 error(s), 0 warning(s)\n"
    assert main(["validate", str(ok), str(bad)]) == 1
    out = capsys.readouterr().out
    assert (
        f"{bad}:1:1: RulesVersion is required; Refinery refuses to load this file\n    Samplers:\n    ^\n"
        in out
    )
    assert out.endswith(
        f"{bad}: INVALID (Refinery would refuse to load it); 2 error(s), 0 warning(s)\n"
    )


@pytest.mark.usefixtures("realdata")
def test_validate_json(capsys: pytest.CaptureFixture[str]) -> None:
    path = RULES_DIR / "hpsf-01-simple-refinery.yaml"
    assert main(["validate", "--json", str(path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is True
    (warning,) = report["files"][0]["warnings"]
    assert (warning["code"], warning["line"], warning["column"]) == ("rules.several-samplers", 4, 5)


def test_decide_events_and_cases_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    events = tmp_path / "events.json"
    events.write_text(json.dumps([
        {"trace.trace_id": "abc", "trace.span_id": "1", "service.name": "api", "http.status_code": 200},
        {"data": {"trace.trace_id": "abc", "trace.span_id": "2", "trace.parent_id": "1", "http.status_code": "503"}},
    ]))  # fmt: skip
    assert main(["decide", str(rules), str(events), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "rule": "keep errors", "rule_index": 0, "rate": 1, "keep": True,
        "keep_probability": 1.0, "reason": "rules/trace/keep errors", "key": "",
    }  # fmt: skip
    shaped = tmp_path / "trace.json"
    shaped.write_text(
        json.dumps(
            {"trace_id": "def456", "spans": [{"root": True, "data": {"service.name": "api"}}]}
        )
    )
    assert main(["decide", str(rules), str(shaped), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert (got["rule"], got["rate"], got["keep"], got["reason"], got["key"]) == (
        "rest",
        5,
        None,
        "rules/trace/rest:emadynamic",
        "api\u2022,",
    )
    assert main(["decide", str(rules), str(shaped), "--env", "prod"]) == 0
    assert capsys.readouterr().out == (
        "rule: (none)\nreason: deterministic/chance\nrate: 10\ndecision: keep\nkey: ''\n"
    )


@pytest.mark.usefixtures("realdata")
def test_decide_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "t.json"
    trace.write_text("[]")
    bad = RULES_DIR / "hpsf-04-specify-environment-refinery.yaml"
    assert main(["decide", str(bad), str(trace)]) == 2
    assert capsys.readouterr().err.startswith(
        f"{bad}:1:1: RulesVersion is required; Refinery would refuse this file (2 error(s)); "
        "run 'nectar validate' for all of them\n"
    )
    policy = tmp_path / "p.toon"
    assert main(["decide", str(policy), str(trace)]) == 2
    assert capsys.readouterr().err == (
        f"{policy}: cannot read policy file; got 'No such file or directory'\n"
    )
    broken = tmp_path / "broken.json"
    broken.write_text("[{")
    good = tmp_path / "r.yaml"
    good.write_text(RULES)
    assert main(["decide", str(good), str(broken)]) == 2
    assert capsys.readouterr().err == (
        f"{broken}:1:3: trace file is not valid JSON: Expecting property name enclosed in double quotes\n"
    )


def test_decide_policy_uses_its_own_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "prod.toon"
    policy.write_text(
        "nectar_policy{version,name,budget_per_second,environment,rules}:\n"
        "  1\n  prod\n  100\n  production\n"
        "  rules[1]{name,description,match,action,priority}:\n"
        "    drop-all,,true,drop,0\n"
    )
    trace = tmp_path / "t.json"
    trace.write_text('[{"trace.trace_id": "abc", "name": "root"}]')
    assert main(["decide", str(policy), str(trace), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["rule"], out["keep"]) == ("drop-all", False)
    assert main(["decide", str(policy), str(trace), "--env", "__default__", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["keep"] is True
