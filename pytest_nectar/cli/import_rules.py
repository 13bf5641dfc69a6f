"""``nectar import RULES -o DIR [--corpus PATH] [--force]``: a Refinery rules file -> policies.

RULES is a rules file (YAML, JSON or TOML), Refinery's Helm chart values (rules under
``rules:``), a ConfigMap holding the rules file (``data: rules.yaml: |``) or a Refinery 1.x
rules file, which is first converted as Refinery's ``convert rules`` tool converts it (what
changed meaning is listed).  Writes one policy per environment, ``DIR/<environment>.toon``.

Before anything is written every environment is imported and its policies compiled, and each
environment's compiled rules are proven to decide exactly as the original: for all traces
(the prover's decision procedure, a counterexample re-checked by the reference evaluator;
``unknown`` with a seeded random search where it cannot decide) and on the corpus when
``--corpus`` is given or ``[tool.nectar] corpus`` is set (replay equality).

Exit 0 when everything imported and no environment was shown to differ; 1 when an
environment cannot be stated exactly or decides differently (nothing is written: a partial
import would send that environment's traffic to ``__default__``); 2 for bad input, including
a file Refinery refuses (its messages are printed, nothing is written).  ``--no-validate``
imports such a file as Refinery decodes it when started with that flag.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from pytest_nectar.cli.options import add_no_validate_option
from pytest_nectar.escape import terminal

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "import", help="turn an existing Refinery rules file into .toon policies"
    )
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "rules", metavar="RULES_FILE", help="rules file, Helm values, ConfigMap or 1.x file"
    )
    parser.add_argument("-o", "--output", metavar="DIR", required=True, help="folder to write")
    parser.add_argument(
        "--corpus", action="append", metavar="PATH", help="also check replay equality on it"
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing policy files")
    add_no_validate_option(
        parser, help="import what Refinery loads when started with --no-validate"
    )
    parser.set_defaults(func=run)


def file_name(environment: str) -> str:
    """A safe, stable file name for an environment's policy."""
    safe = _UNSAFE.sub("_", environment).strip(".") or "environment"
    return f"{safe}.toon"


def _show_trace(trace: Any) -> str:
    import json

    spans = [dict(span.data) for span in trace.spans]
    return json.dumps({"trace_id": trace.trace_id, "spans": spans}, default=str, sort_keys=True)


def _traces(paths: list[str] | None) -> Any:
    from pytest_nectar.corpus import load_corpus
    from pytest_nectar.project.config import load_config

    if paths:
        return load_corpus(paths)
    configured = load_config().corpus
    return load_corpus([str(p) for p in configured]) if configured else None


def _rule_names(rules_file: Any, env: str) -> list[str]:
    entry = rules_file.samplers.get(env)
    chosen = entry.select() if entry is not None else None
    return [r.name for r in getattr(chosen, "rules", None) or ()]


def _decoded(loaded: Any) -> Any:
    """The rules as Refinery decodes them under ``--no-validate`` (no validation)."""
    from pytest_nectar.refinery.rules_decode import go_decode
    from pytest_nectar.refinery.rules_decode_json import go_decode_json
    from pytest_nectar.refinery.rules_reader import build_rules_file

    if loaded.format == "json":
        return build_rules_file(go_decode_json(loaded.text, loaded.path), loaded.path)
    return build_rules_file(go_decode(loaded.root, loaded.path, loaded.format), loaded.path)


def run(args: argparse.Namespace) -> int:
    from pytest_nectar.compiler.compile import CATCH_ALL_NAME, compile_policies
    from pytest_nectar.compiler.importer import import_rules
    from pytest_nectar.errors import NectarError, Position, UsageError
    from pytest_nectar.fileio import write_atomic_all
    from pytest_nectar.policy.parser import parse_policy
    from pytest_nectar.policy.printer import format_policy
    from pytest_nectar.prover.import_proof import corpus_differences, prove_equivalent
    from pytest_nectar.prover.properties import Verdict
    from pytest_nectar.refinery.rules_reader import read_rules
    from pytest_nectar.refinery.rules_v1 import convert_v1, is_v1
    from pytest_nectar.refinery.rules_validate import validate_loaded

    def out(text: str) -> None:
        sys.stdout.write(terminal(text))  # names and values from the file are untrusted

    if args.rules.endswith(".toon"):
        raise UsageError(
            "import reads a Refinery rules file, not a policy", position=Position(args.rules)
        )
    if Path(args.output).exists() and not Path(args.output).is_dir():
        raise UsageError(
            "-o must be a folder", position=Position(args.output), hint="policies go in a folder"
        )
    loaded = read_rules(args.rules)
    changes: tuple[str, ...] = ()
    if loaded.container is not None:
        out(f"reading the rules from {loaded.container.describe()}\n")
        if loaded.container.added_default:
            out(
                "note: Samplers has no __default__; Refinery's Helm chart adds "
                "DeterministicSampler SampleRate 1, and so does this import\n"
            )
    if is_v1(loaded):
        conversion = convert_v1(loaded)
        loaded, changes = conversion.loaded, conversion.changes
        out("converted a Refinery 1.x rules file as Refinery's `convert rules` tool does\n")
    errors = validate_loaded(loaded).errors
    original = loaded.rules_file
    if errors and args.no_validate:
        original = _decoded(loaded)
        out(
            f"note: Refinery refuses this file ({len(errors)} error(s)) unless started with "
            "--no-validate; importing what it decodes then\n"
        )
        errors = ()
    if errors:
        for d in errors:
            sys.stderr.write(terminal(d.render() + "\n"))
        if changes:
            sys.stderr.write("what the 1.x conversion changed:\n")
            sys.stderr.writelines(terminal(f"  {change}\n") for change in changes)
        sys.stderr.write(
            terminal(
                f"{args.rules}: not imported: Refinery would refuse this file "
                f"({len(errors)} error(s)); nothing written\n"
            )
        )
        return 2
    result = import_rules(original)
    if "__default__" not in original.samplers:
        out(
            "note: the file has no __default__: Refinery stops when a trace of any other "
            "environment arrives; the compiled rules keep those traces (DeterministicSampler "
            "SampleRate 1), which is no decision of the original\n"
        )
    for note in result.notes:
        out(f"note: {note}\n")
    if result.problems:
        for problem in result.problems:
            sys.stderr.write(terminal(f"not imported: {problem.render()}\n"))
        sys.stderr.write(
            "nectar import: nothing written: an environment left out would fall back to "
            "__default__ and change its decisions\n"
        )
        return 1
    target = Path(args.output)
    texts: dict[Path, str] = {}
    parsed = []
    for env, policy in result.policies.items():
        path = target / file_name(env)
        if path.exists() and not args.force:
            raise UsageError(
                "refusing to overwrite an existing file",
                position=Position(str(path)),
                hint="pass --force, or choose another -o folder",
            )
        text = format_policy(policy)
        try:
            reparsed = parse_policy(text, path=str(path))
            compile_policies([reparsed])  # must compile back
        except NectarError as err:  # locate it in the input: the policy was never written
            entry = original.samplers.get(env)
            raise NectarError(
                f"environment {env!r} does not import faithfully: {err.diagnostic.what}",
                position=(entry.position if entry and entry.position else Position(args.rules)),
                got=err.diagnostic.got,
                hint="this is a Nectar bug; please report it with the rules file",
            ) from None
        texts[path] = text
        parsed.append(reparsed)
    compiled = compile_policies(parsed).rules_file
    corpus = _traces(args.corpus)
    failed = False
    for env in sorted(original.samplers):
        renamed = result.renamed.get(env, {})
        proof = prove_equivalent(original, compiled, env, renamed=renamed)
        out(f"{env}: all traces: {proof.verdict.value}: {proof.summary}\n")
        if proof.verdict is Verdict.FAIL:
            failed = True
            if proof.counterexample is not None:
                assert proof.original is not None and proof.imported is not None
                out(f"  counterexample: {_show_trace(proof.counterexample)}\n")
                out(f"  original: {proof.original.reason} rate {proof.original.rate}\n")
                out(f"  imported: {proof.imported.reason} rate {proof.imported.rate}\n")
        if corpus is not None:
            checked, differ = corpus_differences(original, compiled, env, corpus, renamed=renamed)
            verdict = "fail" if differ else ("pass" if checked else "unknown")
            out(f"{env}: corpus: {verdict}: {checked - len(differ)} of {checked} traces alike\n")
            for trace_id, a, b in differ[:5]:
                out(f"  {trace_id}: original {a.reason}, imported {b.reason}\n")
            failed = failed or bool(differ)
    if any(CATCH_ALL_NAME in _rule_names(compiled, env) for env in original.samplers):
        out(
            f"accepted difference: a trace no original rule matches is kept at rate 1 by the "
            f"compiled catch-all {CATCH_ALL_NAME} (reason text only)\n"
        )
    if changes:
        out("what the 1.x conversion changed:\n")
        for change in changes:
            out(f"  {change}\n")
    if failed:
        sys.stderr.write(
            "nectar import: the import does not decide as the original; nothing written\n"
        )
        return 1
    write_atomic_all(list(texts.items()))  # every policy or none (a full disk mid-way)
    for path in texts:
        out(f"wrote {path}\n")
    return 0
