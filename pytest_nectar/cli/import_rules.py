"""``nectar import RULES_FILE -o DIR [--force]``: an existing rules file -> ``.toon`` policies.

Writes one policy per environment, ``DIR/<environment>.toon``, each re-parsed and compiled
before it is written.  What the policy language cannot state exactly is listed (located) and
that environment is not written.  Exit 0 when everything imported, 1 when something could
not be, 2 for bad input (including a rules file Refinery would refuse).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from pytest_nectar.escape import terminal

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "import", help="turn an existing Refinery rules file into .toon policies"
    )
    parser.description = __doc__
    parser.add_argument("rules", metavar="RULES_FILE", help="rules file (.yaml/.json/.toml)")
    parser.add_argument("-o", "--output", metavar="DIR", required=True, help="folder to write")
    parser.add_argument("--force", action="store_true", help="overwrite existing policy files")
    parser.set_defaults(func=run)


def file_name(environment: str) -> str:
    """A safe, stable file name for an environment's policy."""
    safe = _UNSAFE.sub("_", environment).strip(".") or "environment"
    return f"{safe}.toon"


def run(args: argparse.Namespace) -> int:
    from pytest_nectar.compiler.compile import compile_policies
    from pytest_nectar.compiler.importer import import_rules
    from pytest_nectar.errors import NectarError, Position, UsageError
    from pytest_nectar.fileio import write_atomic
    from pytest_nectar.policy.parser import parse_policy
    from pytest_nectar.policy.printer import format_policy
    from pytest_nectar.refinery.rules_reader import read_rules
    from pytest_nectar.refinery.rules_validate import validate_loaded

    if args.rules.endswith(".toon"):
        raise UsageError(
            "import reads a Refinery rules file, not a policy", position=Position(args.rules)
        )
    loaded = read_rules(args.rules)
    refused = validate_loaded(loaded).errors
    if refused:  # Refinery would not load it: there is nothing faithful to import
        for d in refused:
            sys.stderr.write(terminal(d.render() + "\n"))
        sys.stderr.write(
            terminal(
                f"{args.rules}: not imported: Refinery would refuse this file "
                f"({len(refused)} error(s)); nothing written\n"
            )
        )
        return 2
    rules_file = loaded.rules_file
    result = import_rules(rules_file)
    out = Path(args.output)
    texts = {}
    for env, policy in result.policies.items():
        path = out / file_name(env)
        if path.exists() and not args.force:
            raise UsageError(
                "refusing to overwrite an existing file",
                position=Position(str(path)),
                hint="pass --force, or choose another -o folder",
            )
        text = format_policy(policy)
        try:
            compile_policies([parse_policy(text, path=str(path))])  # must compile back
        except NectarError as err:  # locate it in the input: the policy was never written
            entry = rules_file.samplers.get(env)
            raise NectarError(
                f"environment {env!r} does not import faithfully: {err.diagnostic.what}",
                position=(entry.position if entry and entry.position else Position(args.rules)),
                got=err.diagnostic.got,
                hint="this is a Nectar bug; please report it with the rules file",
            ) from None
        texts[path] = text
    for path, text in texts.items():
        write_atomic(path, text)
        sys.stdout.write(f"wrote {path}\n")
    for note in result.notes:
        sys.stdout.write(terminal(f"note: {note}\n"))
    for problem in result.problems:
        sys.stderr.write(f"not imported: {problem.render()}\n")
    return 1 if result.problems else 0
