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

from pytest_nectar.cli.options import add_engine_options, add_no_validate_option
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
    add_no_validate_option(parser)
    parser.add_argument(
        "--property", action="append", dest="properties", metavar="ID", help="only this property"
    )
    parser.add_argument("--budget", type=float, help="kept events per second allowed")
    parser.add_argument(
        "--error",
        help="error expression (default: the policy's, else the default error criteria)",
    )
    parser.add_argument("--window", type=float, help="budget window in seconds (default 60)")
    parser.add_argument(
        "--traffic",
        metavar="RATE",
        help='production rate the corpus stands for, e.g. "2000 traces/s" (default: traffic)',
    )
    parser.add_argument("--seed", type=int, help="seed of the bounded random search")
    parser.add_argument("--strict", action="store_true", help="warnings fail the run")
    add_engine_options(parser)
    parser.add_argument(
        "--save-witnesses",
        "--witness-dir",
        dest="witness_dir",
        metavar="DIR",
        help="write each witness trace to DIR/<policy>-<property>-<n>.json; the printed "
        "nectar decide command names that file",
    )
    parser.add_argument(
        "--add-expectations",
        action="store_true",
        help="with --save-witnesses: append each error/must-keep counterexample to the "
        "policy's <stem>.expect.jsonl (decision keep), so a fixed bug stays fixed",
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
        traffic=args.traffic,
        strict=True if args.strict else None,
        cluster=args.cluster,
        cluster_storage=args.cluster_storage,
        partition_rows=args.partition_rows,
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
            _write_witnesses(rep, args.witness_dir, args.add_expectations)
        elif args.add_expectations:
            raise UsageError("--add-expectations needs --save-witnesses DIR")
        reports.append(rep)
    sys.stdout.write(
        render_json(reports, settings.to_json()) if args.json else terminal(render_text(reports))
    )
    if any(r.failed for r in reports) or (settings.strict and any(r.warned for r in reports)):
        return 1
    return 0


#: Properties whose counterexamples must be kept: they become ``decision: keep`` lines.
_MUST_KEEP = ("error-preservation", "error-preservation-all", "must-keep", "must-keep-all")


def _write_witnesses(report: Any, folder: str, expectations: bool = False) -> None:
    """Write every witness trace as a TRACE file and point its command at it.

    With ``expectations``, each counterexample of an error or must-keep property is also
    appended to the policy's expectations file as ``decision: keep`` (once per trace).
    """
    import dataclasses
    from pathlib import Path

    from pytest_nectar.prover.witness import decide_command, trace_spans
    from pytest_nectar.trace_json import write_trace_file

    stem = Path(report.target.name).stem
    added: list[dict[str, Any]] = []
    for pid, result in list(report.results.items()):
        witnesses = []
        for n, w in enumerate(result.witnesses, start=1):
            spans = w.spans
            if spans is None and report.corpus is not None and w.trace_id:
                index = report.corpus.trace_index(w.trace_id)
                spans = trace_spans(report.corpus.trace(index)) if index >= 0 else None
            if spans is None:
                witnesses.append(w)
                continue
            path = Path(folder) / f"{stem}-{pid}-{n}.json"
            doc = write_trace_file(path, w.trace_id, spans)
            rules = report.target.rules_path or report.target.name
            command = decide_command(rules, report.target.env, None, w.trace_id, str(path))
            witnesses.append(dataclasses.replace(w, command=command))
            if expectations and pid in _MUST_KEEP and result.failed:
                added.append({"name": f"{pid}: {w.trace_id}", "trace": doc, "decision": "keep"})
        report.results[pid] = dataclasses.replace(result, witnesses=tuple(witnesses))
    if added:
        _append_expectations(report, added)


def _append_expectations(report: Any, lines: list[dict[str, Any]]) -> None:
    """Append new ``decision: keep`` lines to ``<stem>.expect.jsonl`` beside the policy."""
    import json
    from pathlib import Path

    from pytest_nectar.fileio import write_atomic
    from pytest_nectar.project.expectations import EXPECT_SUFFIX

    policy = Path(report.target.rules_path or report.target.name)
    if policy.suffix != ".toon":
        raise UsageError(
            "--add-expectations needs a .toon policy",
            got=str(policy),
            hint="expectations are checked against a policy's compiled rules",
        )
    target = policy.with_name(policy.stem + EXPECT_SUFFIX)
    text = target.read_text(encoding="utf-8") if target.is_file() else ""
    known = set()
    for line in text.splitlines():
        try:
            known.add(json.loads(line).get("name"))
        except (ValueError, AttributeError):
            continue
    new = [json.dumps(d, sort_keys=True) for d in lines if d["name"] not in known]
    if new:
        body = text if not text or text.endswith("\n") else text + "\n"
        write_atomic(target, body + "\n".join(new) + "\n")
        report.notes.append(f"appended {len(new)} expectation(s) to {target}")
