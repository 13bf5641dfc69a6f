"""``nectar explain [POLICY_OR_RULES...] [--corpus PATH] [--format F] [-o FILE]``.

The report: what each rule means and does on the corpus, totals against the budget,
per-service rates and the prover's verdicts, as text (default), Markdown, HTML with charts
or JSON.  Without arguments the policies and corpus come from ``[tool.nectar]``.  A policy
that does not compile, an empty corpus or one without timestamps still gives a report that
says what it cannot compute; only unreadable input is an error (exit 2).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from pytest_nectar.cli.options import add_engine_options
from pytest_nectar.errors import UsageError

if TYPE_CHECKING:
    from pytest_nectar.project.session import ProjectSession

__all__ = ["add_report_options", "register", "report_session", "run"]


def add_report_options(parser: argparse.ArgumentParser) -> None:
    """The options explain and diff share."""
    parser.add_argument(
        "--corpus",
        action="append",
        metavar="PATH",
        help="trace file or folder (repeatable; default: [tool.nectar] corpus)",
    )
    parser.add_argument(
        "--format",
        choices=("text", "md", "html", "json"),
        default="text",
        help="text (terminal), md (PR comment, step summary), html (charts), json",
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE")
    parser.add_argument("--env", help="destination of a rules file (default __default__)")
    parser.add_argument(
        "--window",
        type=float,
        metavar="SECONDS",
        help="budget peak window (default: [tool.nectar] window_s, else 60)",
    )
    add_engine_options(parser)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="what a policy does on the corpus: per rule, budget, services, verdicts",
        description="The report of policies or rules files on a trace corpus.",
    )
    parser.add_argument(
        "targets",
        nargs="*",
        metavar="POLICY_OR_RULES",
        help=".toon policy, Refinery rules file, or git:REV:path (default: [tool.nectar] policies)",
    )
    add_report_options(parser)
    parser.set_defaults(func=run)


def report_session(args: argparse.Namespace) -> ProjectSession:
    """The session explain and diff read: settings with the command line, REPORT corpus."""
    from pytest_nectar.project.session import CorpusMode, ProjectSession
    from pytest_nectar.project.settings import load_settings
    from pytest_nectar.report.progress import Progress

    settings = load_settings().with_options(
        corpus=args.corpus,
        window_s=args.window,
        cluster=args.cluster,
        cluster_storage=args.cluster_storage,
        partition_rows=args.partition_rows,
    )
    for warning in settings.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    return ProjectSession(
        settings, env=args.env, corpus_mode=CorpusMode.REPORT, progress=Progress()
    )


def emit(args: argparse.Namespace, document: str | None, write: Any) -> None:
    """Write to ``-o FILE`` atomically, or print (``write(stream)``) to stdout."""
    if args.output:
        from pytest_nectar.fileio import write_atomic

        assert document is not None
        write_atomic(args.output, document)
        sys.stderr.write(f"wrote {args.output}\n")
    else:
        write(sys.stdout)


def run(args: argparse.Namespace) -> int:
    from pytest_nectar.report.render import explain_document, write_explain

    session = report_session(args)
    targets = list(args.targets) or [str(p) for p in session.settings.policy_files()]
    if not targets:
        raise UsageError(
            "nothing to explain",
            hint="give a policy or rules file, or set [tool.nectar] policies",
        )
    subjects = [session.subject(t) for t in targets]
    reports = [session.explain(s) for s in subjects]
    document = explain_document(reports, args.format) if args.output else None
    emit(args, document, lambda stream: write_explain(reports, args.format, stream))
    return 0
