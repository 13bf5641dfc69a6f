"""``nectar propose INTENT``: Claude writes or refines a policy; Nectar verifies it first.

Every proposal is parsed, checked, compiled and proven (``nectar prove``'s properties, on
the corpus of ``--corpus`` or ``[tool.nectar]``, with its error expression and window);
failures go back to Claude.  Nothing is written unless a proposal passes (or ``--force`` is
given, and then the output says so).  ``--write`` replaces the policy and refreshes the
rules file and lock as ``nectar compile`` does, all or nothing.  The change is summarised
by ``nectar diff``'s report (patch body, PR body, default output).  The corpus summary is
redacted first (``--redact``, :mod:`pytest_nectar.corpus.privacy`); ``--show-request``
prints the request and sends nothing.  Exit codes: 0 a proposal passed, 1 none passed (or
``--patch`` with no change), 2 usage, input or API errors.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_nectar.claude.change import describe_change
from pytest_nectar.corpus.privacy import Redaction, Scrubber
from pytest_nectar.errors import UsageError
from pytest_nectar.escape import terminal

if TYPE_CHECKING:
    from pytest_nectar.claude.refine import Attempt, RefineResult
    from pytest_nectar.project.config import NectarConfig

__all__ = ["describe_change", "register", "run"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "propose",
        help="have Claude write or refine a policy, verified before it is written",
        description=(
            "Ask Claude for a policy that implements INTENT, verify every proposal and "
            "send failures back, up to --max-rounds. Needs ANTHROPIC_API_KEY; every other "
            "nectar command works offline."
        ),
    )
    parser.add_argument("intent", metavar="INTENT", help="what the policy should do, in English")
    parser.add_argument("--policy", metavar="FILE", help="policy to refine, or the path to create")
    parser.add_argument("--corpus", metavar="PATH", help="traces whose summary Claude sees")
    parser.add_argument(
        "--model",
        metavar="ID",
        help="Claude model id (else NECTAR_MODEL, "
        "[tool.nectar] model, or the SDK's current Sonnet)",
    )
    parser.add_argument(
        "--max-rounds",
        type=int,
        default=3,
        metavar="N",
        help="proposals to try, feeding problems back (default 3)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="per-request timeout (default 120)",
    )
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--write", action="store_true", help="replace the --policy file")
    out.add_argument("--patch", metavar="FILE", help="write a git am patch changing --policy")
    out.add_argument("-o", "--output", metavar="FILE", help="write the policy to a new file")
    parser.add_argument(
        "--pr-body", metavar="FILE", help="also write a pull-request body (Markdown)"
    )
    parser.add_argument(
        "--force", action="store_true", help="write the best attempt even if it fails verification"
    )
    parser.add_argument(
        "--redact",
        choices=[r.value for r in Redaction],
        default=Redaction.STANDARD.value,
        help="how much of the corpus's values to hide from the model: standard (default) "
        "replaces host names, addresses, e-mails, home paths, identifiers and secret fields "
        "by <host>, <ip>, <email>, <path>, <id>, <secret>; strict sends no values but "
        "service names; off sends values as measured except secrets",
    )
    parser.add_argument(
        "--show-request",
        action="store_true",
        help="print the request exactly as it would be sent (JSON) and exit without sending",
    )
    parser.set_defaults(func=run)


def _repo_relative(path: Path) -> str:
    """The path as ``git am`` will see it: relative to the repository root, else to cwd."""
    target = path.resolve()
    for folder in target.parents:
        if (folder / ".git").exists():
            return target.relative_to(folder).as_posix()
    try:
        return target.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.name


def _patch_date() -> datetime | None:
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    return datetime.fromtimestamp(int(epoch), tz=UTC) if epoch.isdigit() else None


def _load_summary(path: str | list[str], redaction: Redaction) -> tuple[Any, Any]:
    """The loaded corpus (for the prover) and its bounded, redacted summary (for the prompt)."""
    try:
        from pytest_nectar.corpus import load_corpus, summarize
    except ImportError:
        raise UsageError(
            "--corpus is not supported by this installation yet",
            got=str(path),
            hint="run without --corpus",
        ) from None
    corpus = load_corpus(path)
    return corpus, summarize(corpus, Scrubber(redaction))


def _report_attempt(attempt: Attempt) -> None:
    if attempt.passed:
        sys.stderr.write(f"round {attempt.round}: proposal passed verification\n")
    else:
        count = len(attempt.verdict.problems)
        sys.stderr.write(
            f"round {attempt.round}: proposal failed verification "
            f"({count} problem{'s' if count != 1 else ''})\n"
        )
        for problem in attempt.verdict.problems:
            sys.stderr.write(terminal(f"  {problem.splitlines()[0]}\n"))


def _corpus_paths(args: argparse.Namespace, config: NectarConfig) -> list[str]:
    """``--corpus``, else ``[tool.nectar] corpus``: what ``nectar prove`` would prove on."""
    from pytest_nectar.compiler.outputs import show_path

    if args.corpus:
        return [args.corpus]
    return [show_path(p) for p in config.corpus or ()]


def run(args: argparse.Namespace) -> int:
    try:
        from pytest_nectar.claude import client as claude
    except ImportError as err:
        if err.name not in ("anthropic", "httpx2"):
            raise
        raise UsageError(
            "nectar propose needs the anthropic package",
            got=f"{err.name} is not installed",
            hint="pip install 'pytest-nectar[claude]'; every other nectar command works without it",
        ) from None
    from pytest_nectar.claude import prompt
    from pytest_nectar.claude.project import in_project, project_check, project_policies
    from pytest_nectar.claude.refine import refine
    from pytest_nectar.claude.verify import build_verifier
    from pytest_nectar.project.config import load_config

    if args.max_rounds < 1:
        raise UsageError("--max-rounds must be at least 1", got=args.max_rounds)
    if args.timeout <= 0:
        raise UsageError("--timeout must be positive", got=args.timeout)
    if (args.write or args.patch) and not args.policy:
        flag = "--write" if args.write else "--patch"
        raise UsageError(f"{flag} needs --policy FILE (the file to change)")
    if not args.intent.strip():
        raise UsageError(
            "INTENT is empty", hint='say what the policy should do, e.g. "keep errors"'
        )

    policy_path = Path(args.policy) if args.policy else None
    current: str | None = None
    if policy_path is not None and policy_path.exists():
        try:
            current = policy_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise UsageError(f"cannot read {policy_path}", got=str(err)) from None
    project = load_config()
    if args.write and policy_path is not None:
        project_policies(project, policy_path)  # not a project policy: say so before asking

    # [tool.nectar] model comes from the one settings load (NECTAR_MODEL sits between it
    # and --model, as documented for propose).
    settings = claude.ClaudeSettings(
        model=claude.resolve_model(args.model, os.environ, {"model": project.model}),
        timeout_s=args.timeout,
    )
    secrets = [
        os.environ[k] for k in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN") if os.environ.get(k)
    ]

    paths = _corpus_paths(args, project)
    redaction = Redaction(args.redact)
    corpus, summary = _load_summary(paths, redaction) if paths else (None, None)
    shown_path = _repo_relative(policy_path) if policy_path else "proposed.toon"
    # --write refreshes the project's rules and lock; a --patch to a project policy carries
    # them: either way the whole project must still compile with the proposal in it.
    refresh = policy_path is not None and (
        args.write or (args.patch is not None and in_project(project, policy_path))
    )
    verify = build_verifier(
        policy_path=shown_path,
        corpus=corpus,
        error=project.error_expr,
        window_s=project.window_s,
        project=project_check(policy_path, config=project)
        if refresh and policy_path is not None
        else None,
    )
    reference = prompt.load_reference()

    def build(summary_json: str | None) -> prompt.Conversation:
        return prompt.build_conversation(
            args.intent,
            reference=reference,
            summary_json=summary_json,
            current_policy=current,
            policy_path=shown_path,
        )

    if args.show_request:
        # Offline: the local (pessimistic) estimate picks how much of the summary fits, as
        # it screens levels before the server counts; nothing leaves the machine.
        conversation, _ = prompt.fit_to_budget(
            build, summary, prompt.estimate_tokens, secrets=secrets
        )
        sys.stdout.write(claude.request_json(conversation, settings) + "\n")
        return 0
    client = claude.make_client(settings)
    conversation, tokens = prompt.fit_to_budget(
        build, summary, client.count_tokens, secrets=secrets
    )
    how = "estimated" if client.counted_locally else "counted"
    sys.stderr.write(
        f"asking {settings.model}: {tokens} input tokens ({how}), "
        f"budget {prompt.INPUT_TOKEN_BUDGET}\n"
    )
    result = refine(
        client,
        conversation,
        verify,
        max_rounds=args.max_rounds,
        secrets=secrets,
        on_attempt=_report_attempt,
    )
    label = ", ".join(paths) or None
    context = _Context(current, policy_path, shown_path, corpus, label, project, refresh)
    return _finish(args, result, context)


@dataclass(frozen=True)
class _Context:
    current: str | None
    policy_path: Path | None
    shown_path: str
    corpus: Any
    corpus_label: str | None
    project: NectarConfig
    refresh: bool = False  # the project's rules and lock change with the policy


def _project_files(context: _Context, text: str) -> list[tuple[str, str | None, str]]:
    """The rules file and lock as the proposal makes them, for the patch (or none)."""
    from pytest_nectar.claude.project import plan_write

    if not context.refresh or context.policy_path is None:
        return []
    plan = plan_write(context.policy_path, text, config=context.project)
    out: list[tuple[str, str | None, str]] = []
    for path, new in ((plan.rules_path, plan.outputs.rules_text),
                      (plan.lock_path, plan.outputs.lock_text)):  # fmt: skip
        old = path.read_text(encoding="utf-8") if path.exists() else None
        out.append((_repo_relative(path), old, new))
    return out


def _write_project(context: _Context, text: str) -> None:
    """Policy, rules and lock, compiled first and written all or nothing."""
    from pytest_nectar.claude.project import apply_plan, plan_write
    from pytest_nectar.compiler.outputs import show_path

    assert context.policy_path is not None
    plan = plan_write(context.policy_path, text, config=context.project)
    try:
        written = apply_plan(plan)
    except OSError as err:
        raise UsageError(
            "cannot write the policy, rules and lock; nothing was changed",
            got=str(err),
        ) from None
    sys.stderr.write("wrote " + ", ".join(show_path(p) for p in written) + "\n")


def _finish(args: argparse.Namespace, result: RefineResult, context: _Context) -> int:
    from pytest_nectar.claude import patch
    from pytest_nectar.claude.change import summarize_change
    from pytest_nectar.fileio import write_atomic

    best = result.best
    text = best.proposal.policy
    current, shown_path = context.current, context.shown_path
    if not result.passed:
        sys.stderr.write(
            f"no proposal passed verification in {len(result.attempts)} "
            f"round{'s' if len(result.attempts) != 1 else ''}; best attempt "
            f"(round {best.round}) still fails:\n"
        )
        for problem in best.verdict.problems:
            sys.stderr.write(terminal(problem + "\n"))
        if not args.force:
            sys.stdout.write(terminal(text))
            sys.stderr.write("nothing was written (use --force to write the best attempt)\n")
            return 1
    summary = summarize_change(
        current,
        text,
        path=shown_path,
        corpus=context.corpus,
        corpus_label=context.corpus_label,
        window_s=context.project.window_s,
        error=context.project.error_expr,
    )
    verification = (
        list(best.verdict.notes)
        if result.passed
        else [p.splitlines()[0] for p in best.verdict.problems]
    )
    if args.write and context.policy_path is not None:
        _write_project(context, text)
    elif args.output:
        write_atomic(args.output, text)
        sys.stderr.write(f"wrote {args.output}\n")
    elif args.patch:
        if current == text:
            sys.stderr.write("the proposal equals the current policy: no change, nothing written\n")
            return 1
        else:
            write_atomic(
                args.patch,
                patch.format_patch(
                    path=shown_path,
                    old=current,
                    new=text,
                    intent=args.intent,
                    rationale=best.proposal.rationale,
                    diff_summary=f"{summary.line}\n\n{summary.text}"
                    if summary.from_diff
                    else summary.text,
                    verification=verification,
                    date=_patch_date(),
                    verified=result.passed,
                    also=_project_files(context, text),
                ),
            )
            sys.stderr.write(f"wrote {args.patch}\n")
    else:
        sys.stdout.write(terminal(text))
        if current is not None:
            sys.stdout.write(terminal(patch.unified_diff(shown_path, current, text)))
            sys.stdout.write(terminal("\n" + summary.text))
    if args.pr_body:
        body = patch.pr_body(
            intent=args.intent,
            path=shown_path,
            rationale=best.proposal.rationale,
            diff_summary=summary.line,
            diff_markdown=summary.markdown if summary.from_diff else "",
            verification=verification,
            model=best.proposal.model,
            rounds=len(result.attempts),
            verified=result.passed,
        )
        write_atomic(args.pr_body, body)
    sys.stderr.write(terminal(f"change: {summary.line}\n"))
    return 0 if result.passed else 1
