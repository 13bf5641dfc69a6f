"""``nectar diff OLD NEW [--corpus PATH] [--format F] [-o FILE]``: what a change changes.

OLD and NEW are policies or rules files, or ``git:REV:path`` for a committed version (e.g.
``nectar diff git:origin/main:policies/checkout.toon policies/checkout.toon``).  First and
loudest: error and must-keep traces that NEW would no longer keep for sure; then the corpus
traces that change decision and the change in kept events/s per rule and per service.
Exit 0 when the report was made (whatever it says), 2 on unreadable input.
"""

from __future__ import annotations

import argparse
from typing import Any

from pytest_nectar.cli.explain import add_report_options, emit, report_session

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "diff",
        help="what changes from OLD to NEW on the corpus (lost errors first)",
        description="Compare two policies or rules files on a trace corpus.",
    )
    parser.add_argument("old", metavar="OLD", help="policy, rules file or git:REV:path")
    parser.add_argument("new", metavar="NEW", help="policy, rules file or git:REV:path")
    add_report_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pytest_nectar.report.render import diff_document, write_diff

    session = report_session(args)
    report = session.diff(session.subject(args.old), session.subject(args.new))
    document = diff_document(report, args.format) if args.output else None
    emit(args, document, lambda stream: write_diff(report, args.format, stream))
    return 0
