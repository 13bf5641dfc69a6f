"""``nectar validate RULES_FILE... [--json]``: what Refinery rejects, and what it mishandles.

Errors are Refinery's own load-time validation messages (the file would not load); warnings
are traps Refinery accepts silently.  Exit 0 when every file is valid (warnings allowed),
1 when any file has an error.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "validate", help="check Refinery rules files as Refinery would, plus silent traps"
    )
    parser.add_argument(
        "paths", nargs="+", metavar="RULES_FILE", help="rules files (.yaml, .json, .toml)"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON report")
    parser.set_defaults(func=run)


def _is_v1(path: str) -> bool:
    from pytest_nectar.errors import RulesError
    from pytest_nectar.refinery.rules_reader import read_rules
    from pytest_nectar.refinery.rules_v1 import is_v1

    try:
        return is_v1(read_rules(path))
    except RulesError:
        return False


def run(args: argparse.Namespace) -> int:
    from pytest_nectar.refinery.rules_validate import validate_path

    reports = [validate_path(p) for p in args.paths]
    if args.json:
        out = {"valid": all(r.ok for r in reports), "files": [r.to_json() for r in reports]}
        sys.stdout.write(json.dumps(out, indent=2, sort_keys=True) + "\n")
    else:
        for report in reports:
            for diag in (*report.errors, *report.warnings):
                sys.stdout.write(diag.render() + "\n")
            status = "valid" if report.ok else "INVALID (Refinery would refuse to load it)"
            sys.stdout.write(
                f"{report.path}: {status}; {len(report.errors)} error(s), "
                f"{len(report.warnings)} warning(s)\n"
            )
            if not report.ok and _is_v1(report.path):
                sys.stdout.write(
                    f"{report.path}: this is a Refinery 1.x rules file; 'nectar import "
                    f"{report.path} -o DIR' converts it as Refinery's convert tool does\n"
                )
    return 0 if all(r.ok for r in reports) else 1
