"""``nectar propose --write``: the new policy, the rules file and the lock, all or nothing.

The proposal is compiled together with the project's other policies *before* anything is
written, by the same code as ``nectar compile``
(:func:`~pytest_nectar.compiler.outputs.build_outputs`), reading the proposed text from
memory instead of the file.  Only when that succeeds are the
three files written, each atomically (policy, rules, lock); if a later write fails, the
earlier ones are put back, so the set on disk is either the old one or the new one.

Which files: the policies, rules and lock of ``[tool.nectar]``; the policy must be one of
the project's policies (else its rules would not be in the rules file).  Without a
project, the policy alone compiles into ``rules.yaml`` and ``nectar.lock`` beside it
(what ``nectar compile POLICY`` does in that folder).
"""

from __future__ import annotations

import fnmatch
import os
import sys
from dataclasses import dataclass
from pathlib import Path, PosixPath, WindowsPath

from pytest_nectar.claude.verify import ProjectCheck
from pytest_nectar.compiler.lockfile import policy_sha256
from pytest_nectar.compiler.outputs import Outputs, build_outputs, rules_file_text, show_path
from pytest_nectar.errors import NectarError, UsageError
from pytest_nectar.fileio import write_atomic_all
from pytest_nectar.policy.parser import parse_policy
from pytest_nectar.project.config import NectarConfig, load_config

__all__ = [
    "WritePlan",
    "apply_plan",
    "in_project",
    "plan_write",
    "project_check",
    "project_policies",
]

if sys.platform == "win32":  # pragma: no cover
    _ConcretePath = WindowsPath
else:
    _ConcretePath = PosixPath


class _StagedPath(_ConcretePath):
    """A policy path whose contents are the proposal, not (yet) the file on disk."""

    staged: bytes

    def read_bytes(self) -> bytes:
        return self.staged


def _staged(path: Path, data: bytes) -> Path:
    staged = _StagedPath(path)
    staged.staged = data
    return staged


@dataclass(frozen=True, slots=True)
class WritePlan:
    """Everything ``--write`` will put on disk, already compiled."""

    policy_path: Path
    policy_text: str
    rules_path: Path
    lock_path: Path
    outputs: Outputs


def in_project(config: NectarConfig, path: Path) -> bool:
    """Whether ``path`` is (or, once written, will be) one of the project's policies."""
    if config.path is None:
        return False
    target = path.resolve()
    if target in (p.resolve() for p in config.policy_files()):
        return True
    for pattern in config.policies:
        full = pattern if os.path.isabs(pattern) else str(config.root / pattern)
        if fnmatch.fnmatch(str(target), str(Path(full).resolve())):
            return True
    return False


def project_policies(config: NectarConfig, path: Path) -> list[Path]:
    """The policies ``--write`` compiles with ``path``; UsageError if it is not one of them."""
    if config.path is None:
        return [path]
    if not in_project(config, path):
        raise UsageError(
            f"--write: {show_path(path)} is not one of the policies of {show_path(config.path)}",
            got=", ".join(config.policies) or "no policies",
            hint="add it to [tool.nectar] policies, or write a new file with -o FILE",
        )
    found = config.policy_files()
    target = path.resolve()
    if all(p.resolve() != target for p in found):
        found.append(path)  # a new file that a glob will match once it exists
    return found


def plan_write(policy_path: Path, text: str, *, config: NectarConfig | None = None) -> WritePlan:
    """Compile the project with ``text`` as ``policy_path``; nothing is written.

    Raises:
        UsageError: the policy is not part of the project.
        PolicyError, CompileError, CorpusError: the project does not compile with it.
    """
    cfg = config if config is not None else load_config()
    data = text.encode("utf-8")
    target = policy_path.resolve()
    paths = [
        _staged(p, data) if p.resolve() == target else p for p in project_policies(cfg, policy_path)
    ]
    outputs = build_outputs(paths, cfg.rules, cfg.lock, cfg.corpus)
    recorded = [e.policy_sha256 for p, e in outputs.lock.policies.items()]
    if (
        policy_sha256(parse_policy(text, path=str(policy_path))) not in recorded
    ):  # the compile did not read the proposal: never lock it
        raise UsageError(
            "cannot stage the proposal for compiling",
            got=show_path(policy_path),
            hint="write it with -o FILE and run 'nectar compile'",
        )
    return WritePlan(policy_path, text, cfg.rules, cfg.lock, outputs)


def project_check(policy_path: Path, *, config: NectarConfig | None = None) -> ProjectCheck:
    """For the verifier: the project's compile problems with the proposal in place."""

    def check(text: str) -> list[str]:
        try:
            plan_write(policy_path, text, config=config)
        except NectarError as err:
            return [err.render()]
        return []

    return check


def apply_plan(plan: WritePlan) -> list[Path]:
    """Write policy, rules and lock: all of them or, on a failed write, none.

    Raises:
        NectarError: a file cannot be written (code ``io``); no file is changed.
    """
    files = [
        (plan.policy_path, plan.policy_text),
        # into Helm values or a ConfigMap only the rules go (compile -o does the same)
        (plan.rules_path, rules_file_text(plan.rules_path, plan.outputs.rules_text)),
        (plan.lock_path, plan.outputs.lock_text),
    ]
    write_atomic_all(files)
    return [path for path, _ in files]
