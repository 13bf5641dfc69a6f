"""``nectar prove [POLICY_OR_RULES...]``: decide the safety properties, with witnesses.

A ``.toon`` policy is compiled and its compiled rules are proven; a Refinery rules file is
proven as it stands (``--error``/``--budget`` supply what a policy would).  Without
arguments, the policies and corpus of ``[tool.nectar]`` are used.  Exit 0 when every
property passes (or is unknown), 1 when one fails (or warns, with ``--strict``), 2 on a
usage or input error.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pytest_nectar.cli.explain import add_cluster_option
from pytest_nectar.errors import UsageError

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "prove", help="prove safety properties on a corpus and for all traces"
    )
    parser.add_argument(
        "targets", nargs="*", metavar="POLICY_OR_RULES", help=".toon policies or rules files"
    )
    parser.add_argument("--corpus", action="append", help="trace file or folder (repeatable)")
    parser.add_argument("--env", help="environment of a rules file (default __default__)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--no-validate",
        action="store_true",
        help="load a rules file as Refinery started with --no-validate does",
    )
    parser.add_argument(
        "--property", action="append", dest="properties", metavar="ID", help="only this property"
    )
    parser.add_argument("--budget", type=float, help="kept events per second allowed")
    parser.add_argument(
        "--error", help="error expression (default: policy's, or http.status >= 500)"
    )
    parser.add_argument("--window", type=float, help="budget window in seconds (default 60)")
    parser.add_argument("--seed", type=int, help="seed of the bounded random search")
    parser.add_argument("--strict", action="store_true", help="warnings fail the run")
    add_cluster_option(parser)
    parser.add_argument(
        "--witness-dir", help="write constructed counterexample traces here (for nectar decide)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pytest_nectar.escape import terminal
    from pytest_nectar.project.session import CorpusMode, ProjectSession
    from pytest_nectar.project.settings import load_settings
    from pytest_nectar.prover.proof_report import render_json, render_text

    settings = load_settings().with_options(
        corpus=args.corpus,
        window_s=args.window,
        error=args.error,
        strict=True if args.strict else None,
        cluster=args.cluster,
    )
    for warning in settings.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    targets: list[str] = list(args.targets) or [str(p) for p in settings.policy_files()]
    if not targets:
        raise UsageError(
            "nothing to prove",
            hint="give policies or rules files, or set policies in [tool.nectar]",
        )
    session = ProjectSession(
        settings,
        env=args.env,
        budget=args.budget,
        properties=args.properties,
        seed=args.seed,
        corpus_mode=CorpusMode.STRICT,
        validate=not args.no_validate,
    )
    session.corpus()  # an unreadable corpus is an input error before anything is proven
    reports = []
    for target in targets:
        result = session.result(target)
        result.raise_failure()
        rep = result.proof
        assert rep is not None
        if args.witness_dir:
            _write_witnesses(rep, args.witness_dir)
        reports.append(rep)
    sys.stdout.write(
        render_json(reports, settings.to_json()) if args.json else terminal(render_text(reports))
    )
    if any(r.failed for r in reports) or (settings.strict and any(r.warned for r in reports)):
        return 1
    return 0


def _write_witnesses(report: Any, folder: str) -> None:
    """Write each constructed counterexample as a TRACE file and point its command at it."""
    import dataclasses
    import json
    import shlex
    from pathlib import Path

    from pytest_nectar.fileio import write_atomic

    stem = Path(report.target.name).stem
    for pid, result in list(report.results.items()):
        witnesses = []
        for w in result.witnesses:
            if w.spans is None:
                witnesses.append(w)
                continue
            path = Path(folder) / f"{stem}-{pid}.json"
            doc = {"trace_id": w.trace_id, "spans": [dict(s) for s in w.spans]}
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")
            command = [
                "nectar",
                "decide",
                report.target.rules_path or report.target.name,
                str(path),
            ]
            if report.target.env:
                command += ["--env", report.target.env]
            witnesses.append(dataclasses.replace(w, command=shlex.join(command)))
        report.results[pid] = dataclasses.replace(result, witnesses=tuple(witnesses))
