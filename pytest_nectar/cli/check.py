"""``nectar check FILE... [--json]``: parse and validate policy files.

Exit 0 when every file is valid (warnings allowed), 1 when any has an error, 2 for usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check", help="parse and validate policy files", description=__doc__
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="policy files (.toon)")
    parser.add_argument("--json", action="store_true", help="print the diagnostics as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pytest_nectar.errors import Diagnostic, PolicyError
    from pytest_nectar.policy.check import check_policy
    from pytest_nectar.policy.parser import parse_policy

    results: list[dict[str, Any]] = []
    failed = False
    for path in args.files:
        diagnostics: list[Diagnostic]
        try:
            with open(path, encoding="utf-8", newline="") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError) as err:
            reason = getattr(err, "strerror", None) or str(err)
            diagnostics = [PolicyError("cannot read policy file", got=reason).diagnostic]
            diagnostics = [_at_path(diagnostics[0], path)]
        else:
            try:
                diagnostics = check_policy(parse_policy(text, path=path), source=text)
            except PolicyError as err:
                diagnostics = [err.diagnostic]
        errors = sum(d.severity == "error" for d in diagnostics)
        failed = failed or errors > 0
        results.append(
            {"path": path, "ok": errors == 0, "diagnostics": [d.to_json() for d in diagnostics]}
        )
        if not args.json:
            for d in diagnostics:
                sys.stderr.write(d.render() + "\n")
            warnings = len(diagnostics) - errors
            status = "ok" if errors == 0 else "invalid"
            sys.stdout.write(f"{path}: {status} ({errors} errors, {warnings} warnings)\n")
    if args.json:
        sys.stdout.write(json.dumps({"ok": not failed, "files": results}, indent=2) + "\n")
    return 1 if failed else 0


def _at_path(diagnostic: Any, path: str) -> Any:
    from dataclasses import replace

    from pytest_nectar.errors import Position

    return replace(diagnostic, position=Position(path))
