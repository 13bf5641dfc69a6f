"""One verdict everywhere: every front end reads the project session's one result.

The consistency test runs each example repository, and a project with policies that used
to make the front ends disagree, through ``nectar prove --json``, ``nectar explain --format
json``, ``nectar diff --format json``, pytest (pytester) and the Action's annotations, and
asserts the same error-trace counts, verdicts and witnesses.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from pytest_nectar.cli import main
from pytest_nectar.github.annotations import annotations_from_prove
from tests.plugin_support import QUIET

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CORPUS = EXAMPLES / "quickstart" / "corpus"

#: Drops every HTTP 5xx trace; its own error expression says those are errors.
OWN_ERROR = """nectar_policy{version,name,error,rules}:
  1
  own-error
  http.status >= 500
  rules[2]{name,match,action,priority}:
    drop-errors,http.status >= 500,drop,20
    rest,true,keep,10
"""
#: Targets __default__ and has a rule no trace can reach.
SHADOWED = """nectar_policy{version,name,rules}:
  1
  shadowed
  rules[3]{name,match,action,priority}:
    errors,http.status >= 500,keep,30
    worse-errors,http.status >= 600,drop,20
    rest,true,keep,10
"""
#: [tool.nectar] error says no corpus trace is an error: the policy's own field must win.
PYPROJECT = f"""[tool.nectar]
policies = ["policies/*.toon"]
corpus = "{CORPUS.as_posix()}"
error = "http.status >= 600"
campaigns = []
"""


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    code = main(list(args))
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip().startswith("{") else out


def _key(path: str) -> str:
    return Path(path.split(":")[-1]).name


def _prove(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[dict[str, Any], Any]:
    code, doc = _cli(capsys, "prove", "--json", *args)
    assert code in (0, 1), doc
    out = {}
    for report in doc["reports"]:
        out[_key(report["target"])] = {p["id"]: p for p in report["properties"]}
    return out, doc


def _pytest(pytester: pytest.Pytester) -> dict[str, dict[str, dict[str, Any]]]:
    """policy file name -> item name -> the facts the item recorded, and its outcome."""
    recorder = pytester.inline_run(*QUIET)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for report in recorder.getreports("pytest_runtest_logreport"):
        if report.when != "call" and not (report.when == "setup" and report.skipped):
            continue
        path, _, name = report.nodeid.partition("::")
        facts = dict(getattr(report, "nectar_facts", {}) or {})
        facts["outcome"] = report.outcome
        out.setdefault(Path(path).name, {})[name] = facts
    return out


def _assert_consistent(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str], *, own_error: bool = False
) -> None:
    proven, doc = _prove(capsys)
    code, explained = _cli(capsys, "explain", "--format", "json")
    assert code == 0
    items = _pytest(pytester)
    capsys.readouterr()  # the inner pytest run's own output
    notes = []
    for report in explained["reports"]:
        name = _key(report["source"])
        props = proven[name]
        # Verdicts: explain shows the prover's, pytest items record the same.
        assert {v["id"]: v["verdict"] for v in report["verdicts"]} == {
            pid: p["verdict"] for pid, p in props.items()
        }
        for pid, prop in props.items():
            facts = items[name][pid]
            assert facts["verdict"] == prop["verdict"], (name, pid)
            want = {"fail": "failed", "unknown": "skipped"}.get(prop["verdict"], "passed")
            assert facts["outcome"] == want, (name, pid, facts)
            assert facts["witnesses"] == [w["trace_id"] for w in prop["witnesses"]], (name, pid)
            assert facts.get("figures", {}).get("checked") == prop["figures"].get("checked")
        # Counts: error and must-keep traces are the prover's masks.
        errors = props["error-preservation"]["figures"].get("checked", 0)
        assert report["totals"]["error_traces"] == errors
        must = props["must-keep"]["figures"].get("checked", 0)
        assert report["totals"]["must_keep_traces"] == must
        # diff P P: nothing lost, and NEW's verdicts are the prover's.
        code, document = _cli(
            capsys, "diff", report["source"], report["source"], "--format", "json"
        )
        assert code == 0
        diffed = document["diff"]
        assert diffed["lost"] == [] and diffed["lost_proofs"] == []
        assert {v["id"]: v["verdict"] for v in diffed["new_report"]["verdicts"]} == {
            pid: p["verdict"] for pid, p in props.items()
        }
        notes += report["notes"]
    # The Action's annotations: one finding per failed property or warned lint.
    found = {(_key(a.file or ""), a.title, a.level) for a in annotations_from_prove(doc)}
    level = {"fail": "error", "warn": "warning"}
    want = {
        (name, f"nectar: {pid}", level[p["verdict"]])
        for name, props in proven.items()
        for pid, p in props.items()
        if p["verdict"] in level
    }
    assert found == want
    # A policy never hears that "no policy targets __default__": that is the project's file.
    assert not any("no policy targets __default__" in n for n in notes)
    if own_error:
        assert proven["own-error.toon"]["error-preservation"]["verdict"] == "fail"


@pytest.mark.parametrize("example", ["quickstart", "multi-env"])
def test_every_front_end_agrees_on_the_examples(
    example: str,
    pytester: pytest.Pytester,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shutil.copytree(EXAMPLES / example, pytester.path, dirs_exist_ok=True)
    monkeypatch.chdir(pytester.path)
    _assert_consistent(pytester, capsys)


def _own_error_project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = pytester.path
    (root / "policies").mkdir()
    (root / "policies" / "own-error.toon").write_text(OWN_ERROR)
    (root / "policies" / "shadowed.toon").write_text(SHADOWED)
    (root / "pyproject.toml").write_text(PYPROJECT)
    monkeypatch.chdir(root)
    return root


def test_every_front_end_agrees_when_the_policy_has_its_own_error(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _own_error_project(pytester, monkeypatch)
    _assert_consistent(pytester, capsys, own_error=True)


def test_the_policy_error_beats_the_config_and_the_command_line_beats_both(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _own_error_project(pytester, monkeypatch)
    proven, doc = _prove(capsys)
    result = proven["own-error.toon"]["error-preservation"]
    assert result["verdict"] == "fail" and result["total_failing"] == 10
    assert result["figures"]["checked"] == 10
    own = next(r for r in doc["reports"] if r["target"].endswith("own-error.toon"))
    assert own["error_from"] == {
        "source": "policy",
        "where": f"{Path('policies/own-error.toon').resolve()}:4:3",
    }
    _, explained = _cli(capsys, "explain", "--format", "json", "policies/own-error.toon")
    assert explained["reports"][0]["totals"]["error_traces"] == 10
    # [tool.nectar] error applies where a policy sets none.
    plain = proven["shadowed.toon"]["error-preservation"]
    assert plain["summary"].startswith(
        "no evidence on the corpus: none of its 340 traces is an error trace (http.status >= 600)"
    )
    # The command line beats the policy's own field.
    proven, doc = _prove(capsys, "--error", "http.status >= 599", "policies/own-error.toon")
    result = proven["own-error.toon"]["error-preservation"]
    assert result["summary"].startswith(
        "no evidence on the corpus: none of its 340 traces is an error trace (http.status >= 599)"
    )
    assert doc["reports"][0]["error_from"] == {"source": "command line", "where": "--error"}


def test_diff_reports_a_lost_all_traces_proof(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """NEW keeps every corpus error trace (each has a service name) but drops an error trace
    without one: only the all-traces proof sees it, and diff must say so first."""
    monkeypatch.chdir(tmp_path)
    rules = (
        "  rules[2]{name,match,action,priority}:\n    errors,%s,keep,20\n    rest,true,drop,10\n"
    )
    head = "nectar_policy{version,name,error,rules}:\n  1\n  p\n  http.status >= 500\n"
    (tmp_path / "old.toon").write_text(head + rules % "http.status >= 500")
    (tmp_path / "new.toon").write_text(head + rules % "http.status >= 500 and service.name exists")
    args = ("old.toon", "new.toon", "--corpus", str(CORPUS))
    code, document = _cli(capsys, "diff", *args, "--format", "json")
    assert code == 0
    doc = document["diff"]
    assert doc["lost"] == []  # the corpus alone shows nothing lost
    proven, _ = _prove(capsys, "new.toon", "--corpus", str(CORPUS))
    assert proven["new.toon"]["error-preservation"]["verdict"] == "pass"
    assert proven["new.toon"]["error-preservation-all"]["verdict"] == "fail"
    (lost,) = doc["lost_proofs"]
    assert lost["property"] == "error-preservation-all"
    assert (lost["old_verdict"], lost["new_verdict"]) == ("pass", "fail")
    code, text = _cli(capsys, "diff", *args)
    assert "LOSES error-preservation-all" in text[:300]  # first, in the summary line
    assert "1 all-traces proof(s) NEW no longer passes" in text
    assert "No error or must-keep trace loses its sure keep." not in text


def test_no_default_note_for_a_policy_that_targets_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether some policy targets __default__ is a fact about the project's rules file
    (``nectar compile`` says it); explaining one policy, targeting it or not, never
    claims that "no policy targets __default__"."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.toon").write_text(SHADOWED)
    (tmp_path / "prod.toon").write_text(
        SHADOWED.replace("{version,name,rules}:\n  1\n  shadowed\n",
                         "{version,name,environment,rules}:\n  1\n  prod\n  production\n")
    )  # fmt: skip
    for policy in ("p.toon", "prod.toon"):
        code, doc = _cli(capsys, "explain", "--format", "json", policy, "--corpus", str(CORPUS))
        assert code == 0
        assert not any("__default__" in note for note in doc["reports"][0]["notes"]), policy


def test_no_mixed_types_warning_when_every_condition_has_a_datatype(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """http.status_code is an int on 77 corpus spans and a string on 299: a typed condition
    converts both (Refinery's Matches), an untyped one compares them differently."""
    monkeypatch.chdir(tmp_path)
    rules = (
        "  rules[2]{name,match,action,priority}:\n    errors,%s,keep,20\n    rest,true,keep,10\n"
    )
    head = "nectar_policy{version,name,rules}:\n  1\n  p\n"
    (tmp_path / "typed.toon").write_text(head + rules % "http.status_code >= 500")
    args = ("--property", "mixed-types", "--corpus", str(CORPUS))
    proven, _ = _prove(capsys, "typed.toon", *args)
    assert proven["typed.toon"]["mixed-types"]["verdict"] == "pass"
    (tmp_path / "untyped.yaml").write_text(
        "RulesVersion: 2\nSamplers:\n  __default__:\n    RulesBasedSampler:\n      Rules:\n"
        "        - Name: errors\n          SampleRate: 1\n          Conditions:\n"
        "            - {Field: http.status_code, Operator: '>=', Value: 500}\n"
    )
    proven, _ = _prove(capsys, "untyped.yaml", *args)
    result = proven["untyped.yaml"]["mixed-types"]
    assert (
        result["verdict"] == "warn"
        and "http.status_code (int 77, string 299)" in (result["summary"])
    )


def test_equivalence_is_a_property_any_command_runs(capsys: pytest.CaptureFixture[str]) -> None:
    policy = str(EXAMPLES / "quickstart" / "policies" / "checkout.toon")
    proven, _ = _prove(capsys, policy, "--property", "equivalence", "--corpus", str(CORPUS))
    result = proven["checkout.toon"]["equivalence"]
    assert result["verdict"] == "pass"
    assert result["figures"]["checked"] == result["figures"]["total"] == 340
    proven, _ = _prove(capsys, policy, "--property", "equivalence")
    assert proven["checkout.toon"]["equivalence"]["verdict"] == "unknown"
