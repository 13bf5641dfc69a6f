"""Typos: fields nothing is known to write get "did you mean ...?", corpus names first."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pytest_nectar.policy.known_fields import field_diagnostics, is_known, semconv_names
from pytest_nectar.policy.parser import parse_policy

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "examples" / "quickstart" / "corpus"

TYPO = """\
nectar_policy{version,name,rules}:
  1
  typo
  rules[2]{name,description,match,action,priority}:
    slow-checkout,,"span(servce.name = \\"checkoutservice\\" and duraton > 2s)",keep,100
    rest,,true,sample(1/10),0
"""


def test_names_come_from_the_semantic_conventions_package() -> None:
    names = semconv_names()
    # stable, incubating and deprecated names alike: old instrumentations still send them
    for name in ("service.name", "http.response.status_code", "http.status_code", "rpc.system"):
        assert name in names
    assert len(names) > 500
    assert is_known("root.http.route") and is_known("meta.annotation_type")
    assert is_known("http.request.header.x-request-id")  # a template attribute
    assert not is_known("servce.name") and is_known("servce.name", {"servce.name"})


def test_aliases_and_the_default_criteria_count_as_known() -> None:
    policy = parse_policy(
        TYPO.replace("servce.name", "http.status").replace(" and duraton > 2s", ""), path="p"
    )
    assert field_diagnostics(policy) == []


def test_check_says_did_you_mean_from_the_corpus(tmp_path: Path) -> None:
    (tmp_path / "typo.toon").write_text(TYPO, encoding="utf-8")
    argv = [sys.executable, "-m", "pytest_nectar", "check", "typo.toon", "--corpus", str(CORPUS)]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == (
        "warning: typo.toon:5:26: unknown field: not in the corpus, OpenTelemetry's semantic "
        "conventions or Refinery's own fields; got 'servce.name'; did you mean service.name?"
    )
    assert lines[3].endswith("got 'duraton'; did you mean duration_ms?")
    strict = subprocess.run([*argv, "--strict"], cwd=tmp_path, capture_output=True, text=True)
    assert strict.returncode == 1
    assert strict.stderr.startswith("typo.toon:5:26: unknown field")
