"""Every command Nectar prints runs as printed, from the same folder, and shows the finding.

``nectar prove`` (corpus witnesses of a corpus read from several paths, and saved
counterexamples), pytest failures and ``nectar vopr`` print replay commands; each is run
here exactly as printed (split like a shell would, ``nectar`` from PATH) and must reproduce
the witness's deciding rule and decision.  ``nectar decide --explain`` is checked verbatim.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "examples" / "quickstart"
BIN = Path(sys.executable).parent

#: Samples every error: each error trace is a witness, decided by sample-rest.
SAMPLES_ERRORS = """\
nectar_policy{version,name,rules}:
  1
  careless
  rules[2]{name,description,match,action,priority}:
    keep-5xx,,span(http.status >= 599 and span.kind = "server"),keep,100
    sample-rest,,true,sample(1/100),0
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)
    return env


def _run(words: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        words, cwd=cwd, env=_env(), capture_output=True, text=True, check=False, timeout=300
    )


def _printed(out: str, marker: str) -> list[list[str]]:
    return [
        shlex.split(line.split(marker, 1)[1])
        for line in out.splitlines()
        if line.strip().startswith(marker)
    ]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    (root / "policies").mkdir(parents=True)
    (root / "policies" / "careless.toon").write_text(SAMPLES_ERRORS, encoding="utf-8")
    # the corpus in two places: replay commands must name both
    (root / "corpus-a").mkdir()
    (root / "corpus-b").mkdir()
    data = QUICKSTART / "corpus" / "shop.jsonl"
    lines = data.read_text(encoding="utf-8").splitlines()
    half = len(lines) // 2
    (root / "corpus-a" / "one.jsonl").write_text("\n".join(lines[:half]) + "\n")
    (root / "corpus-b" / "two.jsonl").write_text("\n".join(lines[half:]) + "\n")
    return root


def _decided(out: str) -> tuple[str, str]:
    fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    return fields["rule"], fields["decision"]


def test_every_command_prove_prints_replays_its_witness(project: Path) -> None:
    args = ["nectar", "prove", "policies/careless.toon", "--corpus", "corpus-a"]
    done = _run([*args, "--corpus", "corpus-b", "--json"], project)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)["reports"][0]
    witnesses = [
        w for p in report["properties"] for w in p["witnesses"] if p["id"] == "error-preservation"
    ]
    assert witnesses, "the careless policy samples error traces"
    text = _run([*args, "--corpus", "corpus-b"], project).stdout
    commands = _printed(text, "replay:")
    assert len(commands) == len(witnesses)
    for words, w in zip(commands, witnesses, strict=True):
        assert words.count("--corpus") == 2  # both paths, so the trace is found
        replay = _run(words, project)
        assert replay.returncode == 0, replay.stderr
        assert _decided(replay.stdout) == ("sample-rest", "random: keep with probability 0.01")
        assert w["rule"] == "sample-rest" and w["because"], "the witness says why it is an error"


def test_saved_counterexamples_replay_and_become_passing_expectations(project: Path) -> None:
    args = ["nectar", "prove", "policies/careless.toon", "--property", "error-preservation-all"]
    plain = _run(args, project).stdout
    assert "save it with --save-witnesses DIR to replay it with nectar decide" in plain
    assert "replay:" not in plain  # no command that could not run
    done = _run([*args, "--save-witnesses", "witnesses", "--add-expectations"], project)
    assert done.returncode == 1, done.stdout + done.stderr
    [words] = _printed(done.stdout, "replay:")
    assert words[:3] == ["nectar", "decide", "policies/careless.toon"]
    assert (project / words[3]).is_file()
    replay = _run(words, project)
    assert _decided(replay.stdout)[0] == "sample-rest"
    assert "error: otel-status-error" in done.stdout or "error: " in done.stdout
    expect = project / "policies" / "careless.expect.jsonl"
    [line] = expect.read_text().splitlines()
    assert json.loads(line)["decision"] == "keep"
    # run again: the same counterexample is not appended twice
    _run([*args, "--save-witnesses", "witnesses", "--add-expectations"], project)
    assert len(expect.read_text().splitlines()) == 1
    # the counterexample is an expectation item: failing now, passing once the policy is fixed
    (project / "pyproject.toml").write_text(
        '[tool.nectar]\npolicies = ["policies/*.toon"]\nseeds = 0\n', encoding="utf-8"
    )
    pytest_args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "expect"]
    assert _run(pytest_args, project).returncode == 1
    fixed = SAMPLES_ERRORS.replace(
        'span(http.status >= 599 and span.kind = "server")', "default_errors"
    )
    (project / "policies" / "careless.toon").write_text(fixed, encoding="utf-8")
    after = _run(pytest_args, project)
    assert after.returncode == 0, after.stdout
    assert "1 passed" in after.stdout


def test_every_replay_line_of_a_pytest_failure_runs_as_printed(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        '[tool.nectar]\npolicies = ["policies/*.toon"]\ncorpus = ["corpus-a", "corpus-b"]\n'
        "seeds = 0\n",
        encoding="utf-8",
    )
    done = _run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-k", "error-preservation"],
        project,
    )
    assert done.returncode == 1
    commands = _printed(done.stdout, "replay:")
    assert commands
    for words in commands:
        replay = _run(words, project)
        assert replay.returncode == 0, (words, replay.stderr)
        assert _decided(replay.stdout)[0] == "sample-rest"


def test_the_vopr_replay_line_reproduces_the_violation(project: Path) -> None:
    storm = SAMPLES_ERRORS.replace("nectar_policy{version,name,rules}:\n  1\n  careless\n",
                                   "nectar_policy{version,name,budget_per_second,rules}:\n"
                                   "  1\n  careless\n  1\n")  # fmt: skip
    (project / "policies" / "storm.toon").write_text(storm, encoding="utf-8")
    args = ["nectar", "vopr", "policies/storm.toon", "--corpus", "corpus-a"]
    args += ["--corpus", "corpus-b", "--campaign", "storm", "--iterations", "2", "--workers", "1"]
    done = _run([*args, "--rate", "50"], project)
    assert done.returncode == 1, done.stdout + done.stderr
    [words, *_] = _printed(done.stdout, "replay:")
    replay = _run(words, project)
    assert replay.returncode == 1, replay.stdout + replay.stderr
    first = next(line for line in done.stdout.splitlines() if "VIOLATION" in line)
    assert first.split(": ", 1)[0] in replay.stdout


EXPLAINED = """\
trace t1: 2 spans, root span 0
rule 1 of 3 'keep-5xx' (span scope): no match
  span 0: http.response.status_code,http.status_code >= 599 (int): 503 -> false
  span 1: http.response.status_code,http.status_code >= 599 (int): <missing> -> false
rule 2 of 3 'slow-cart' (trace scope): no match
  http.route = '/cart' (string): met
    span 0: "/cart" -> true
  duration_ms > 1000.0 (float): not met
    span 0: 800.0 -> false
    span 1: 20.5 -> false
rule 3 of 3 'sample-rest' (trace scope): matches (no conditions: every trace)
decision: keep with probability 0.01 (rate 100); reason: rules/trace/sample-rest
"""


def test_decide_explain_prints_the_whole_evaluation(tmp_path: Path) -> None:
    policy = tmp_path / "small.toon"
    policy.write_text(
        "nectar_policy{version,name,rules}:\n  1\n  small\n"
        "  rules[3]{name,description,match,action,priority}:\n"
        '    keep-5xx,,span(http.status >= 599 and span.kind = "server"),keep,100\n'
        '    slow-cart,,"http.route = \\"/cart\\" and duration > 1s",keep,90\n'
        "    sample-rest,,true,sample(1/100),0\n",
        encoding="utf-8",
    )
    trace = {
        "trace_id": "t1",
        "spans": [
            {"root": True, "data": {"http.route": "/cart", "duration_ms": 800.0,
                                    "http.response.status_code": 503, "span.kind": "server"}},
            {"root": False, "data": {"trace.parent_id": "a", "duration_ms": 20.5}},
        ],
    }  # fmt: skip
    (tmp_path / "t.json").write_text(json.dumps(trace), encoding="utf-8")
    done = _run(["nectar", "decide", "small.toon", "t.json", "--explain"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == EXPLAINED


def _witness_blocks(out: str) -> list[str]:
    """Each witness as printed (``- trace ...`` and the lines under it), without its indent."""
    blocks: list[list[str]] = []
    indent = 0
    for line in out.splitlines():
        text = line.lstrip()
        if text.startswith("- trace "):
            indent = len(line) - len(text)
            blocks.append([text])
        elif blocks and len(line) - len(text) > indent and text:
            blocks[-1].append(line[indent:])
        else:
            indent = 1 << 30  # the block ended: nothing more belongs to it
    return ["\n".join(b) for b in blocks]


def _without_replay(block: str) -> str:
    return "\n".join(x for x in block.splitlines() if not x.startswith("    replay: "))


def test_prove_and_pytest_print_the_same_witnesses(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        '[tool.nectar]\npolicies = ["policies/*.toon"]\ncorpus = ["corpus-a", "corpus-b"]\n'
        "seeds = 0\nwitnesses = 3\n",
        encoding="utf-8",
    )
    prove = _run(
        ["nectar", "prove", "policies/careless.toon", "--property", "error-preservation"], project
    )
    assert prove.returncode == 1, prove.stdout + prove.stderr
    pytest_run = _run(
        [
            *[sys.executable, "-m", "pytest", "-p", "no:cacheprovider"],
            *["-k", "error-preservation and not all"],
        ],
        project,
    )
    assert pytest_run.returncode == 1, pytest_run.stdout
    from_cli, from_pytest = _witness_blocks(prove.stdout), _witness_blocks(pytest_run.stdout)
    assert from_cli and from_pytest, prove.stdout + pytest_run.stdout
    # the replay lines both run (tested above); the CLI names the corpus by its resolved path
    assert all("\n    replay: nectar decide " in block for block in from_cli + from_pytest)
    # The same trace renders the same way in both front ends.  (Which traces each shows first
    # is compared by the consistency test; here two corpus folders once gave a different pick
    # under the full parallel suite, so the rendering is compared trace by trace.)
    cli_by_trace = {b.split(":", 1)[0]: _without_replay(b) for b in from_cli}
    shared = [b for b in from_pytest if b.split(":", 1)[0] in cli_by_trace]
    assert shared, prove.stdout + pytest_run.stdout
    assert [_without_replay(b) for b in shared] == [
        cli_by_trace[b.split(":", 1)[0]] for b in shared
    ]
