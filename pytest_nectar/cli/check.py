"""``nectar check FILE... [--corpus PATH] [--strict] [--json]``: parse and validate policies.

Also flags fields nothing is known to write (typos): in neither the corpus (``--corpus``,
else ``[tool.nectar] corpus``), OpenTelemetry's semantic conventions nor Refinery's own
fields, with "did you mean ...?"; a warning, an error with ``--strict`` or ``strict``.
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
    parser.add_argument(
        "--corpus",
        action="append",
        help="trace file or folder whose field names are known (default: [tool.nectar] corpus)",
    )
    parser.add_argument("--strict", action="store_true", help="unknown fields are errors")
    parser.set_defaults(func=run)


def _corpus_fields(args: argparse.Namespace) -> tuple[frozenset[str] | None, bool]:
    """The corpus's field names (None without a corpus), and whether strict is on."""
    from pytest_nectar.project.config import load_config

    config = load_config()
    paths = args.corpus or [str(p) for p in config.corpus or ()]
    strict = bool(args.strict) or config.strict
    if not paths:
        return None, strict
    from pytest_nectar.corpus import load_corpus

    return frozenset(load_corpus(paths).field_names()), strict


def run(args: argparse.Namespace) -> int:
    from pytest_nectar.errors import Diagnostic, PolicyError
    from pytest_nectar.policy.check import check_policy
    from pytest_nectar.policy.known_fields import field_diagnostics
    from pytest_nectar.policy.parser import parse_policy

    fields, strict = _corpus_fields(args)
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
                policy = parse_policy(text, path=path)
                diagnostics = check_policy(policy, source=text)
                diagnostics += _located(field_diagnostics(policy, fields, strict=strict), text)
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


def _located(items: list[Any], text: str) -> list[Any]:
    """Diagnostics with their source line, for the caret."""
    from dataclasses import replace

    lines = text.splitlines()
    return [
        replace(d, source_line=lines[d.position.line - 1])
        if d.position is not None and 0 < d.position.line <= len(lines)
        else d
        for d in items
    ]


def _at_path(diagnostic: Any, path: str) -> Any:
    from dataclasses import replace

    from pytest_nectar.errors import Position

    return replace(diagnostic, position=Position(path))
