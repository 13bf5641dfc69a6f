from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_nectar.cli import main
from pytest_nectar.cli.init import SEED_POLICY

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "examples/quickstart/policies/production.toon"
KEYED = ROOT / "tests/data/seed_keyed.toon"


def test_init_writes_the_seed_example_byte_for_byte() -> None:
    assert SEED.read_text() == SEED_POLICY


def test_check_accepts_the_examples(capsys: pytest.CaptureFixture[str]) -> None:
    paths = [str(p) for p in sorted(ROOT.glob("examples/*/policies/*.toon"))]
    assert main(["check", *paths]) == 0
    out = capsys.readouterr().out
    assert f"{SEED}: ok (0 errors, 0 warnings)" in out


def test_check_reports_errors_with_caret_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toon"
    bad.write_text(SEED_POLICY.replace("sample(0.01)", "sample(0.7)"))
    assert main(["check", str(SEED), str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"{bad}:8:47: Refinery keeps 1 trace in a whole N; this rate is more than 1% away "
        "from any 1/N; got '0.7'; nearest representable: sample(1/1) = 1.0, sample(1/2) = 0.5",
        "        sample-rest,Sample remaining traffic,true,sample(0.7),0",
        "                                                  ^",
    ]
    assert f"{bad}: invalid (1 errors, 0 warnings)" in captured.out


def test_check_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toon"
    bad.write_text(SEED_POLICY.replace("http.status >= 500,keep", "http.status >=,keep"))
    assert main(["check", "--json", str(SEED), str(bad)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert [f["ok"] for f in report["files"]] == [True, False]
    (diag,) = report["files"][1]["diagnostics"]
    assert (diag["line"], diag["column"], diag["code"]) == (6, 67, "policy")
    assert diag["message"].startswith(f"{bad}:6:67: the match expression ends too early")


def test_check_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.toon"
    assert main(["check", str(missing)]) == 1
    assert f"{missing}: cannot read policy file; got" in capsys.readouterr().err


def test_check_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["check"])
    assert info.value.code == 2


def test_fmt_check_passes_on_canonical_and_fails_with_diff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keyed = tmp_path / "keyed.toon"
    messy = KEYED.read_text().replace("duration > 5s", "duration>5s")
    keyed.write_text(messy)
    assert main(["fmt", "--check", str(SEED)]) == 0
    assert main(["fmt", "--check", str(KEYED)]) == 0  # keyed stays keyed
    assert main(["fmt", "--check", str(keyed)]) == 1
    out = capsys.readouterr().out
    assert f"--- {keyed} (current)" in out
    assert "-    keep-slow,Retain slow requests,duration>5s,keep,90" in out
    assert "+    keep-slow,Retain slow requests,duration > 5s,keep,90" in out
    assert "nectar_policy{" not in out
    assert keyed.read_text() == messy  # --check writes nothing


def test_fmt_rewrites_keeps_comments_and_is_idempotent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keyed = tmp_path / "keyed.toon"
    keyed.write_text(KEYED.read_text().replace("duration > 5s", "duration>5s"))
    assert main(["fmt", str(keyed)]) == 0
    assert keyed.read_text() == KEYED.read_text()
    assert "  # traces kept per second, all rules together\n  budget_per_second: 200\n" in (
        keyed.read_text()
    )
    assert main(["fmt", str(keyed)]) == 0
    assert main(["fmt", "--check", str(keyed)]) == 0
    assert capsys.readouterr().out == f"reformatted {keyed}\n"


def test_fmt_check_passes_on_every_example(capsys: pytest.CaptureFixture[str]) -> None:
    paths = [str(p) for p in sorted(ROOT.glob("examples/*/policies/*.toon"))]
    assert main(["fmt", "--check", *paths]) == 0
    assert capsys.readouterr().out == ""


def test_fmt_leaves_invalid_files_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toon"
    bad.write_text("nectar_policy:\n  version 1\n")
    assert main(["fmt", str(bad)]) == 1
    assert bad.read_text() == "nectar_policy:\n  version 1\n"
    assert capsys.readouterr().err.startswith(f"{bad}:2:3: unexpected text")


def test_init_writes_a_working_project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "proj"
    assert main(["init", str(project)]) == 0
    assert (project / "policies/production.toon").read_text() == SEED_POLICY
    assert (project / "corpus/README.md").exists()
    pyproject = (project / "pyproject.toml").read_text()
    assert '[tool.nectar]\npolicies = ["policies/*.toon"]\ncorpus = "corpus/"\n' in pyproject
    assert 'rules = "rules.yaml"\nlock = "nectar.lock"\n' in pyproject
    assert main(["check", str(project / "policies/production.toon")]) == 0


def test_init_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    assert main(["init", str(tmp_path)]) == 2
    assert (tmp_path / "pyproject.toml").read_text() == "[project]\n"
    assert not (tmp_path / "policies").exists()
    assert "refusing to overwrite an existing file" in capsys.readouterr().err
