"""``nectar compile`` / ``--check``, ``nectar import`` and ``nectar decide`` with a policy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pytest_nectar.cli import main
from pytest_nectar.compiler.lockfile import md5_hex, parse_lock
from pytest_nectar.corpus import load_corpus
from pytest_nectar.project.config import load_config
from tests.realdata import REALDATA

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "examples" / "quickstart"
PYPROJECT = """\
[tool.nectar]
policies = ["policies/*.toon"]
corpus = "corpus/"
rules = "rules.yaml"
lock = "nectar.lock"
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(QUICKSTART / "policies", tmp_path / "policies")
    shutil.copytree(QUICKSTART / "corpus", tmp_path / "corpus")
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_compile_writes_rules_and_lock_deterministically(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "compile")
    assert code == 0
    rules = (project / "rules.yaml").read_bytes()
    assert rules == (ROOT / "tests" / "golden" / "quickstart.yaml").read_bytes()
    lock = parse_lock((project / "nectar.lock").read_text())
    assert (
        out == f"wrote rules.yaml (__default__, production; md5 {md5_hex(rules)}) and nectar.lock\n"
    )
    assert lock.rules_md5 == md5_hex(rules)
    assert sorted(lock.policies) == ["policies/checkout.toon", "policies/production.toon"]
    assert lock.corpus_paths == ("corpus",)
    assert lock.corpus_digest == load_corpus(project / "corpus", cache=False).digest
    first_lock = (project / "nectar.lock").read_bytes()
    assert run(capsys, "compile")[0] == 0
    assert (project / "rules.yaml").read_bytes() == rules
    assert (project / "nectar.lock").read_bytes() == first_lock
    assert run(capsys, "compile", "--check") == (
        0,
        "rules.yaml and nectar.lock are up to date\n",
        "",
    )


def test_check_catches_a_stale_lock_and_rules_file(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "compile")
    policy = project / "policies" / "production.toon"
    policy.write_text(policy.read_text().replace("sample(0.01)", "sample(0.02)"))
    code, out, err = run(capsys, "compile", "--check")
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert lines[0].startswith("rules.yaml: stale; the policies compile to different rules (md5 ")
    assert lines[1:] == [
        "nectar.lock: stale: policy policies/production.toon changed since the lock was "
        "written; run 'nectar compile'",
        "nectar compile --check: 2 problem(s); run 'nectar compile' and commit the result",
    ]


def test_check_catches_a_stale_lock_alone(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "compile")
    (project / "corpus" / "extra.json").write_text("[]")
    code, _, err = run(capsys, "compile", "--check")
    assert code == 1
    assert err.splitlines()[0] == (
        "nectar.lock: stale: the corpus changed since the lock was written (digest differs); "
        "run 'nectar compile'"
    )


def test_check_catches_a_hand_edit(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "compile")
    rules = project / "rules.yaml"
    edited = rules.read_text().replace("SampleRate: 100", "SampleRate: 10")
    rules.write_text(edited)
    code, _, err = run(capsys, "compile", "--check")
    assert code == 1
    lock = parse_lock((project / "nectar.lock").read_text())
    assert err.splitlines()[0] == (
        f"rules.yaml: edited by hand (md5 {md5_hex(edited.encode())}, the lock records "
        f"{lock.rules_md5}); change the policies instead and run 'nectar compile'"
    )


def test_check_with_nothing_written(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "compile", "--check")
    assert code == 1
    assert err.splitlines()[:2] == [
        "nectar.lock: missing; run 'nectar compile' to write it",
        "rules.yaml: missing; run 'nectar compile' to write it",
    ]


def test_explicit_policy_output_and_stdout(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "compile", "policies/production.toon", "-o", "-")
    assert code == 0
    assert out == (ROOT / "tests" / "golden" / "quickstart-production.yaml").read_text()
    code, _, _ = run(
        capsys, "compile", "policies/production.toon", "-o", "out/r.yaml", "--lock", "out/l.lock"
    )
    assert code == 0
    assert parse_lock((project / "out" / "l.lock").read_text()).rules_path == "r.yaml"


def test_errors_are_located(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "pyproject.toml").write_text("[tool.nectar]\npolicies = []\n")
    assert run(capsys, "compile") == (
        2,
        "",
        "no policies to compile; pass POLICY files, or set policies in [tool.nectar] "
        "(pyproject.toml)\n",
    )
    (project / "pyproject.toml").write_text("[tool.nectar]\nseeds = -1\n")
    code, _, err = run(capsys, "compile")
    assert code == 2
    assert (
        err == f"{project / 'pyproject.toml'}:2:9: [tool.nectar] seeds has the wrong type; got -1; "
        "a whole number >= 0\n"
    )
    (project / "pyproject.toml").write_text("[tool.nectar\n")
    code, _, err = run(capsys, "compile")
    assert err.startswith(f"{project / 'pyproject.toml'}:1:13: config file is not valid TOML: ")


def test_config_keys_and_warnings(project: Path) -> None:
    (project / "nectar.toml").write_text('policies = "p/*.toon"\nwindow_s = 10\nseedz = 3\n')
    config = load_config(project)
    assert config.path == project / "nectar.toml"
    assert config.policies == ("p/*.toon",) and config.window_s == 10.0
    assert config.rules == project / "rules.yaml" and config.corpus is None
    assert config.warnings == (
        f"{project / 'nectar.toml'}: unknown [tool.nectar] key 'seedz'; did you mean seeds?",
    )


@pytest.mark.usefixtures("realdata")
def test_import_then_compile_then_decide(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = REALDATA / "refinery-rules" / "refinery-rules_complete.yaml"
    code, out, err = run(capsys, "import", str(src), "-o", "imported")
    assert code == 0 and err == ""  # every environment, each proven equivalent (issue 17)
    lines = out.splitlines()
    assert [line for line in lines if line.startswith("wrote ")] == [
        f"wrote imported/{env}.toon" for env in ("env1", "env2", "env3", "env4", "env5")
    ]
    assert "env3: all traces: pass: proven: the same DeterministicSampler with the same " in (out)
    assert run(capsys, "compile", "imported/*.toon", "-o", "r.yaml")[0] == 0
    trace = project / "t.json"
    trace.write_text(json.dumps([{"trace.trace_id": "a", "http.route": "/health-check"}]))
    code, out, _ = run(
        capsys, "decide", "imported/env4.toon", str(trace), "--env", "env4", "--json"
    )
    assert code == 0
    assert json.loads(out)["reason"] == "rules/trace/drop healthchecks"
    assert json.loads(out)["keep"] is False


def test_a_format_only_change_keeps_the_lock_and_a_semantic_change_stales_it(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The lock hashes the canonical policy model: the keyed form, single quotes, comments and
    # another row order are the same policy; a budget change is not (rules.yaml is the same).
    run(capsys, "compile")
    checkout = project / "policies" / "checkout.toon"
    text = checkout.read_text()
    lock = (project / "nectar.lock").read_bytes()
    reformatted = (
        "# reformatted by hand\n"
        + text.replace('\\"payment\\"', "'payment'").replace('\\"/healthz\\"', "'/healthz'")
        + "# the end\n"
    )
    assert reformatted != text
    checkout.write_text(reformatted)
    assert run(capsys, "compile", "--check")[0] == 0
    assert run(capsys, "fmt", str(checkout))[0] == 0
    assert "'payment'" in checkout.read_text()  # fmt kept the file's quotes
    assert run(capsys, "compile", "--check")[0] == 0
    assert run(capsys, "compile")[0] == 0
    assert (project / "nectar.lock").read_bytes() == lock

    assert "\n  100\n" in text
    checkout.write_text(text.replace("\n  100\n", "\n  150\n"))
    code, _, err = run(capsys, "compile", "--check")
    assert code == 1
    assert err.splitlines() == [
        "nectar.lock: stale: policy policies/checkout.toon changed since the lock was written; "
        "run 'nectar compile'",
        "nectar compile --check: 1 problem(s); run 'nectar compile' and commit the result",
    ]


def test_an_existing_path_with_glob_characters_is_that_path(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = project / "policies" / "p[1].toon"
    shutil.copy(project / "policies" / "production.toon", odd)
    (project / "policies" / "p1.toon").write_text("not a policy\n")  # what the glob would match
    code, out, err = run(capsys, "compile", str(odd), "-o", "r.yaml", "--lock", "r.lock")
    assert code == 0, err
    assert out.startswith("wrote r.yaml")
