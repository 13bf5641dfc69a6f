"""``nectar compile [POLICY...] [-o RULES] [--lock LOCK] [--check]``: policies -> Refinery rules.

Without POLICY, the ``policies`` globs of ``[tool.nectar]`` (pyproject.toml or nectar.toml);
``-o`` and ``--lock`` default to its ``rules`` and ``lock`` (``rules.yaml``, ``nectar.lock``).
Writes the rules file and the lock, each atomically (rules first: a crash in between leaves
a lock that ``--check`` reports as stale).  ``-o -`` prints the rules and writes no lock.
When ``-o`` names Refinery's Helm chart values or a ConfigMap holding the rules file, only
the rules in it are replaced; every other byte (comments included) stays as it was.

``--check`` writes nothing: exit 0 when the rules file and lock are what compiling gives now,
1 with one line per problem (missing, stale, edited by hand), 2 for bad input.

``--check --deployed URL`` also asks the Refinery at URL (its ``/query/configmetadata`` and
``/query/allrules/yaml`` endpoints, with the query token from the environment variable
``NECTAR_REFINERY_QUERY_TOKEN``, never printed) for the rules it loaded and their md5, and
reports any difference from ``nectar.lock`` and the compiled rules, naming it (environment,
rule, field); exit 2 when the Refinery cannot be reached or refuses the token.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pytest_nectar.errors import NectarError, UsageError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "compile", help="compile policies into a Refinery rules file and nectar.lock"
    )
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "policies", nargs="*", metavar="POLICY", help="policy files or globs (.toon)"
    )
    parser.add_argument("-o", "--output", metavar="RULES", help="rules file to write")
    parser.add_argument("--lock", metavar="LOCK", help="lockfile to write")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if rules or lock are stale"
    )
    parser.add_argument(
        "--deployed",
        metavar="URL",
        help="with --check: compare with the rules a running Refinery loaded "
        "(query token from NECTAR_REFINERY_QUERY_TOKEN)",
    )
    parser.set_defaults(func=run)


def _deployed_problems(url: str, outputs: Any, lock_path: Path) -> list[str]:
    from pytest_nectar.compiler.deployed import compare_deployed, fetch_deployed
    from pytest_nectar.compiler.lockfile import parse_lock

    deployed = fetch_deployed(url)
    lock_md5 = None
    if lock_path.is_file():
        try:
            lock_md5 = parse_lock(lock_path.read_text(encoding="utf-8"), str(lock_path)).rules_md5
        except NectarError:
            lock_md5 = None  # check_outputs reports the broken lock
    return compare_deployed(
        deployed, lock_md5, outputs.lock.rules_md5, outputs.compilation.rules_file
    )


def run(args: argparse.Namespace) -> int:
    from pytest_nectar.compiler.outputs import (
        build_outputs,
        check_outputs,
        rules_file_text,
        show_path,
    )
    from pytest_nectar.escape import terminal
    from pytest_nectar.fileio import write_atomic_all
    from pytest_nectar.project.config import expand_policies, load_config

    config = load_config()
    for warning in config.warnings:
        sys.stderr.write(terminal(f"warning: {warning}\n"))
    cwd = Path.cwd()
    if args.policies:
        policy_paths = expand_policies(list(args.policies), cwd)
    else:
        policy_paths = config.policy_files()
    to_stdout = args.output == "-"
    rules_path = cwd / args.output if args.output and not to_stdout else config.rules
    lock_path = cwd / args.lock if args.lock else config.lock
    outputs = build_outputs(policy_paths, rules_path, lock_path, config.corpus)
    for note in outputs.notes:
        sys.stderr.write(terminal(f"note: {note}\n"))
    if args.deployed and not args.check:
        raise UsageError("--deployed needs --check", hint="nectar compile --check --deployed URL")
    if args.check:
        problems = check_outputs(outputs, rules_path, lock_path)
        if args.deployed:
            problems += _deployed_problems(args.deployed, outputs, lock_path)
        for problem in problems:
            sys.stderr.write(terminal(problem + "\n"))
        if problems:
            sys.stderr.write(
                f"nectar compile --check: {len(problems)} problem(s); "
                "run 'nectar compile' and commit the result\n"
            )
            return 1
        sys.stdout.write(f"{show_path(rules_path)} and {show_path(lock_path)} are up to date\n")
        if args.deployed:
            sys.stdout.write(f"{args.deployed} has loaded them (md5 {outputs.lock.rules_md5})\n")
        return 0
    if to_stdout:
        sys.stdout.write(outputs.rules_text)
        return 0
    write_atomic_all(
        [
            (rules_path, rules_file_text(rules_path, outputs.rules_text)),
            (lock_path, outputs.lock_text),
        ]
    )
    envs = ", ".join(outputs.compilation.environments)
    sys.stdout.write(
        f"wrote {show_path(rules_path)} ({envs}; md5 {outputs.lock.rules_md5}) "
        f"and {show_path(lock_path)}\n"
    )
    return 0
