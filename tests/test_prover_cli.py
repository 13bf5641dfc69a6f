"""``nectar prove``: exit codes, JSON, witness files, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_nectar.cli import main
from tests.realdata import REALDATA

ROOT = Path(__file__).resolve().parent.parent
SEED = str(ROOT / "examples/quickstart/policies/production.toon")
DEMO = str(REALDATA / "refinery-rules/devreldemo-rules.yaml")


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NECTAR_CACHE_DIR", str(tmp_path / "cache"))


def test_passing_policy_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove", SEED, "--property", "error-preservation-all"]) == 0
    assert "PASS    error-preservation-all" in capsys.readouterr().out


@pytest.mark.usefixtures("realdata")
def test_failing_rules_exit_1_with_json_and_witness_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "prove",
            DEMO,
            "--env",
            "demo",
            "--json",
            "--property",
            "error-preservation-all",
            "--save-witnesses",
            "witnesses",
        ]
    )
    assert code == 1
    doc = json.loads(capsys.readouterr().out)
    (prop,) = doc["reports"][0]["properties"]
    assert prop["verdict"] == "fail"
    command = prop["witnesses"][0]["command"]
    written = tmp_path / "witnesses" / "devreldemo-rules-error-preservation-all-1.json"
    assert written.is_file() and str(Path("witnesses") / written.name) in command
    assert main(["decide", DEMO, str(written), "--env", "demo", "--json"]) == 0
    decision = json.loads(capsys.readouterr().out)
    assert decision["keep"] is not True


@pytest.mark.usefixtures("realdata")
def test_warnings_fail_only_with_strict() -> None:
    args = [
        "prove",
        DEMO,
        "--env",
        "demo",
        "--property",
        "unreachable-rules",
        "--corpus",
        str(ROOT / "examples/quickstart/corpus"),
    ]
    assert main(args) == 0
    assert main([*args, "--strict"]) == 1


def test_policy_that_does_not_compile_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toon"
    bad.write_text(
        "nectar_policy{version,name,rules}:\n  1\n  bad\n  rules[1]{name,match,action,priority}:\n"
        "    a,true,throughput(0/s by service.name),1\n"
    )
    assert main(["prove", str(bad)]) == 2
    assert "bad.toon:5" in capsys.readouterr().err


def test_empty_corpus_and_unknown_property_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["prove", SEED, "--corpus", str(empty)]) == 2
    assert "empty file" in capsys.readouterr().err
    assert main(["prove", SEED, "--property", "nope"]) == 2
    assert "unknown property" in capsys.readouterr().err
