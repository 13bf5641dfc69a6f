"""A project's compiled outputs (rules file + lock), and the check that the committed ones match.

:func:`build_outputs` compiles policy files into the rules text and the lock text, both
deterministic.  :func:`check_outputs` compares them with the files on disk and explains each
problem: a missing file, a stale lock (policies, corpus or Nectar changed), a stale rules file
(the lock and rules agree with each other but not with the policies) and a hand edit (the
rules file's md5 is not the one the lock recorded).  Used by ``nectar compile`` and by any
front end that gates deploys.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_nectar import __version__
from pytest_nectar.compiler.compile import Compilation, compile_policies
from pytest_nectar.compiler.lockfile import (
    Lock,
    PolicyLock,
    compare_locks,
    md5_hex,
    parse_lock,
    policy_sha256,
    render_lock,
    sha256_hex,
)
from pytest_nectar.errors import EmptyCorpusError, PolicyError, Position, RulesError, UsageError

__all__ = [
    "Outputs",
    "build_outputs",
    "check_outputs",
    "corpus_digest_of",
    "rules_file_text",
    "show_path",
]


@dataclass(frozen=True, slots=True)
class Outputs:
    """What ``nectar compile`` writes, and what it found on the way."""

    compilation: Compilation
    rules_text: str
    lock: Lock
    lock_text: str
    notes: tuple[str, ...]


def _rel(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()


def corpus_digest_of(paths: Sequence[Path]) -> str | None:
    """``load_corpus(paths).digest`` without loading (None: the folders hold no trace files)."""
    from pytest_nectar.corpus.ingest import IngestOptions
    from pytest_nectar.corpus.load import corpus_digest, resolve_inputs

    try:
        files = [p for p, _ in resolve_inputs(list(paths))]
    except EmptyCorpusError:
        return None
    return corpus_digest(
        files, IngestOptions(), scale=1.0, must_keep_file=None, must_keep_attribute=None
    )


def build_outputs(
    policy_paths: Sequence[Path],
    rules_path: Path,
    lock_path: Path,
    corpus: Sequence[Path] | None = None,
) -> Outputs:
    """Compile ``policy_paths`` into the rules text and the lock for ``rules_path``.

    Raises:
        PolicyError, CompileError, CorpusError: a policy or the corpus cannot be used.
    """
    from pytest_nectar.policy.parser import parse_policy

    if not policy_paths:
        raise UsageError(
            "no policies to compile",
            hint="pass POLICY files, or set policies in [tool.nectar] (pyproject.toml)",
        )
    base = lock_path.parent
    texts: list[str] = []
    policies = []
    for path in policy_paths:
        try:
            data = path.read_bytes()
            text = data.decode("utf-8")
        except OSError as err:
            raise PolicyError(
                "cannot read policy file", position=Position(str(path)), got=err.strerror
            ) from None
        except UnicodeDecodeError:
            raise PolicyError("policy file is not UTF-8", position=Position(str(path))) from None
        texts.append(text)
        policies.append(parse_policy(text, path=str(path)))
    compilation = compile_policies(policies, sources=texts)
    notes = list(compilation.notes)
    rules_text = compilation.text
    encoded = rules_text.encode("utf-8")
    entries = {}
    for path, policy in zip(policy_paths, policies, strict=True):
        env = compilation.environments[policy.effective_environment]
        entries[_rel(path, base)] = PolicyLock(env.environment, policy_sha256(policy), env.digest)
    digest = None
    corpus_paths = None
    if corpus:
        digest = corpus_digest_of(corpus)
        if digest is None:
            notes.append("the configured corpus holds no trace files; the lock records no corpus")
        else:
            corpus_paths = tuple(_rel(p, base) for p in corpus)
    lock = Lock(
        nectar=__version__,
        rules_path=_rel(rules_path, base),
        rules_md5=md5_hex(encoded),
        rules_sha256=sha256_hex(encoded),
        policies=entries,
        corpus_paths=corpus_paths,
        corpus_digest=digest,
    )
    return Outputs(compilation, rules_text, lock, render_lock(lock), tuple(notes))


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise UsageError(
            "cannot read file", position=Position(str(path)), got=err.strerror
        ) from None


def rules_file_text(rules_path: Path, rules_text: str) -> str:
    """What ``nectar compile`` writes to ``rules_path``: the rules file, or, when that file is
    Refinery's Helm values or a ConfigMap holding the rules, that file with only its rules
    replaced (everything else byte for byte, see :mod:`.refinery.rules_splice`)."""
    from pytest_nectar.refinery.rules_reader import format_for, read_rules_text
    from pytest_nectar.refinery.rules_splice import splice_rules
    from pytest_nectar.refinery.yaml_loader import load_yaml

    existing = _read(rules_path)
    if existing is None or format_for(str(rules_path)) != "yaml":
        return rules_text
    text = existing.decode("utf-8", "replace")
    try:
        container = read_rules_text(text, str(rules_path)).container
    except RulesError:
        if any(line.startswith(("rules:", "kind: ConfigMap")) for line in text.splitlines()):
            raise  # never replace Helm values or a ConfigMap that cannot be read
        return rules_text
    if container is None:
        root = load_yaml(text, str(rules_path))
        keys = {k for k, _, _ in root.entries} if root is not None and root.kind == "map" else set()
        if keys and not keys & {"RulesVersion", "Samplers"}:
            raise UsageError(
                "refusing to overwrite a file that is not a rules file",
                position=Position(str(rules_path)),
                got=", ".join(sorted(keys)[:5]),
                hint="-o takes a rules file, Refinery's Helm values (rules:) or a ConfigMap "
                "holding rules.yaml; choose another path",
            )
        return rules_text
    return splice_rules(text, container, rules_text, str(rules_path))


def show_path(path: Path) -> str:
    """``path`` relative to the working folder when it is below it (for messages)."""
    rel = os.path.relpath(path)
    return path.as_posix() if rel.startswith("..") else Path(rel).as_posix()


def check_outputs(outputs: Outputs, rules_path: Path, lock_path: Path) -> list[str]:
    """Every reason the files on disk are not what compiling now gives (empty: current)."""
    problems: list[str] = []
    rules_now = _read(rules_path)
    lock_now = _read(lock_path)
    rules_shown, lock_shown = show_path(rules_path), show_path(lock_path)
    recorded: Lock | None = None
    if lock_now is None:
        problems.append(f"{lock_shown}: missing; run 'nectar compile' to write it")
    else:
        recorded = parse_lock(lock_now.decode("utf-8", "replace"), str(lock_path))
    wanted = outputs.rules_text.encode("utf-8")
    if rules_now is not None:
        wanted = rules_file_text(rules_path, outputs.rules_text).encode("utf-8")
    plain = wanted == outputs.rules_text.encode("utf-8")
    if rules_now is None:
        problems.append(f"{rules_shown}: missing; run 'nectar compile' to write it")
    elif rules_now != wanted:
        if plain and recorded is not None and md5_hex(rules_now) != recorded.rules_md5:
            problems.append(
                f"{rules_shown}: edited by hand (md5 {md5_hex(rules_now)}, the lock records "
                f"{recorded.rules_md5}); change the policies instead and run 'nectar compile'"
            )
        else:
            problems.append(
                f"{rules_shown}: stale; the policies compile to different rules "
                f"(md5 {outputs.lock.rules_md5}, the file has {md5_hex(rules_now)}); "
                "run 'nectar compile'"
            )
    if recorded is not None:
        reasons = compare_locks(recorded, outputs.lock)
        if not reasons and lock_now != outputs.lock_text.encode("utf-8"):
            reasons = ["its text differs from what 'nectar compile' writes (edited by hand?)"]
        problems.extend(f"{lock_shown}: stale: {why}; run 'nectar compile'" for why in reasons)
    return problems
