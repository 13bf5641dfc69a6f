"""The pre-commit hooks, for real: `pre-commit try-repo` of this checkout against a
throw-away policy repository written by `nectar init` (pre-commit builds the hook
environment with pip, as users get).  One pre-commit store and one pip cache per module:
the configured runs build the hook environment once; try-repo builds its own."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.gate_support import (
    EXAMPLES,
    ROOT,
    TEMPLATE,
    commit_all,
    copy_nectar_source,
    git,
    init_repo,
    isolated_env,
    nectar,
    shared_pip_cache,
    tool,
)

# One worker for the module under `pytest -n 2 --dist loadgroup`: the tests share one
# pre-commit store, so the hook environment is built once.
pytestmark = pytest.mark.xdist_group("precommit")

HOOK_IDS = ["nectar-fmt", "nectar-check", "nectar-compile-check", "nectar-prove"]

# rules[3] announces three rows and has two: a located error.
BAD_POLICY = """\
nectar_policy{version,name,budget_per_second,rules}:
  1
  broken
  1000
  rules[3]{name,description,match,action,priority}:
    keep-errors,Retain all HTTP 5xx errors,http.status >= 500,keep,100
    sample-rest,Sample remaining traffic,true,sample(0.01),0
"""


def precommit(
    *args: str, cwd: Path, home: Path, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Real pre-commit; its store and the pip cache are in ``home`` (one per module)."""
    return subprocess.run(
        [tool("pre-commit"), *args],
        cwd=cwd,
        env=isolated_env(home, pip_cache=home / "pip-cache"),
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def test_manifest_is_valid() -> None:
    proc = subprocess.run(
        [tool("pre-commit"), "validate-manifest", str(ROOT / ".pre-commit-hooks.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_manifest_hooks() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert list(hooks) == HOOK_IDS
    assert {h["language"] for h in hooks.values()} == {"python"}
    assert hooks["nectar-compile-check"]["pass_filenames"] is False
    assert hooks["nectar-prove"]["pass_filenames"] is False
    assert hooks["nectar-prove"]["stages"] == ["pre-push", "manual"]  # opt-in, not per commit
    for hook_id in ("nectar-fmt", "nectar-check"):
        assert hooks[hook_id]["files"] == r"\.toon$"


CONFIGS = [TEMPLATE / "pre-commit-config.yaml"] + [e / ".pre-commit-config.yaml" for e in EXAMPLES]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_example_configs_are_valid_and_use_every_hook(config: Path) -> None:
    proc = subprocess.run(
        [tool("pre-commit"), "validate-config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (repo,) = yaml.safe_load(config.read_text())["repos"]
    assert [h["id"] for h in repo["hooks"]] == HOOK_IDS
    # nectar init's (and the examples'): works offline as written, running the installed nectar
    assert repo["repo"] == "local"
    assert all(h["entry"].startswith("nectar ") for h in repo["hooks"])
    assert {h["language"] for h in repo["hooks"]} == {"system"}


def test_nectar_projects_runs_once_in_each_project(tmp_path: Path) -> None:
    init_repo(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "pyproject.toml").write_text('[tool.nectar]\npolicies = ["p/*.toon"]\n')
    (tmp_path / "b" / "c").mkdir(parents=True)
    (tmp_path / "b" / "c" / "nectar.toml").write_text("")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "not-nectar"\n')
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "pyproject.toml").write_text("[tool.nectar\n")
    commit_all(tmp_path)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "hooks" / "nectar-projects"), "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "nectar-projects: in a/",
        "nectar 0.1.0",
        "nectar-projects: in b/c/",
        "nectar 0.1.0",
    ]


def test_nectar_projects_reports_the_worst_exit_and_usage(tmp_path: Path) -> None:
    init_repo(tmp_path)
    script = [sys.executable, str(ROOT / "hooks" / "nectar-projects")]
    usage = subprocess.run(script, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert usage.returncode == 2
    assert usage.stderr == "usage: nectar-projects NECTAR-COMMAND [ARGS...]\n"
    # No project anywhere: runs at the root, and nectar's own exit code comes back.
    bad = subprocess.run(
        [*script, "no-such-command"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2
    assert "invalid choice: 'no-such-command'" in bad.stderr


# --- the hooks, run by pre-commit ---------------------------------------------------


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout, committed into a temporary git repository for try-repo."""
    src = copy_nectar_source(tmp_path_factory.mktemp("hookrepo") / "nectar")
    (src / ".pre-commit-hooks.yaml").write_bytes((ROOT / ".pre-commit-hooks.yaml").read_bytes())
    init_repo(src)
    commit_all(src, "hooks")
    return src


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pre-commit cache for the module: the hook environment is built once."""
    home = tmp_path_factory.mktemp("home")
    (home / "pip-cache").symlink_to(shared_pip_cache(tmp_path_factory))
    return home


def use_hooks(repo: Path, hook_repo: Path) -> None:
    """A .pre-commit-config.yaml, as users write it, pinned to the hook repo's commit.

    `pre-commit try-repo` builds a fresh hook environment on every call (it uses a
    temporary store); configured runs share the module's store, so the slow pip install
    of the hook environment happens once.
    """
    sha = git("rev-parse", "HEAD", cwd=hook_repo).strip()
    config = {
        "repos": [{"repo": str(hook_repo), "rev": sha, "hooks": [{"id": h} for h in HOOK_IDS]}]
    }
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.fixture
def policy_repo(tmp_path: Path, hook_repo: Path) -> Iterator[Path]:
    """A good policy repository as `nectar init` writes it, in canonical form."""
    repo = tmp_path / "policies-repo"
    nectar("init", str(repo), cwd=tmp_path)
    if not (repo / ".git").exists():
        init_repo(repo)
    toon = sorted(repo.rglob("*.toon"))
    assert toon, "nectar init wrote no .toon policy"
    nectar("fmt", *map(str, toon), cwd=repo)
    use_hooks(repo, hook_repo)
    commit_all(repo)
    yield repo


@pytest.fixture
def compiled_repo(policy_repo: Path) -> Path:
    """The good repository with its rules file and lock compiled and committed."""
    nectar("compile", "--check", cwd=policy_repo)  # `nectar init` compiled them
    return policy_repo


def test_hooks_pass_on_a_good_repository(hook_repo: Path, compiled_repo: Path, home: Path) -> None:
    policy_repo = compiled_repo
    proc = precommit("run", "--all-files", cwd=policy_repo, home=home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("nectar fmt", "nectar check", "nectar compile --check"):
        assert name in proc.stdout
    assert "Passed" in proc.stdout and "Failed" not in proc.stdout


def test_prove_hook_is_opt_in_and_passes(hook_repo: Path, compiled_repo: Path, home: Path) -> None:
    policy_repo = compiled_repo
    # Not at the commit stage: the plain run above does not list it.
    plain = precommit("run", "--all-files", cwd=policy_repo, home=home)
    assert "nectar prove" not in plain.stdout, plain.stdout
    proc = precommit(
        "run", "nectar-prove", "--all-files", "--hook-stage", "manual", cwd=policy_repo, home=home
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "nectar prove" in proc.stdout and "Passed" in proc.stdout


def test_prove_hook_fails_on_a_policy_that_drops_errors(
    hook_repo: Path, compiled_repo: Path, home: Path
) -> None:
    policy_repo = compiled_repo
    policy = policy_repo / "policies" / "production.toon"
    text = policy.read_text()
    dropping = text.replace("http.status >= 500,keep,", "http.status >= 500,drop,")
    assert dropping != text
    policy.write_text(dropping)
    # Recompiled and committed: the lock is current, so only the proof can fail.
    nectar("compile", cwd=policy_repo)
    commit_all(policy_repo, "drop the errors")
    assert precommit("run", "--all-files", cwd=policy_repo, home=home).returncode == 0
    proc = precommit(
        "run", "nectar-prove", "--all-files", "--hook-stage", "manual", cwd=policy_repo, home=home
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Failed" in proc.stdout
    # The sample corpus has no error trace; the all-traces proof still finds one.
    assert "FAIL    error-preservation-all:" in proc.stdout
    assert "decided by rule 'keep-errors': drop" in proc.stdout


def test_check_hook_says_did_you_mean_for_a_typo_under_strict(
    hook_repo: Path, compiled_repo: Path, home: Path
) -> None:
    policy_repo = compiled_repo
    pyproject = policy_repo / "pyproject.toml"
    text = pyproject.read_text().replace("[tool.nectar]\n", "[tool.nectar]\nstrict = true\n", 1)
    pyproject.write_text(text)
    typo = policy_repo / "policies" / "typo.toon"
    typo.write_text(
        "nectar_policy{version,name,rules}:\n  1\n  typo\n"
        "  rules[2]{name,description,match,action,priority}:\n"
        '    slow,,"span(servce.name = \\"checkoutservice\\" and duration > 2s)",keep,100\n'
        "    rest,,true,sample(1/10),0\n"
    )
    commit_all(policy_repo, "a typo")
    proc = precommit(
        "run", "nectar-check", "--files", "policies/typo.toon", cwd=policy_repo, home=home
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "got 'servce.name'; did you mean service.name?" in proc.stdout


@pytest.mark.slow
def test_check_hook_fails_with_a_located_message(
    hook_repo: Path, policy_repo: Path, home: Path
) -> None:
    bad = policy_repo / "policies" / "bad.toon"
    bad.parent.mkdir(exist_ok=True)
    bad.write_text(BAD_POLICY)
    commit_all(policy_repo, "bad policy")
    # try-repo, as a hook author tests: it builds the hook environment from scratch.
    proc = precommit(
        "try-repo", str(hook_repo), "nectar-check", "--files", "policies/bad.toon",
        cwd=policy_repo, home=home,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Failed" in proc.stdout
    # The one error format, located in the file, from inside the hook's own environment.
    located = [ln for ln in proc.stdout.splitlines() if ln.startswith("policies/bad.toon:")]
    assert located, proc.stdout
    assert located[0].split(":")[1].isdigit() and located[0].split(":")[2].isdigit()


def test_fmt_hook_rewrites_a_non_canonical_file(
    hook_repo: Path, policy_repo: Path, home: Path
) -> None:
    (policy,) = sorted(policy_repo.rglob("*.toon"))[:1]
    canonical = policy.read_text()
    # Trailing blanks, spaces after commas and extra final newlines: fmt removes them all
    # (blank lines between rows are kept on purpose, like comments).
    messy = canonical.replace(",keep,100", ", keep, 100").replace("\n", "   \n", 2) + "\n\n"
    assert messy != canonical
    policy.write_text(messy)
    rel = str(policy.relative_to(policy_repo))
    assert nectar("fmt", "--check", rel, cwd=policy_repo, check=False).returncode == 1
    commit_all(policy_repo, "messy")
    proc = precommit("run", "nectar-fmt", "--files", rel, cwd=policy_repo, home=home)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "files were modified by this hook" in proc.stdout
    assert policy.read_text() == canonical


def test_compile_check_hook_fails_on_a_stale_lock(
    hook_repo: Path, compiled_repo: Path, home: Path
) -> None:
    policy_repo = compiled_repo
    (policy,) = sorted(policy_repo.rglob("*.toon"))[:1]
    text = policy.read_text()
    edited = text.replace("sample(0.01)", "sample(0.02)")
    assert edited != text, "expected the init policy to sample the rest at 1%"
    policy.write_text(edited)
    commit_all(policy_repo, "edit without recompiling")
    proc = precommit("run", "nectar-compile-check", "--all-files", cwd=policy_repo, home=home)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "nectar compile --check" in proc.stdout and "Failed" in proc.stdout
    # And after compiling, the same hook passes.
    nectar("compile", "-o", "rules.yaml", cwd=policy_repo)
    commit_all(policy_repo, "recompile")
    again = precommit("run", "nectar-compile-check", "--all-files", cwd=policy_repo, home=home)
    assert again.returncode == 0, again.stdout + again.stderr
