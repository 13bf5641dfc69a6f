"""``nectar init DIR``: write a working policy project.

Writes ``policies/production.toon`` (the seed example) with its expectations,
``corpus/`` (a README and a small synthetic sample made by ``nectar corpus synth``, to
replace with your traces), a
``pyproject.toml`` with ``[tool.nectar]`` and pytest settings, ``.pre-commit-config.yaml``
using Nectar's hooks, ``.github/workflows/`` using Nectar's deploy gate and propose-to-PR
workflow (from ``pytest_nectar/project_template/``, the same files as examples/quickstart),
and the compiled ``rules.yaml`` and ``nectar.lock``: the shape of examples/quickstart, so that
``pytest`` in the new project runs the policy's items.  Refuses to overwrite any existing file.
Then runs ``git init`` in DIR, unless DIR is already inside a git repository or ``--no-git``
is given (``nectar diff git:HEAD:...`` and the hooks need a repository).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Final

#: An error trace, as the template's pyproject.toml and seed policy say: the default error
#: criteria (OpenTelemetry's conventions: span status ERROR, error flags, HTTP 5xx on server
#: spans, gRPC server faults, exception events), and an HTTP 5xx on any span.
ERROR_EXPRESSION: Final = "default_errors or http.status >= 500"

SEED_POLICY: Final = """\
nectar_policy{version,name,budget_per_second,rules}:
  1
  production-sampling
  200
  rules[3]{name,description,match,action,priority}:
    keep-errors,Retain all errors,ERROR_EXPRESSION,keep,100
    keep-slow,Retain slow requests,duration > 5s,keep,90
    sample-rest,Sample remaining traffic,true,sample(0.01),0
""".replace("ERROR_EXPRESSION", ERROR_EXPRESSION)

#: The command that made the sample corpus (``pytest_nectar/project_template/corpus/``).
SAMPLE_COMMAND: Final = (
    "nectar corpus synth --seed 0x3 --traces 100 --duration 30s -o corpus/shop.jsonl"
)

CORPUS_README: Final = f"""\
Put trace files here (OTLP JSON, Honeycomb events, Jaeger, Zipkin);
Nectar proves the policies in policies/ against them.
shop.jsonl is there so that everything works from the start: thirty seconds of a
microservice shop's traffic that Nectar generated (no one's real data), with
    {SAMPLE_COMMAND}
Replace it with your own traces (or with a synthetic twin of them:
`nectar corpus synth --profile learn --learn-from YOUR_TRACES -o corpus/twin.jsonl`),
then run `nectar compile` and commit.
"""

#: Repository files copied from ``pytest_nectar/project_template/`` (destination: source).
TEMPLATE_FILES: Final = {
    ".gitignore": "gitignore",
    ".pre-commit-config.yaml": "pre-commit-config.yaml",
    ".github/workflows/nectar.yml": "workflows/nectar.yml",
    ".github/workflows/nectar-propose.yml": "workflows/nectar-propose.yml",
    "corpus/shop.jsonl": "corpus/shop.jsonl",
}


def template_text(name: str) -> str:
    """A file of ``pytest_nectar/project_template/`` (a ``TEMPLATE_FILES`` value)."""
    from importlib.resources import files

    return files("pytest_nectar").joinpath("project_template", name).read_text(encoding="utf-8")


PYPROJECT: Final = """\
# A Nectar policy repository (the shape of examples/quickstart).  `pytest` proves every
# policy against the corpus; `nectar compile` writes rules.yaml and nectar.lock.
[tool.nectar]
policies = ["policies/*.toon"]
corpus = "corpus/"
rules = "rules.yaml"
lock = "nectar.lock"
window_s = 60
# An error trace: the default error criteria (OpenTelemetry's conventions: span status ERROR,
# error flags, server 5xx, gRPC server faults, exception events) or any HTTP 5xx.  Every
# policy must keep these.
error = "ERROR_EXPRESSION"
seeds = 1
campaigns = ["evolution"]

[tool.pytest]
addopts = ["-ra", "--strict-markers"]
xfail_strict = true
""".replace("ERROR_EXPRESSION", ERROR_EXPRESSION)


def _event(trace_id: str, **fields: object) -> dict[str, object]:
    return {"trace.trace_id": trace_id, "trace.span_id": "a", **fields}


#: Example traces with the decision and the rule they must get (pytest items ``expect[...]``).
EXPECTATIONS: Final = "".join(
    json.dumps(line) + "\n"
    for line in (
        {
            "name": "a 5xx is kept",
            "rule": "keep-errors",
            "decision": "keep",
            "trace": [_event("e1", **{"http.status_code": 503})],
        },
        {
            "name": "a gRPC UNAVAILABLE is kept",
            "rule": "keep-errors",
            "decision": "keep",
            "trace": [_event("g1", **{"rpc.grpc.status_code": 14})],
        },
        {
            "name": "a slow request is kept",
            "rule": "keep-slow",
            "decision": "keep",
            "trace": [_event("s1", **{"http.status_code": 200, "duration_ms": 6000})],
        },
        {
            "name": "the rest is sampled",
            "rule": "sample-rest",
            "decision": "sample",
            "rate": 100,
            "trace": [_event("r1", **{"http.status_code": 200, "duration_ms": 20})],
        },
    )
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "init", help="write a working policy project", description=__doc__
    )
    parser.add_argument("directory", metavar="DIR", help="project directory (created if missing)")
    parser.add_argument(
        "--no-git", action="store_true", help="do not run git init (default: unless in a repo)"
    )
    parser.set_defaults(func=run)


def _inside_git_repository(folder: Path) -> bool:
    """Whether ``folder`` (or its nearest existing parent) is in a git work tree."""
    import subprocess

    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        done = subprocess.run(
            ["git", "-C", str(probe), "rev-parse", "--is-inside-work-tree"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return False
    return done.returncode == 0 and done.stdout.strip() == "true"


def _git_init(root: Path) -> None:
    import shutil
    import subprocess

    if shutil.which("git") is None:
        sys.stderr.write("note: git is not installed; run 'git init' yourself\n")
        return
    done = subprocess.run(
        ["git", "init", "-q", str(root)], capture_output=True, text=True, check=False
    )
    if done.returncode == 0:
        sys.stdout.write(f"initialised a git repository in {root}\n")
    else:
        sys.stderr.write(f"note: git init failed ({done.stderr.strip()}); run it yourself\n")


def run(args: argparse.Namespace) -> int:
    from pytest_nectar.errors import Position, UsageError
    from pytest_nectar.fileio import write_atomic, write_atomic_all

    root = Path(args.directory)
    files = {
        root / "policies" / "production.toon": SEED_POLICY,
        root / "corpus" / "README.md": CORPUS_README,
        root / "policies" / "production.expect.jsonl": EXPECTATIONS,
        root / "pyproject.toml": PYPROJECT,
    }
    files.update({root / dest: template_text(src) for dest, src in TEMPLATE_FILES.items()})
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
    git = not args.no_git and not _inside_git_repository(root)
    for path, text in files.items():
        write_atomic(path, text)
        sys.stdout.write(f"wrote {path}\n")
    # The compiled rules and the lock, as `nectar compile` writes them (committed with the
    # policies; `pytest` checks they stay current).
    from pytest_nectar.compiler.outputs import build_outputs

    rules, lock = root / "rules.yaml", root / "nectar.lock"
    if not rules.exists() and not lock.exists():
        outputs = build_outputs(
            [root / "policies" / "production.toon"], rules, lock, [root / "corpus"]
        )
        write_atomic_all([(rules, outputs.rules_text), (lock, outputs.lock_text)])
        sys.stdout.write(f"wrote {rules}\nwrote {lock}\n")
    if git:
        _git_init(root)
    return 0
