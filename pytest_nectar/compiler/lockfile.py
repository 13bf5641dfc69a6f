"""``nectar.lock``: what was compiled, from what, by which Nectar.  Text, sorted, no timestamps.

The lock is TOML (read back with ``tomllib``), one fact per line so a diff shows what moved::

    # nectar.lock: written by `nectar compile`; check with `nectar compile --check`.
    version = 1
    nectar = "0.1.0"

    [rules]
    path = "rules.yaml"
    md5 = "..."      # the md5 Refinery reports for the rules it loaded
    sha256 = "..."

    [corpus]
    paths = ["corpus"]
    digest = "..."   # pytest_nectar.corpus.load_corpus(paths).digest

    [policies."policies/production.toon"]
    environment = "__default__"
    policy_sha256 = "..."    # the policy's canonical model (a format-only change keeps it)
    compiled_sha256 = "..."  # the YAML of its environment's entry alone

Paths are relative to the lock's folder, with ``/`` separators, so the lock is the same on
every machine.  :func:`compare_locks` explains every difference between two locks.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Final

from pytest_nectar.errors import Position, UsageError
from pytest_nectar.limits import BEYOND_DECODER, beyond_decoder
from pytest_nectar.policy.model import Policy, PolicyComments

__all__ = [
    "LOCK_VERSION",
    "Lock",
    "PolicyLock",
    "compare_locks",
    "md5_hex",
    "parse_lock",
    "policy_sha256",
    "render_lock",
    "sha256_hex",
    "toml_error_position",
]

LOCK_VERSION: Final = 2  # 2: policies by their canonical model, not their bytes
_HEADER: Final = "# nectar.lock: written by `nectar compile`; check with `nectar compile --check`."


def md5_hex(data: bytes) -> str:
    """The md5 Refinery logs for a rules file it loaded (an identity, not a security hash)."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def policy_sha256(policy: Policy) -> str:
    """The hash of what a policy means: its canonical text without comments.

    ``nectar fmt``, comments, the keyed or positional form, quotes and row order never change
    it; any change to a value, rule, match or action does.
    """
    from pytest_nectar.policy.printer import format_policy

    bare = replace(
        policy,
        comments=PolicyComments(),
        rules=tuple(replace(rule, comments=()) for rule in policy.rules),
    )
    return sha256_hex(format_policy(bare).encode("utf-8"))


@dataclass(frozen=True, slots=True)
class PolicyLock:
    environment: str
    policy_sha256: str
    compiled_sha256: str


@dataclass(frozen=True, slots=True)
class Lock:
    nectar: str
    rules_path: str
    rules_md5: str
    rules_sha256: str
    policies: Mapping[str, PolicyLock] = field(default_factory=dict)
    corpus_paths: tuple[str, ...] | None = None
    corpus_digest: str | None = None


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a TOML basic string for printable text


def render_lock(lock: Lock) -> str:
    """The lock's text (same lock, same bytes)."""
    lines = [
        _HEADER,
        f"version = {LOCK_VERSION}",
        f"nectar = {_q(lock.nectar)}",
        "",
        "[rules]",
        f"path = {_q(lock.rules_path)}",
        f"md5 = {_q(lock.rules_md5)}",
        f"sha256 = {_q(lock.rules_sha256)}",
    ]
    if lock.corpus_digest is not None:
        paths = ", ".join(_q(p) for p in lock.corpus_paths or ())
        lines += ["", "[corpus]", f"paths = [{paths}]", f"digest = {_q(lock.corpus_digest)}"]
    for path in sorted(lock.policies):
        p = lock.policies[path]
        lines += [
            "",
            f"[policies.{_q(path)}]",
            f"environment = {_q(p.environment)}",
            f"policy_sha256 = {_q(p.policy_sha256)}",
            f"compiled_sha256 = {_q(p.compiled_sha256)}",
        ]
    return "\n".join(lines) + "\n"


def _str(table: Mapping[str, object], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str):
        raise UsageError(
            f"lock entry {key!r} is missing or not text",
            position=Position(where),
            got=value,
            hint="regenerate it with 'nectar compile'",
        )
    return value


def toml_error_position(err: tomllib.TOMLDecodeError, path: str) -> tuple[str, Position]:
    """(message without location, position) of a TOML decode error."""
    text = str(err)
    m = re.search(r" \(at line (\d+), column (\d+)\)", text)
    if m is None:
        return text.split(" (at ")[0], Position(path)
    return text[: m.start()], Position(path, int(m.group(1)), int(m.group(2)))


def parse_lock(text: str, path: str = "nectar.lock") -> Lock:
    """Read a lock written by :func:`render_lock`.

    Raises:
        UsageError: the text is not a lock (located; regenerate it with ``nectar compile``).
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        what, where = toml_error_position(err, path)
        raise UsageError(
            f"lock is not valid TOML: {what}",
            position=where,
            hint="regenerate it with 'nectar compile'",
        ) from None
    except BEYOND_DECODER as err:
        raise UsageError(
            f"lock is not valid TOML: {beyond_decoder(err)}",
            position=Position(path),
            hint="regenerate it with 'nectar compile'",
        ) from None
    if data.get("version") != LOCK_VERSION:
        raise UsageError(
            "unsupported lock version",
            position=Position(path),
            got=data.get("version"),
            hint=f"this Nectar writes version {LOCK_VERSION}; regenerate it with 'nectar compile'",
        )
    rules = data.get("rules")
    rules = rules if isinstance(rules, dict) else {}
    corpus = data.get("corpus")
    policies_raw = data.get("policies")
    policies: dict[str, PolicyLock] = {}
    for name, entry in (policies_raw if isinstance(policies_raw, dict) else {}).items():
        entry = entry if isinstance(entry, dict) else {}
        policies[name] = PolicyLock(
            _str(entry, "environment", path),
            _str(entry, "policy_sha256", path),
            _str(entry, "compiled_sha256", path),
        )
    corpus_paths: tuple[str, ...] | None = None
    digest: str | None = None
    if isinstance(corpus, dict):
        digest = _str(corpus, "digest", path)
        raw = corpus.get("paths")
        corpus_paths = tuple(str(p) for p in raw) if isinstance(raw, list) else ()
    return Lock(
        nectar=_str(data, "nectar", path),
        rules_path=_str(rules, "path", path),
        rules_md5=_str(rules, "md5", path),
        rules_sha256=_str(rules, "sha256", path),
        policies=policies,
        corpus_paths=corpus_paths,
        corpus_digest=digest,
    )


def compare_locks(recorded: Lock, current: Lock) -> list[str]:
    """Why ``recorded`` (on disk) is not ``current`` (just computed): one sentence each."""
    out: list[str] = []
    if recorded.nectar != current.nectar:
        out.append(f"written by nectar {recorded.nectar}, this is nectar {current.nectar}")
    for path in sorted(set(recorded.policies) | set(current.policies)):
        old, new = recorded.policies.get(path), current.policies.get(path)
        if old is None:
            out.append(f"policy {path} is not in the lock (new policy)")
        elif new is None:
            out.append(f"policy {path} is in the lock but no longer compiled")
        else:
            if old.policy_sha256 != new.policy_sha256:
                out.append(f"policy {path} changed since the lock was written")
            elif old.compiled_sha256 != new.compiled_sha256:
                out.append(f"policy {path} compiles differently now")
            if old.environment != new.environment:
                out.append(
                    f"policy {path} now targets {new.environment!r}, not {old.environment!r}"
                )
    if (recorded.corpus_digest, recorded.corpus_paths) != (
        current.corpus_digest,
        current.corpus_paths,
    ):
        if current.corpus_digest is None:
            out.append("the lock records a corpus, but none is configured")
        elif recorded.corpus_digest is None:
            out.append("a corpus is configured, but the lock records none")
        elif recorded.corpus_paths != current.corpus_paths:
            out.append("the configured corpus paths changed")
        else:
            out.append("the corpus changed since the lock was written (digest differs)")
    if recorded.rules_path != current.rules_path:
        out.append(f"the lock is for rules file {recorded.rules_path}, not {current.rules_path}")
    elif recorded.rules_md5 != current.rules_md5 and not out:
        out.append("the lock's rules md5 differs from the rules the policies compile to")
    return out
