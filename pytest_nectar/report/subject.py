"""What a report is about: a policy or a rules file, read from disk or from a git revision.

``load_subject(spec)`` accepts a ``.toon`` policy, a Refinery rules file (``.yaml``,
``.yml``, ``.json``, ``.toml``), or ``git:REV:path`` (read with ``git show REV:./path``,
so the path is relative to the current directory, as ``git ls-files`` prints it).  A policy
that parses but does not compile, or a rules file Refinery would refuse, is still a subject:
``problem`` says why nothing can be evaluated, and the report shows what it can.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

from pytest_nectar.compiler.compile import Compilation, CompiledEnvironment, compile_policies
from pytest_nectar.errors import CompileError, NectarError, Position, RulesError, UsageError
from pytest_nectar.policy.error_criteria import default_error_match
from pytest_nectar.policy.model import DEFAULT_ENVIRONMENT, Expr, Policy
from pytest_nectar.policy.parser import parse_policy
from pytest_nectar.refinery import rules_model as rm
from pytest_nectar.refinery.rules_reader import format_for, read_rules_text

__all__ = [
    "GIT_PREFIX",
    "Subject",
    "load_subject",
    "policy_subject",
    "read_source",
    "subject_from_text",
]

GIT_PREFIX: Final = "git:"
_MAX_BYTES: Final = 8 * 1024 * 1024


@dataclass(frozen=True)
class Subject:
    """A policy or rules file ready to evaluate (``rules_file`` None: see ``problem``).

    ``origins[i]`` is the policy rule behind compiled Refinery rule ``i`` (None for the
    compiler's catch-all); for a rules file every rule is its own origin.
    """

    label: str
    kind: str  # "policy" or "rules"
    rules_file: rm.RulesFile | None
    env: str
    policy: Policy | None = None
    compiled: CompiledEnvironment | None = None
    origins: tuple[str | None, ...] = ()
    error: Expr = field(default_factory=default_error_match)
    must_keep: tuple[Expr, ...] = ()
    budget: float | None = None
    notes: tuple[str, ...] = ()
    problem: str | None = None
    path: str | None = None  # a file on disk (None for git: sources)
    #: The located error behind ``problem`` (``nectar prove`` and pytest report it as is).
    failure: NectarError | None = field(default=None, compare=False)
    #: The text it was read from (the diff report shows OLD's and NEW's side by side).
    source: str | None = field(default=None, compare=False)


def read_source(spec: str) -> tuple[str, str]:
    """``(text, display path)`` of a file or a ``git:REV:path`` spec."""
    if spec.startswith(GIT_PREFIX):
        rest = spec[len(GIT_PREFIX) :]
        rev, sep, path = rest.partition(":")
        if not sep or not rev or not path:
            raise UsageError(
                "a git source must be git:REV:path", got=spec, hint="e.g. git:main:policy.toon"
            )
        if rev.startswith("-"):  # git would read it as an option (--output=FILE writes a file)
            raise UsageError(
                "a git revision must not start with '-'",
                position=Position(spec),
                got=rev,
                hint="name a branch, tag or commit",
            )
        rel = path if path.startswith(("./", "../", "/")) else "./" + path
        try:
            done = subprocess.run(
                ["git", "show", "--end-of-options", f"{rev}:{rel}"],
                capture_output=True,
                check=False,
                timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            raise UsageError("cannot run git", got=str(err)) from None
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise UsageError(
                "git cannot show this file",
                position=Position(spec),
                got=message[0] if message else done.returncode,
                hint=git_show_hint("\n".join(message), rev, path),
            )
        data = done.stdout
        display = f"{rev}:{path}"
    else:
        try:
            p = Path(spec)
            if p.stat().st_size > _MAX_BYTES:
                raise UsageError("file is too large", position=Position(spec))
            data = p.read_bytes()
        except OSError as err:
            raise UsageError(
                "cannot read file", position=Position(spec), got=err.strerror or str(err)
            ) from None
        display = spec
    try:
        return data.decode("utf-8"), display
    except UnicodeDecodeError:
        raise UsageError("file is not valid UTF-8", position=Position(display)) from None


def _policy_subject(text: str, display: str, spec: str, error: Expr | None) -> Subject:
    policy = parse_policy(text, path=display)
    path = None if spec.startswith(GIT_PREFIX) else spec
    try:
        compilation = compile_policies([policy], sources=[text])
    except CompileError as err:
        base = policy_subject(policy, None, label=display, path=path, error=error)
        return replace(base, problem=f"the policy does not compile: {err.message}", failure=err)
    return policy_subject(policy, compilation, label=display, path=path, error=error)


def policy_subject(
    policy: Policy,
    compilation: Compilation | None,
    *,
    label: str,
    path: str | None,
    error: Expr | None = None,
) -> Subject:
    """A subject from a policy already parsed and compiled (``compile_policies([policy])``),
    so that a front end holding them (the pytest plugin) compiles nothing twice."""
    base = Subject(
        label=label,
        kind="policy",
        rules_file=None,
        env=policy.effective_environment,
        policy=policy,
        error=policy.error if policy.error is not None else (error or default_error_match()),
        must_keep=policy.must_keep or (),
        budget=float(policy.budget_per_second) if policy.budget_per_second else None,
        path=path,
    )
    if compilation is None:
        return base
    compiled = compilation.environments[policy.effective_environment]
    return replace(
        base,
        rules_file=compilation.rules_file,  # exactly what `nectar compile` deploys
        compiled=compiled,
        origins=compiled.origins,
        # The policy's own environment's notes: whether some policy targets __default__ is
        # a fact about the project's rules file (`nectar compile`), not about this policy.
        notes=compiled.notes,
    )


def _rules_subject(
    text: str, display: str, spec: str, env: str | None, error: Expr | None
) -> Subject:
    from pytest_nectar.refinery.rules_validate import validate_loaded

    fmt = format_for(display) or "yaml"
    loaded = read_rules_text(text, display, fmt)
    report = validate_loaded(loaded)
    problem = None
    failure: NectarError | None = None
    if report.errors:
        first = report.errors[0]
        problem = f"Refinery would refuse this rules file: {first.message}"
        failure = RulesError(
            first.what,
            position=first.position,
            hint=f"Refinery would refuse this file ({len(report.errors)} error(s)); "
            "run 'nectar validate' for all of them",
            source_line=first.source_line,
        )
    destination = env or DEFAULT_ENVIRONMENT
    try:
        destination, sampler = rm.select_sampler(loaded.rules_file, env)
    except LookupError as err:
        problem = problem or f"no sampler for this destination: {err}"
        failure = failure or RulesError(
            "Refinery would exit: no sampler for this destination",
            position=loaded.rules_file.position,
            got=env,
            hint=str(err),
        )
        sampler = None
    names: tuple[str | None, ...] = ()
    if isinstance(sampler, rm.RulesBasedSamplerConfig):
        names = tuple(r.name for r in sampler.rules or ())
    return Subject(
        label=display,
        kind="rules",
        rules_file=None if problem else loaded.rules_file,
        env=destination,
        origins=names,
        error=error or default_error_match(),
        problem=problem,
        path=None if spec.startswith(GIT_PREFIX) else spec,
        failure=failure,
    )


def load_subject(spec: str, *, env: str | None = None, error: Expr | None = None) -> Subject:
    """Read and prepare ``spec``.  Raises NectarError only when it cannot be read at all.

    ``env`` picks a rules file's destination (a policy has its own); ``error`` is the error
    expression where the policy sets none (``[tool.nectar] error``), and a rules file's.
    """
    text, display = read_source(spec)
    name = spec.rsplit(":", 1)[-1] if spec.startswith(GIT_PREFIX) else spec
    return subject_from_text(text, display, spec=spec, name=name, env=env, error=error)


def subject_from_text(
    text: str,
    display: str,
    *,
    spec: str | None = None,
    name: str | None = None,
    env: str | None = None,
    error: Expr | None = None,
) -> Subject:
    """A subject from text already read (``name`` decides policy or rules file by suffix)."""
    spec = spec if spec is not None else GIT_PREFIX + display  # not a file on disk
    name = name if name is not None else display
    if name.endswith(".toon"):
        return replace(_policy_subject(text, display, spec, error), source=text)
    if format_for(name) is None:
        raise UsageError(
            "not a policy or rules file",
            position=Position(display),
            hint="give a .toon policy or a .yaml/.yml/.json/.toml rules file",
        )
    return replace(_rules_subject(text, display, spec, env, error), source=text)


def git_show_hint(message: str, rev: str, path: str) -> str:
    """What to do when ``git show REV:path`` fails, from git's own message."""
    if "not a git repository" in message:
        return (
            "this folder is not in a git repository: run 'git init', then "
            "'git add . && git commit -m policies' (or compare two files: nectar diff OLD NEW)"
        )
    if (
        "invalid object name" in message
        or "unknown revision" in message
        or ("bad revision" in message or "ambiguous argument" in message)
    ):
        return (
            f"there is no revision {rev!r} here: commit first ('git add . && git commit -m "
            "policies'), or name one that exists ('git log --oneline')"
        )
    if "does not exist in" in message or "exists on disk, but not in" in message:
        return f"{path} is not in {rev}: commit it first, or give its path as it was in {rev}"
    return "check the revision and that the path is relative to this folder"
