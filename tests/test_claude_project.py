"""``--write``'s plan: compiled in memory first, then policy, rules and lock all or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_nectar.claude import project as project_mod
from pytest_nectar.claude.project import apply_plan, plan_write, project_check
from pytest_nectar.cli import main
from pytest_nectar.errors import CompileError, NectarError, UsageError
from pytest_nectar.project.config import load_config
from tests.claude_support import BAD_POLICY, GOOD_POLICY

OLD = GOOD_POLICY.replace("sample(0.01)", "sample(0.1)")


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "main.toon").write_text(OLD)
    monkeypatch.chdir(tmp_path)
    assert main(["compile", "policies/main.toon"]) == 0
    return tmp_path


def _files(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_plan_compiles_the_proposal_in_memory_like_nectar_compile(folder: Path) -> None:
    before = _files(folder)
    plan = plan_write(Path("policies/main.toon"), GOOD_POLICY)
    assert _files(folder) == before  # planning writes nothing
    assert "SampleRate: 100" in plan.outputs.rules_text
    assert apply_plan(plan) == [
        Path("policies/main.toon"),
        folder / "rules.yaml",
        folder / "nectar.lock",
    ]
    assert (folder / "policies" / "main.toon").read_text() == GOOD_POLICY
    assert main(["compile", "policies/main.toon", "--check"]) == 0


def test_a_failed_write_changes_no_file(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lock cannot be written (a full disk): the policy and rules staged before it are
    not put in place either, and the error names the file."""
    from pytest_nectar import fileio

    before = _files(folder)
    plan = plan_write(Path("policies/main.toon"), GOOD_POLICY)
    real = fileio._stage

    def failing(path: Path, data: str | bytes) -> str:
        if path.name == "nectar.lock":
            raise OSError(28, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(fileio, "_stage", failing)
    with pytest.raises(NectarError) as info:
        apply_plan(plan)
    assert _files(folder) == before
    assert str(info.value).startswith(f"{folder / 'nectar.lock'}: cannot write file; got ")


def test_the_cli_reports_a_failed_write_without_a_traceback(
    folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_nectar.cli import propose

    def failing(plan: object) -> list[Path]:
        raise OSError(13, "Permission denied")

    monkeypatch.setattr(project_mod, "apply_plan", failing)
    context = propose._Context(
        OLD, Path("policies/main.toon"), "policies/main.toon", None, None, load_config()
    )
    with pytest.raises(UsageError) as info:
        propose._write_project(context, GOOD_POLICY)
    assert info.value.render() == (
        "cannot write the policy, rules and lock; nothing was changed; "
        "got '[Errno 13] Permission denied'"
    )


def test_project_check_reports_what_does_not_compile(folder: Path) -> None:
    check = project_check(Path("policies/main.toon"))
    assert check(GOOD_POLICY) == []
    (problem,) = check(BAD_POLICY)
    assert problem.startswith("policies/main.toon:5:9: row count differs from the table header")


def test_a_policy_outside_the_project_is_refused(folder: Path) -> None:
    (folder / "pyproject.toml").write_text('[tool.nectar]\npolicies = ["policies/*.toon"]\n')
    # A new file the glob will match is compiled with the others (and clashes here).
    with pytest.raises(CompileError, match="two policies compile into the same environment"):
        plan_write(Path("policies/new.toon"), GOOD_POLICY)
    with pytest.raises(UsageError) as info:
        plan_write(Path("other/x.toon"), GOOD_POLICY)
    assert info.value.render().startswith(
        "--write: other/x.toon is not one of the policies of pyproject.toml; got 'policies/*.toon'"
    )
