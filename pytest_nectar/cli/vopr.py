"""``nectar vopr [POLICY] [--corpus PATH] --campaign NAME [--seed S] ...``: simulate a policy.

Runs a seeded campaign (``chaos``, ``evolution``, ``determinism``, ``storm``, or ``all``)
against the compiled rules and prints a summary (iterations, simulated time, wall time,
violations) with a one-line replay command per violation.  ``--seed`` replays exactly;
``--step`` replays one step (with the steps before it that feed the samplers).  Exit 0 when
every invariant held, 1 on a violation or a simulation of no trace (and, with ``--strict``
or ``strict``, of fewer traces than the stated minimum), 2 on a usage or input error.  The
policy and corpus default to ``[tool.nectar]`` (the first policy, every configured corpus
path), as do the window, ``traffic`` and the error expression (resolved as ``nectar prove``
resolves it: ``--error``, the policy's own, ``[tool.nectar] error``, the default).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from pytest_nectar.escape import terminal

__all__ = ["register", "run"]

_DEFAULT_SEED = 0x2A


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "vopr",
        help="simulate a policy under evolving and faulty traffic, with replayable seeds",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("policy", nargs="?", help="the .toon policy (default: [tool.nectar] policies)")
    p.add_argument(
        "--corpus", action="append", help="trace file or folder to learn traffic from (repeatable)"
    )
    p.add_argument(
        "--campaign",
        required=True,
        help="chaos, evolution, determinism, storm, or all (the first three, seed-sized)",
    )
    p.add_argument("--seed", default=None, help="the seed, hex (0x2a) or decimal; default 0x2a")
    p.add_argument("--iterations", type=int, help="iterations (chaos), checks, storm probes")
    p.add_argument("--days", type=int, help="simulated days (evolution)")
    p.add_argument("--step", type=int, help="replay one step (iteration) of the campaign")
    p.add_argument("--budget", type=float, help="override the policy's budget_per_second")
    p.add_argument("--rate", type=float, help="traces per second (default: the corpus's own)")
    p.add_argument(
        "--traffic",
        metavar="RATE",
        help='production rate the corpus stands for, e.g. "2000 traces/s" (default: traffic)',
    )
    p.add_argument(
        "--error",
        help="error expression (default: the policy's, else [tool.nectar] error, else the "
        "default error criteria), as nectar prove takes it",
    )
    p.add_argument("--strict", action="store_true", help="too little simulated traffic fails")
    p.add_argument("--window", type=float, help="budget window in seconds (default 60)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--no-shrink", action="store_true", help="report violations unshrunk")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=run)


def _inputs(args: argparse.Namespace) -> tuple[str, list[str], float, Any, bool, Any]:
    from pytest_nectar.errors import UsageError
    from pytest_nectar.project.config import expand_policies, load_config
    from pytest_nectar.project.settings import parse_traffic

    config = load_config().with_options(error=args.error)
    traffic = config.traffic
    if args.traffic is not None:
        traffic = parse_traffic(args.traffic)
        if traffic is None:
            raise UsageError(
                "--traffic must be a rate", got=args.traffic, hint='e.g. "2000 traces/s"'
            )
    policy = args.policy
    if policy is None:
        found = expand_policies(config.policies, config.root)
        if not found:
            raise UsageError("no policy given", hint="pass POLICY or set policies in [tool.nectar]")
        policy = os.fspath(found[0])
    corpus = args.corpus
    if corpus is None:
        if not config.corpus:
            raise UsageError(
                "no corpus to learn traffic from",
                hint="pass --corpus PATH or set corpus in [tool.nectar]",
            )
        corpus = [os.fspath(p) for p in config.corpus]
    window = args.window if args.window is not None else config.window_s
    strict = bool(args.strict) or config.strict
    return policy, list(corpus), window, traffic, strict, config


def run(args: argparse.Namespace) -> int:
    from pytest_nectar.errors import UsageError
    from pytest_nectar.vopr.campaigns import CAMPAIGNS, Setup, run_campaigns
    from pytest_nectar.vopr.rng import parse_seed

    names = ["chaos", "evolution", "determinism"] if args.campaign == "all" else [args.campaign]
    if names[0] not in CAMPAIGNS:
        raise UsageError(
            "unknown campaign", got=args.campaign, hint="use one of " + ", ".join(CAMPAIGNS)
        )
    if len(names) > 1 and (args.step is not None or args.iterations or args.days):
        raise UsageError("--step, --iterations and --days need a single --campaign")
    seed = parse_seed(args.seed) if args.seed is not None else _DEFAULT_SEED
    policy, corpus, window, traffic, strict, settings = _inputs(args)
    setup = Setup.build(
        policy,
        corpus,
        budget=args.budget,
        window_s=window,
        rate=args.rate,
        traffic=traffic,
        settings=settings,
    )
    sizes: dict[str, int] = {}
    size = args.days if names[0] == "evolution" else args.iterations
    if size is not None:
        sizes[names[0]] = size
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    from contextlib import ExitStack

    from pytest_nectar.report.progress import Progress

    display = Progress()
    with ExitStack() as stack:

        def start(total: float) -> Any:
            label = f"vopr {'+'.join(names)} seed {args.seed or hex(_DEFAULT_SEED)}"
            return stack.enter_context(display.bar(label, total))

        results = run_campaigns(
            setup,
            names,
            seed,
            sizes=sizes,
            step=args.step,
            workers=max(1, workers),
            do_shrink=not args.no_shrink,
            progress=start,
        )
    if args.json:
        out = {"results": [r.summary() for r in results]}
        sys.stdout.write(json.dumps(out, indent=2, sort_keys=True, default=str) + "\n")
    else:
        for r in results:
            sys.stdout.write(terminal(r.render() + "\n"))
    levels = [e[0] for e in (r.evidence() for r in results) if e is not None]
    if "error" in levels or (strict and levels):
        return 1
    return 0 if all(r.passed for r in results) else 1
