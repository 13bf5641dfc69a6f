"""The example repositories and what `nectar init` writes: the same gate files, current
rules and locks, an honest import, corpora that their documented `nectar corpus synth`
command regenerates byte for byte, and a green `pytest` inside each (in a temporary copy)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_nectar.cli import main
from pytest_nectar.cli.init import CORPUS_README, SAMPLE_COMMAND, TEMPLATE_FILES
from tests.gate_support import EXAMPLES, MULTI_ENV, ROOT, TEMPLATE, nectar

# The gate files every example shares with `nectar init` (destination: template).
SHARED = {dest: src for dest, src in TEMPLATE_FILES.items() if not dest.startswith("corpus/")}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_examples_hold_the_init_gate_files(example: Path) -> None:
    for dest, src in SHARED.items():
        assert (example / dest).read_text() == (TEMPLATE / src).read_text(), dest


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_examples_commit_current_rules_and_lock(example: Path) -> None:
    proc = nectar("compile", "--check", cwd=example)
    assert proc.stdout == "rules.yaml and nectar.lock are up to date\n"


def test_init_writes_a_complete_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    nectar("init", str(repo), cwd=tmp_path)
    written = sorted(
        p.relative_to(repo).as_posix()
        for p in repo.rglob("*")
        if p.is_file() and ".nectar-cache" not in p.parts and ".git" not in p.parts
    )
    assert written == sorted(
        [
            *TEMPLATE_FILES,
            "corpus/README.md",
            "nectar.lock",
            "policies/production.expect.jsonl",
            "policies/production.toon",
            "pyproject.toml",
            "rules.yaml",
        ]
    )
    for dest, src in TEMPLATE_FILES.items():
        assert (repo / dest).read_bytes() == (TEMPLATE / src).read_bytes(), dest
    assert (repo / ".git").is_dir()  # git init: diff git:HEAD:... and the hooks need it
    pyproject = (repo / "pyproject.toml").read_text()
    assert "[tool.nectar]" in pyproject and "[tool.pytest" in pyproject
    # Complete: compiled, and provable on its sample corpus out of the box.
    nectar("compile", "--check", cwd=repo)
    proved = nectar("prove", cwd=repo)
    assert "corpus" in proved.stdout and "113 traces" in proved.stdout


def test_multi_env_has_several_environments_budgets_and_expectations() -> None:
    rules = (MULTI_ENV / "rules.yaml").read_text()
    for env in ("demo", "production", "staging"):
        assert f"\n  {env}:\n" in rules
    for stem in ("demo", "production", "staging"):
        policy = (MULTI_ENV / "policies" / f"{stem}.toon").read_text()
        assert "budget_per_second" in policy
        assert (MULTI_ENV / "policies" / f"{stem}.expect.jsonl").exists()


#: Every generated corpus: (file, the text that documents its command, the command).
CORPORA = (
    (
        ROOT / "examples/quickstart/corpus/shop.jsonl",
        ROOT / "examples/quickstart/README.md",
        "nectar corpus synth --seed 0x1 --traces 300 --duration 1m -o corpus/shop.jsonl",
    ),
    (
        ROOT / "examples/multi-env/corpus/shop.json",
        ROOT / "examples/multi-env/README.md",
        "nectar corpus synth --seed 0x2 --traces 400 --duration 2m --time-profile bursts "
        "--format otlp -o corpus/shop.json",
    ),
    (TEMPLATE / "corpus/shop.jsonl", None, SAMPLE_COMMAND),
)


@pytest.mark.parametrize(("path", "readme", "command"), CORPORA, ids=lambda v: str(v)[-40:])
def test_each_corpus_is_its_documented_command_byte_for_byte(
    path: Path, readme: Path | None, command: str, tmp_path: Path
) -> None:
    documented = CORPUS_README if readme is None else readme.read_text()
    assert command in documented
    argv = shlex.split(command)
    assert argv[:3] == ["nectar", "corpus", "synth"] and argv[-2] == "-o"
    out = tmp_path / Path(argv[-1]).name
    assert main([*argv[1:-1], str(out)]) == 0
    assert out.read_bytes() == path.read_bytes()


def test_no_example_ships_a_copied_capture() -> None:
    """The corpora are generated; no folder keeps the old copies or their SOURCES files."""
    folders = [e / "corpus" for e in EXAMPLES] + [TEMPLATE / "corpus", MULTI_ENV / "imported"]
    found = sorted(p.name for folder in folders for p in folder.iterdir())
    assert found == ["refinery-rules.yaml", "shop.json", "shop.jsonl", "shop.jsonl"]


def test_multi_env_demo_is_the_import_with_the_documented_fixes(tmp_path: Path) -> None:
    """demo.toon is `nectar import`'s output except the rows its header explains."""
    nectar(
        "import", str(MULTI_ENV / "imported" / "refinery-rules.yaml"), "-o", "out",
        cwd=tmp_path, check=False,
    )  # fmt: skip
    imported = (tmp_path / "out" / "demo.toon").read_text().splitlines()
    ours = [
        line
        for line in (MULTI_ENV / "policies" / "demo.toon").read_text().splitlines()
        if not line.startswith("#")
    ]
    assert set(ours) - set(imported) == {
        "nectar_policy{version,name,budget_per_second,environment,error,rules}:",
        "  25",  # the budget
        "  http.status >= 500 or rpc.grpc.status_code in [2, 4, 12, 13, 14, 15] or status_code"
        " = 2 or error = true or exception.type exists",  # the error definition
        "  rules[7]{name,description,match,action,priority}:",
        "    Keep server errors,,http.status >= 500,keep,60",
        '    Keep failed gRPC calls,,"rpc.grpc.status_code in [2, 4, 12, 13, 14, 15]",keep,50',
        "    Keep status ERROR and exceptions,,status_code = 2 or exception.type exists,keep,35",
        "    Keep slow requests,,span(trace.parent_id not exists and duration >= 1500ms),keep,20",
    }


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_pytest_passes_inside_the_example(example: Path, tmp_path: Path) -> None:
    copy = tmp_path / example.name
    shutil.copytree(example, copy, ignore=shutil.ignore_patterns(".nectar-cache", "__pycache__"))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
        cwd=copy,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout
    assert "nectar summary" in proc.stdout  # the plugin collected the policies
    assert str(ROOT) not in proc.stdout  # the copy stands alone


def test_the_quickstart_corpus_holds_every_error_kind() -> None:
    """Its README says so, and the policies are proven against each kind."""
    from collections import Counter

    from pytest_nectar.corpus import load_corpus
    from tests.test_synth import modes

    corpus = load_corpus(ROOT / "examples/quickstart/corpus", cache=False)
    seen = Counter(m for trace in corpus.iter_traces() for m in modes(trace))
    kinds = {"http-5xx-stable", "http-5xx-old", "http-5xx-old-string", "grpc-2", "grpc-4",
             "grpc-13", "grpc-14", "status-error", "exception", "link", "rootless"}  # fmt: skip
    assert kinds <= set(seen), kinds - set(seen)
    assert (corpus.n_traces, corpus.n_rows) == (340, 3386)  # the README's figures
