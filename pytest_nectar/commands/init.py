"""``nectar init DIR``: write a working policy project.

Writes ``policies/production.toon`` (the seed example), ``corpus/README.md`` and a
``pyproject.toml`` with a ``[tool.nectar]`` table.  Refuses to overwrite any existing file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Final

SEED_POLICY: Final = """\
nectar_policy{version,name,budget_per_second,rules}:
  1
  production-sampling
  10000
  rules[3]{name,description,match,action,priority}:
    keep-errors,Retain all HTTP 5xx errors,http.status >= 500,keep,100
    keep-slow,Retain slow requests,duration > 5s,keep,90
    sample-rest,Sample remaining traffic,true,sample(0.01),0
"""

CORPUS_README: Final = """\
Put trace files here (OTLP JSON, Honeycomb events, Jaeger, Zipkin);
Nectar proves the policies in policies/ against them.
"""

PYPROJECT: Final = """\
[tool.nectar]
policies = ["policies/*.toon"]
corpus = "corpus/"
rules = "rules.yaml"
lock = "nectar.lock"
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "init", help="write a working policy project", description=__doc__
    )
    parser.add_argument("directory", metavar="DIR", help="project directory (created if missing)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pytest_nectar.errors import Position, UsageError
    from pytest_nectar.fileio import write_atomic

    root = Path(args.directory)
    files = {
        root / "policies" / "production.toon": SEED_POLICY,
        root / "corpus" / "README.md": CORPUS_README,
        root / "pyproject.toml": PYPROJECT,
    }
    existing = [p for p in files if p.exists()]
    if existing:
        raise UsageError(
            "refusing to overwrite an existing file",
            position=Position(str(existing[0])),
            got=str(existing[0]),
            hint="nectar init writes only into a fresh project; move the file away first",
        )
    if root.exists() and not root.is_dir():
        raise UsageError("not a directory", position=Position(str(root)), got=str(root))
    for path, text in files.items():
        write_atomic(path, text)
        sys.stdout.write(f"wrote {path}\n")
    return 0
