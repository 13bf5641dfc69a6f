"""``nectar fmt FILE... [--check]``: rewrite policy files in canonical form.

The form a file uses is kept (keyed stays keyed, positional stays positional), and so are the
quotes of its string literals where both are valid (:mod:`pytest_nectar.policy.layout`);
only what is ambiguous is normalised.  Full-line ``#`` comments are kept, each above the
element it was written above (see :mod:`pytest_nectar.policy.printer`). With ``--check``
nothing is written: exit 1 and print a unified diff for each file that is not canonical. A
file that does not parse is an error (exit 1) and is left untouched.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pytest_nectar.escape import terminal


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "fmt", help="rewrite policy files in canonical form", description=__doc__
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="policy files (.toon)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and show a diff if not canonical",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import difflib

    from pytest_nectar.errors import PolicyError
    from pytest_nectar.fileio import write_atomic
    from pytest_nectar.policy.layout import detect_layout
    from pytest_nectar.policy.parser import load_policy
    from pytest_nectar.policy.printer import format_policy

    status = 0
    for path in args.files:
        try:
            policy = load_policy(path)
        except PolicyError as err:
            sys.stderr.write(err.render() + "\n")
            status = 1
            continue
        with open(path, encoding="utf-8", newline="") as fh:
            before = fh.read()
        after = format_policy(policy, detect_layout(before, policy))
        if before == after:
            continue
        if args.check:
            diff = difflib.unified_diff(
                before.splitlines(keepends=True),
                after.splitlines(keepends=True),
                fromfile=f"{path} (current)",
                tofile=f"{path} (canonical)",
            )
            sys.stdout.write(terminal("".join(diff)))
            status = 1
        else:
            write_atomic(path, after)
            sys.stdout.write(f"reformatted {path}\n")
    return status
