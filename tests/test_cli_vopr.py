"""``nectar vopr``: summaries, exit codes, replay lines that reproduce the violation."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from pytest_nectar.cli import main
from tests.realdata import REALDATA

CORPUS = REALDATA / "otlp/oteltui-test_data.json"
STORM_POLICY = (
    "nectar_policy{version,name,budget_per_second,rules}:\n  1\n  vopr-cli\n  15\n"
    "  rules[2]{name,description,match,action,priority}:\n"
    "    keep-errors,Errors,http.status >= 500 or status_code = 2 or error = true,keep,100\n"
    "    sample-rest,Rest,true,sample(1/100),0\n"
)


@pytest.fixture
def policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no [tool.nectar] above: defaults only
    path = tmp_path / "storm.toon"
    path.write_text(STORM_POLICY, encoding="utf-8")
    return path


def _json(out: str) -> list[dict[str, object]]:
    data = json.loads(out)
    results: list[dict[str, object]] = data["results"]
    for r in results:
        r.pop("wall_seconds")
    return results


@pytest.mark.usefixtures("realdata")
def test_storm_violation_exit_1_and_replay_line_reproduces_it(
    policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["vopr", str(policy), "--corpus", str(CORPUS), "--rate", "6", "--campaign", "storm"]
    assert main([*args, "--iterations", "2", "--workers", "1"]) == 1
    text = capsys.readouterr().out
    assert "vopr storm seed 0x2a: 10 iterations" in text and "VIOLATION budget" in text
    replay = next(line for line in text.splitlines() if line.strip().startswith("replay:"))
    words = shlex.split(replay.split("replay:", 1)[1])
    assert words[:2] == ["nectar", "vopr"] and "--step" in words
    assert main([*words[1:], "--json", "--no-shrink"]) == 1
    replayed = _json(capsys.readouterr().out)[0]
    assert main([*args, "--iterations", "2", "--json", "--no-shrink"]) == 1
    full = _json(capsys.readouterr().out)[0]
    first = full["violations"][0]  # type: ignore[index]
    again = replayed["violations"][0]  # type: ignore[index]
    assert (again["time"], again["step"], again["message"]) == (
        first["time"],
        first["step"],
        first["message"],
    )


@pytest.mark.usefixtures("realdata")
def test_same_seed_same_json_different_seed_differs(
    policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "vopr",
        str(policy),
        "--corpus",
        str(CORPUS),
        "--campaign",
        "chaos",
        "--iterations",
        "40",
    ]
    runs = []
    for seed in ("0x2a", "42", "7"):
        assert main([*args, "--seed", seed, "--json"]) == 0
        runs.append(_json(capsys.readouterr().out))
    assert runs[0] == runs[1]
    assert runs[0][0]["digest"] != runs[2][0]["digest"]
    assert runs[0][0]["iterations"] == 40 and runs[0][0]["simulated_seconds"] == 40 * 3600.0


@pytest.mark.usefixtures("realdata")
def test_bad_campaign_and_seed_are_usage_errors(
    policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["vopr", str(policy), "--corpus", str(CORPUS)]
    assert main([*base, "--campaign", "tornado"]) == 2
    err = capsys.readouterr().err
    assert "unknown campaign; got 'tornado'; use one of chaos, evolution, determinism" in err
    assert main([*base, "--campaign", "chaos", "--seed", "0xZZ"]) == 2
    assert "invalid seed; got '0xZZ'" in capsys.readouterr().err


def test_missing_corpus_is_a_usage_error(policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["vopr", str(policy), "--campaign", "chaos"]) == 2
    assert "no corpus to learn traffic from" in capsys.readouterr().err


#: A policy without its own ``error``: the project's ``[tool.nectar] error`` is in force.
NO_ERROR_POLICY = (
    "nectar_policy{version,name,budget_per_second,rules}:\n  1\n  vopr-error\n  1000\n"
    "  rules[2]{name,description,match,action,priority}:\n"
    "    keep-5xx,Server errors,http.status >= 500,keep,100\n"
    "    sample-rest,Rest,true,sample(1/100),0\n"
)
SHOP = Path(__file__).parent.parent / "examples" / "quickstart" / "corpus" / "shop.jsonl"


def _no_error_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: str) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text(f'[tool.nectar]\nerror = "{error}"\n')
    path = tmp_path / "p.toon"
    path.write_text(NO_ERROR_POLICY, encoding="utf-8")
    return path


def _chaos(policy: Path, *extra: str) -> list[str]:
    return ["vopr", policy.name, "--corpus", str(SHOP), "--campaign", "chaos", *extra]


def test_vopr_judges_by_the_project_error_expression(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The policy keeps every 5xx: with that as the project's error, nothing is lost (the
    # default error criteria, which the policy's rules do not cover, are not in force).
    policy = _no_error_project(tmp_path, monkeypatch, "http.status >= 500")
    assert main([*_chaos(policy, "--iterations", "5", "--workers", "1", "--json")]) == 0
    assert _json(capsys.readouterr().out)[0]["violations"] == []
    # 4xx are errors too: the policy samples them at 1/100, and VOPR must say so.
    policy = _no_error_project(tmp_path, monkeypatch, "http.status >= 400")
    assert main([*_chaos(policy, "--iterations", "5", "--workers", "1")]) == 1
    text = capsys.readouterr().out
    assert "VIOLATION error-kept" in text
    replay = next(line for line in text.splitlines() if line.strip().startswith("replay:"))
    words = shlex.split(replay.split("replay:", 1)[1])
    assert main([*words[1:], "--json", "--no-shrink"]) == 1
    again = _json(capsys.readouterr().out)[0]["violations"]
    assert [v["invariant"] for v in again] == ["error-kept"]  # type: ignore[index,union-attr]


def test_vopr_error_option_wins_and_its_replay_line_carries_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = _no_error_project(tmp_path, monkeypatch, "http.status >= 500")
    args = _chaos(policy, "--iterations", "5", "--workers", "1", "--error", "http.status >= 400")
    assert main(args) == 1
    text = capsys.readouterr().out
    replay = next(line for line in text.splitlines() if line.strip().startswith("replay:"))
    words = shlex.split(replay.split("replay:", 1)[1])
    assert words[words.index("--error") + 1] == "http.status >= 400"
    assert main([*words[1:], "--json", "--no-shrink"]) == 1
