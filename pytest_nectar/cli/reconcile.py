"""``nectar reconcile RULES --corpus PATH [--env NAME] [--json]``: Refinery's recorded
decisions against Nectar's.

The corpus is one exported after a Refinery: its spans carry the decision fields Refinery
writes (``meta.refinery.reason``, ``meta.refinery.sample_key``, the sample rates, the dry
run fields; see :mod:`pytest_nectar.refinery.reconcile`).  Prints the agreement per aspect
(rule, rate, keep, sample key) and every disagreeing trace with both decisions.  Exit 0 when
all agree, 1 on any disagreement, 2 when the corpus holds no such fields (no evidence is
never a pass) or the input is bad.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from pytest_nectar.cli.options import add_no_validate_option

if TYPE_CHECKING:
    from pytest_nectar.refinery.reconcile import Mismatch, Reconciliation

__all__ = ["format_mismatch", "register", "render_text", "run"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "reconcile", help="compare Refinery's recorded decisions with Nectar's"
    )
    parser.add_argument(
        "rules", metavar="RULES", help="rules file (.yaml/.json/.toml) or .toon policy"
    )
    parser.add_argument(
        "--corpus", required=True, action="append", metavar="PATH",
        help="spans exported after Refinery (repeatable)",
    )  # fmt: skip
    parser.add_argument("--env", help="environment (destination) name; default __default__")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    parser.add_argument(
        "--json-ints",
        action="store_true",
        help="keep integers of Honeycomb JSON events as int64 (as the spans had them)",
    )
    add_no_validate_option(parser)
    parser.set_defaults(func=run)


def _percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "n/a"


def format_mismatch(m: Mismatch) -> str:
    """One disagreement: the trace, what differs, both decisions."""
    r, n = m.refinery, m.nectar
    keep = {True: "keep", False: "drop", None: f"random p={n.keep_probability:.6g}"}[n.keep]
    refinery = (
        f"reason {r.reason!r}, rate {r.rate if r.rate is not None else '?'}, "
        f"{'kept' if r.kept else 'dropped' if r.kept is False else 'kept?'}, key {r.key!r}"
    )
    if r.conflict:
        refinery += f" ({r.conflict})"
    nectar = f"reason {n.reason!r}, rate {n.rate}, {keep}, key {n.key!r}"
    return (
        f"trace {m.trace_id}: {', '.join(m.aspects)} differ\n"
        f"    refinery: {refinery}\n    nectar:   {nectar}"
    )


def render_text(result: Reconciliation, rules: str, env: str | None) -> str:
    lines = [
        f"reconcile {rules} (environment {env or '__default__'}): {result.traces} traces, "
        f"{result.compared} with Refinery's recorded decision",
    ]
    for aspect, (compared, agreed) in result.aspects.items():
        lines.append(f"  {aspect:<5} {agreed} of {compared} agree ({_percent(agreed, compared)})")
    lines.append(
        f"agreement: {result.agreed} of {result.compared} traces "
        f"({_percent(result.agreed, result.compared)})"
    )
    if result.not_compared:
        why: dict[str, int] = {}
        for _, reason in result.not_compared:
            why[reason] = why.get(reason, 0) + 1
        lines.append(
            f"not compared: {len(result.not_compared)} traces ("
            + "; ".join(f"{k}: {v}" for k, v in sorted(why.items()))
            + ")"
        )
    for m in result.mismatches:
        lines.append("DISAGREE " + format_mismatch(m))
    lines.append("result: " + ("all agree" if result.ok else f"{len(result.mismatches)} disagree"))
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    from pytest_nectar.cli.decide import default_environment
    from pytest_nectar.compiler.compile import load_rules_or_policy
    from pytest_nectar.corpus import load_corpus
    from pytest_nectar.refinery.reconcile import reconcile

    rules = load_rules_or_policy(args.rules, validate=not args.no_validate)
    env = default_environment(args.rules, args.env)
    corpus = load_corpus(args.corpus, json_ints=args.json_ints)
    result = reconcile(rules, corpus, env)
    if args.json:
        doc = {"rules": args.rules, "environment": env, **result.to_json()}
        sys.stdout.write(json.dumps(doc, sort_keys=True) + "\n")
    else:
        sys.stdout.write(render_text(result, args.rules, env))
    return 0 if result.ok else 1
