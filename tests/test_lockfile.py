"""The lockfile: rendering, reading back, and explaining differences."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pytest_nectar.compiler.lockfile import (
    Lock,
    PolicyLock,
    compare_locks,
    md5_hex,
    parse_lock,
    render_lock,
)
from pytest_nectar.errors import UsageError

LOCK = Lock(
    nectar="0.1.0",
    rules_path="rules.yaml",
    rules_md5="m" * 32,
    rules_sha256="s" * 64,
    policies={
        "policies/z.toon": PolicyLock("prod", "a" * 64, "b" * 64),
        "policies/a b.toon": PolicyLock("__default__", "c" * 64, "d" * 64),
    },
    corpus_paths=("corpus",),
    corpus_digest="e" * 64,
)


def test_render_is_sorted_text_without_timestamps() -> None:
    text = render_lock(LOCK)
    assert text == (
        "# nectar.lock: written by `nectar compile`; check with `nectar compile --check`.\n"
        'version = 2\nnectar = "0.1.0"\n\n'
        f'[rules]\npath = "rules.yaml"\nmd5 = "{"m" * 32}"\nsha256 = "{"s" * 64}"\n\n'
        f'[corpus]\npaths = ["corpus"]\ndigest = "{"e" * 64}"\n\n'
        '[policies."policies/a b.toon"]\nenvironment = "__default__"\n'
        f'policy_sha256 = "{"c" * 64}"\ncompiled_sha256 = "{"d" * 64}"\n\n'
        '[policies."policies/z.toon"]\nenvironment = "prod"\n'
        f'policy_sha256 = "{"a" * 64}"\ncompiled_sha256 = "{"b" * 64}"\n'
    )
    assert parse_lock(text) == LOCK


def test_md5_is_refinerys_file_md5() -> None:
    assert md5_hex(b"") == "d41d8cd98f00b204e9800998ecf8427e"


def test_compare_explains_each_difference() -> None:
    changed = replace(
        LOCK,
        nectar="0.2.0",
        corpus_digest="f" * 64,
        policies={
            "policies/z.toon": PolicyLock("staging", "0" * 64, "b" * 64),
            "policies/new.toon": PolicyLock("x", "1" * 64, "2" * 64),
        },
    )
    assert compare_locks(LOCK, changed) == [
        "written by nectar 0.1.0, this is nectar 0.2.0",
        "policy policies/a b.toon is in the lock but no longer compiled",
        "policy policies/new.toon is not in the lock (new policy)",
        "policy policies/z.toon changed since the lock was written",
        "policy policies/z.toon now targets 'staging', not 'prod'",
        "the corpus changed since the lock was written (digest differs)",
    ]
    assert compare_locks(LOCK, LOCK) == []
    assert compare_locks(LOCK, replace(LOCK, corpus_digest=None, corpus_paths=None)) == [
        "the lock records a corpus, but none is configured"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version = 2\nnectar = ?", "nectar.lock:2:10: lock is not valid TOML: Invalid value; "),
        ("version = 7\n", "nectar.lock: unsupported lock version; got 7; "),
        ("version = 1\n", "nectar.lock: unsupported lock version; got 1; "),  # source bytes
        ("version = 2\n", "nectar.lock: lock entry 'nectar' is missing or not text; got None; "),
    ],
)
def test_bad_locks_are_located(text: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_lock(text)
    assert info.value.message.startswith(message)
