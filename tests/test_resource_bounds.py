"""Class 6 of issue 19: inputs that took quadratic (or worse) time are rejected or proven fast.

Bounds are generous caps and ratios, never tight timings: each case compares a large input
with a small one measured in the same run (quadratic time would make the ratio ~100x where
linear gives ~10x), with an absolute cap far above what the fixed code needs.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_nectar.corpus.documents import MAX_CONTAINERS
from pytest_nectar.errors import NectarError, PolicyError, Position
from pytest_nectar.policy.match_parser import _trailing_name, parse_match
from pytest_nectar.prover import prove
from pytest_nectar.refinery.rules_validate import SUGGEST_LIMIT, closest_names
from tests.resource_support import many_rules_policy

_OLD_TRAILING_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_.\-]*|`[^`]*`)\s*\Z")


def _seconds(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    with contextlib.suppress(NectarError):
        action()
    return time.perf_counter() - start


def _reject_match(text: str) -> Callable[[], object]:
    return lambda: parse_match(text, position=Position("p.toon", 1, 1))


def test_a_20kb_match_cell_is_rejected_fast_with_its_position() -> None:
    with pytest.raises(PolicyError) as err:
        _reject_match("a" * 20_000 + " = 1 = 2")()
    assert err.value.message.startswith("p.toon:1:20006: unexpected token in match expression")
    small = min(_seconds(_reject_match("a" * 2_000 + " = 1 = 2")) for _ in range(3))
    large = min(_seconds(_reject_match("a" * 200_000 + " = 1 = 2")) for _ in range(3))
    assert large < 5.0  # was 6 s at 20 KB, quadratic
    assert large < 50 * small + 0.5  # 100x the input: linear, not 10,000x


@given(st.text(alphabet="ab_.-1 `=()", max_size=30))
def test_trailing_name_scan_equals_the_old_regex(text: str) -> None:
    old = _OLD_TRAILING_NAME.search(text)
    assert _trailing_name(text) == (None if old is None else (old.start(1), old.group(1)))


def test_no_edit_distance_suggestions_for_a_huge_unknown_key() -> None:
    assert closest_names("Sampel") == ["Sampler"]  # Refinery's suggestion, as before
    assert closest_names("K" * (SUGGEST_LIMIT + 1)) == []
    assert _seconds(lambda: closest_names("K" * 32_000)) < 1.0  # was 16 s


def test_cli_validate_of_a_32000_character_key(tmp_path: Path) -> None:
    from pytest_nectar.refinery.rules_reader import read_rules
    from pytest_nectar.refinery.rules_validate import validate_loaded

    key = "K" * 32_000
    rules = tmp_path / "r.yaml"
    rules.write_text(
        "RulesVersion: 2\nSamplers:\n  __default__:\n    RulesBasedSampler:\n"
        f"      ? {key}\n      : 1\n      Rules:\n        - Name: a\n          SampleRate: 1\n",
        encoding="utf-8",
    )
    start = time.perf_counter()
    errors = validate_loaded(read_rules(str(rules))).errors
    assert time.perf_counter() - start < 10.0
    assert [d.message for d in errors] == [
        f"{rules}:5:9: Within sampler __default__: unknown field "
        f"{('RulesBasedSampler.' + key)[: SUGGEST_LIMIT - 3]}...; "
        "Refinery refuses to load this file"
    ]


def test_all_traces_proofs_scale_about_linearly_in_rules(tmp_path: Path) -> None:
    """The shadowed-rules lint and error preservation for all traces: 10x the rules must
    not cost 100x (the old procedure's n^2.5 took 10 s at 250 rules, minutes at 1,000)."""
    properties = ["shadowed-rules", "error-preservation-all"]

    def run(n: int) -> tuple[float, object]:
        path = tmp_path / f"p{n}.toon"
        path.write_text(many_rules_policy(n), encoding="utf-8")
        start = time.perf_counter()
        report = prove(str(path), properties=properties)
        return time.perf_counter() - start, report

    small, _ = run(60)
    large, report = run(600)
    shadowed = report.results["shadowed-rules"]  # type: ignore[attr-defined]
    # r22 ("/api/22" after "/api/2" with a longer duration) and its kind are shadowed.
    assert "'r22' (shadowed)" in shadowed.summary and shadowed.figures["undecided"] == []
    assert report.results["error-preservation-all"].verdict.value == "fail"  # type: ignore[attr-defined]
    assert large < 120.0
    assert large < 40 * small + 5.0


def _peak_rss_mb(argv: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``argv`` as the only child of a fresh interpreter: its exit, output, peak RSS."""
    probe = (
        "import resource, subprocess, sys, json; "
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "print(json.dumps([p.returncode, p.stdout, p.stderr, "
        "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *argv], cwd=cwd, capture_output=True, text=True, check=True
    )
    rc, out, err, rss_kb = json.loads(done.stdout)
    return subprocess.CompletedProcess(argv, rc, out, err), rss_kb / 1024


def test_a_dense_json_document_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    """An array of 4.5 million empty arrays (9 MB; the issue's 60 MB one took 2-4 GB)."""
    (tmp_path / "dense.json").write_bytes(b"[" + b"[]," * (MAX_CONTAINERS + 500_000) + b"[]]")
    argv = [sys.executable, "-m", "pytest_nectar", "corpus", "stats", "dense.json", "--no-cache"]
    out, rss_mb = _peak_rss_mb(argv, tmp_path)
    assert out.returncode == 2
    assert out.stderr == (
        "dense.json: JSON document too large to read: up to 4,500,002 arrays and objects "
        "(limit 4,000,000); got '13,500,004 bytes'; split it into several files, or write "
        "JSON Lines (one document per line)\n"
    )
    assert rss_mb < 500  # parsing it would take about 400 MB more than the file
    lines = tmp_path / "lines.jsonl"
    lines.write_bytes(b'{"resourceSpans": []}\n' + (tmp_path / "dense.json").read_bytes() + b"\n")
    argv[5] = "lines.jsonl"
    out, _ = _peak_rss_mb([*argv, "--skip-bad", "--json"], tmp_path)
    assert out.returncode == 0, out.stderr
    skipped = json.loads(out.stdout)["skipped"]
    assert skipped["count"] == 1 and list(skipped["reasons"]) == [
        "JSON document too large to read: up to 4,500,002 arrays and objects (limit 4,000,000)"
    ]
