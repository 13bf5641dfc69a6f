"""``nectar replay RULES --corpus PATH [--env NAME] [--json]``: every trace's decision.

The vectorised evaluator decides every trace of the corpus exactly as Refinery would (the
same decision as ``nectar decide`` per trace), then totals per rule: traces, events, and the
expected kept traces and events (keep probability times the corpus weight).  A terminal
gets rich tables; ``--json`` prints one JSON document (decisions in corpus order, keys
sorted, so the same inputs give the same bytes).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from pytest_nectar.cli.options import add_engine_options, add_no_validate_option

if TYPE_CHECKING:
    from pytest_nectar.corpus.table import TraceTable
    from pytest_nectar.refinery.vector import CorpusDecisions, RuleTotals

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("replay", help="Refinery's decision for every corpus trace")
    parser.add_argument(
        "rules", metavar="RULES", help="rules file (.yaml/.json/.toml) or .toon policy"
    )
    parser.add_argument(
        "--corpus", required=True, action="append", metavar="PATH",
        help="trace file or folder (repeatable)",
    )  # fmt: skip
    parser.add_argument("--env", help="environment (destination) name; default __default__")
    parser.add_argument("--json", action="store_true", help="print decisions and totals as JSON")
    add_no_validate_option(parser)
    parser.add_argument("--totals-only", action="store_true", help="print only the totals per rule")
    add_engine_options(parser)
    parser.set_defaults(func=run)


def _keep_text(keep: bool | None, probability: float) -> str:
    if keep is None:
        return f"random p={probability:.6g}"
    return "keep" if keep else "drop"


def _number(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


def _write_json(
    decisions: CorpusDecisions,
    totals: tuple[RuleTotals, ...],
    corpus: TraceTable,
    head: dict[str, Any],
    totals_only: bool,
) -> None:
    out = sys.stdout
    rows = [
        {k: _number(v) if isinstance(v, float) else v for k, v in t.to_json().items()}
        for t in totals
    ]
    head = {**head, "totals": rows}
    if totals_only:
        out.write(json.dumps(head, sort_keys=True, ensure_ascii=False) + "\n")
        return
    text = json.dumps(head, sort_keys=True, ensure_ascii=False)
    # Stream the decisions: a corpus may hold millions of traces.
    out.write(text[:-1] + ', "decisions": [')
    for i in range(len(decisions)):
        entry = decisions.decision(i).to_json()
        entry["trace_id"] = corpus.trace_ids[i]
        out.write(("" if i == 0 else ", ") + json.dumps(entry, sort_keys=True, ensure_ascii=False))
    out.write("]}\n")


def _write_tables(
    decisions: CorpusDecisions,
    totals: tuple[RuleTotals, ...],
    corpus: TraceTable,
    head: dict[str, Any],
    totals_only: bool,
) -> None:
    from rich.console import Console
    from rich.table import Table

    from pytest_nectar.escape import terminal

    def cell(value: str) -> str:
        return terminal(value, multiline=False)

    # Off a terminal nothing should fold: trace ids and reasons stay greppable.  Values are
    # untrusted: no rich markup, control characters escaped.
    width = None if sys.stdout.isatty() else 240
    console = Console(highlight=False, markup=False, width=width)
    if not totals_only:
        table = Table(title=f"Decisions ({corpus.n_traces} traces)")
        for name in ("trace_id", "rule", "decision", "rate", "reason", "key"):
            table.add_column(name, overflow="fold")
        for i in range(len(decisions)):
            d = decisions.decision(i)
            table.add_row(
                cell(corpus.trace_ids[i]),
                cell(d.rule_name) if d.rule_name is not None else "-",
                _keep_text(d.keep, d.keep_probability),
                str(d.rate),
                cell(d.reason),
                cell(d.key),
            )
        console.print(table)
    table = Table(title=f"Totals per rule ({head['destination']})")
    for name in ("rule", "traces", "events", "expected kept traces", "expected kept events"):
        table.add_column(name, justify="left" if name == "rule" else "right")
    for t in totals:
        label = t.rule if t.rule is not None else "(no rule matched)"
        if t.rule_index is not None:
            label = f"{t.rule_index}: {label}"
        table.add_row(
            cell(label),
            str(t.traces),
            str(t.events),
            f"{t.expected_kept_traces:.6g}",
            f"{t.expected_kept_events:.6g}",
        )
    console.print(table)
    if head["fallback_traces"]:
        console.print(
            f"{head['fallback_traces']} trace(s) decided by the reference evaluator "
            "(CheckNestedFields)"
        )


def run(args: argparse.Namespace) -> int:
    from pytest_nectar.compiler.compile import load_rules_or_policy
    from pytest_nectar.corpus.sizing import open_corpus
    from pytest_nectar.project.settings import load_settings
    from pytest_nectar.prover.corpus_proofs import evaluate_pass
    from pytest_nectar.refinery.rules_model import select_sampler

    settings = load_settings().with_options(
        cluster=args.cluster,
        cluster_storage=args.cluster_storage,
        partition_rows=args.partition_rows,
    )
    rules = load_rules_or_policy(args.rules, validate=not args.no_validate)
    corpus = open_corpus(args.corpus, partition_rows=settings.partition_rows)
    decisions = evaluate_pass(
        rules,
        corpus,
        args.env,
        cluster=settings.cluster,
        cluster_storage=settings.cluster_storage,
    ).decisions
    totals = decisions.rule_totals(corpus)
    destination, _ = select_sampler(rules, args.env)
    head: dict[str, Any] = {
        "rules": args.rules,
        "env": args.env,
        "destination": destination,
        "corpus": {
            "digest": corpus.digest,
            "traces": corpus.n_traces,
            "events": corpus.n_rows,
            "skipped": len(corpus.skipped),
        },
        "fallback_traces": int(decisions.fallback.sum()),
    }
    if args.json:
        _write_json(decisions, totals, corpus, head, args.totals_only)
    else:
        _write_tables(decisions, totals, corpus, head, args.totals_only)
    return 0
