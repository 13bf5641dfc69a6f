"""``nectar compile [POLICY...] [-o RULES] [--lock LOCK] [--check]``: policies -> Refinery rules.

Without POLICY, the ``policies`` globs of ``[tool.nectar]`` (pyproject.toml or nectar.toml);
``-o`` and ``--lock`` default to its ``rules`` and ``lock`` (``rules.yaml``, ``nectar.lock``).
Writes the rules file and the lock, each atomically (rules first: a crash in between leaves
a lock that ``--check`` reports as stale).  ``-o -`` prints the rules and writes no lock.

``--check`` writes nothing: exit 0 when the rules file and lock are what compiling gives now,
1 with one line per problem (missing, stale, edited by hand), 2 for bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


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
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pytest_nectar.compiler.outputs import build_outputs, check_outputs, show_path
    from pytest_nectar.fileio import write_atomic
    from pytest_nectar.project.config import expand_policies, load_config

    config = load_config()
    for warning in config.warnings:
        sys.stderr.write(f"warning: {warning}\n")
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
        sys.stderr.write(f"note: {note}\n")
    if args.check:
        problems = check_outputs(outputs, rules_path, lock_path)
        for problem in problems:
            sys.stderr.write(problem + "\n")
        if problems:
            sys.stderr.write(
                f"nectar compile --check: {len(problems)} problem(s); "
                "run 'nectar compile' and commit the result\n"
            )
            return 1
        sys.stdout.write(f"{show_path(rules_path)} and {show_path(lock_path)} are up to date\n")
        return 0
    if to_stdout:
        sys.stdout.write(outputs.rules_text)
        return 0
    write_atomic(rules_path, outputs.rules_text)
    write_atomic(lock_path, outputs.lock_text)
    envs = ", ".join(outputs.compilation.environments)
    sys.stdout.write(
        f"wrote {show_path(rules_path)} ({envs}; md5 {outputs.lock.rules_md5}) "
        f"and {show_path(lock_path)}\n"
    )
    return 0
