"""``nectar decide RULES TRACE [--env NAME] [--json]``: Refinery's decision for one trace.

TRACE is a TRACE JSON file, read by :mod:`pytest_nectar.trace_json`.  RULES is a rules
file or a ``.toon`` policy, read by
:func:`pytest_nectar.compiler.compile.load_rules_or_policy`; a rules file Refinery would
refuse is an error.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pytest_nectar.cli.options import add_no_validate_option
from pytest_nectar.errors import UsageError
from pytest_nectar.trace_json import load_trace_file

__all__ = ["default_environment", "register", "run"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("decide", help="Refinery's decision for one trace")
    parser.add_argument(
        "rules", metavar="RULES", help="rules file (.yaml/.json/.toml) or .toon policy"
    )
    parser.add_argument("trace", metavar="TRACE", nargs="?", help="JSON file with one trace")
    parser.add_argument("--corpus", action="append", help="take the trace from this corpus")
    parser.add_argument("--trace-id", help="with --corpus: the id of the trace to decide")
    parser.add_argument(
        "--env", help="environment (destination) name; default: the policy's own, else __default__"
    )
    parser.add_argument("--json", action="store_true", help="print the decision as JSON")
    add_no_validate_option(parser)
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print the whole evaluation: each rule in order, each condition, each span's value",
    )
    parser.set_defaults(func=run)


def default_environment(path: str, env: str | None) -> str | None:
    """The environment to evaluate: ``--env`` if given, else a policy's own ``environment``.

    Without this a policy written for ``production`` would be judged by ``__default__``.
    """
    if env is not None or not path.endswith(".toon"):
        return env
    from pytest_nectar.policy.parser import load_policy

    return load_policy(path).effective_environment


def run(args: argparse.Namespace) -> int:
    from pytest_nectar.compiler.compile import load_rules_or_policy
    from pytest_nectar.refinery.reference import Evaluator, require_user_agent

    rules = load_rules_or_policy(args.rules, validate=not args.no_validate)
    if getattr(args, "corpus", None):
        from pytest_nectar.corpus.sizing import open_corpus
        from pytest_nectar.project.settings import load_settings

        # As replay reads it: a corpus past partition_rows is opened in partitions, and only
        # the trace's own partition is read (the plugin's replay lines point here).
        corpus = open_corpus(args.corpus, partition_rows=load_settings().partition_rows)
        index = corpus.trace_index(args.trace_id or "")
        if index < 0:
            raise UsageError(
                "no trace with this id in the corpus", got=args.trace_id, hint="see --trace-id"
            )
        trace = corpus.trace(index)
    elif args.trace is None:
        raise UsageError("give TRACE, or --corpus with --trace-id")
    else:
        trace = load_trace_file(args.trace)
    evaluator = Evaluator(rules, default_environment(args.rules, args.env))
    require_user_agent(evaluator, trace.spans)
    if getattr(args, "explain", False):
        from pytest_nectar.prover.evaluation import explain_evaluation

        sys.stdout.write("\n".join(explain_evaluation(evaluator, trace)) + "\n")
        return 0
    decision = evaluator.decide(trace)
    if args.json:
        sys.stdout.write(json.dumps(decision.to_json(), sort_keys=True) + "\n")
        return 0
    keep = {
        True: "keep",
        False: "drop",
        None: f"random: keep with probability {decision.keep_probability:g}",
    }
    from pytest_nectar.escape import terminal

    rule = decision.rule_name if decision.rule_name is not None else "(none)"
    sys.stdout.write(
        f"rule: {terminal(rule, multiline=False)}\n"
        f"reason: {terminal(decision.reason, multiline=False)}\nrate: {decision.rate}\n"
        f"decision: {keep[decision.keep]}\nkey: {decision.key!r}\n"
    )
    return 0
