"""Where the real data lives: read in place from ../shared, never copied into the repository.

The real trace and rules files (``$NECTAR_REALDATA``, default ``<repo>/../shared/realdata``)
and Refinery's transcribed test cases (``$NECTAR_SHARED/refinery-cases/given.json``,
default ``<repo>/../shared/refinery-cases``) come from other public repositories, so they
are read where they are.  Tests that need them request the ``realdata`` fixture
(tests/conftest.py): absent data skips them with one reason (counted in one line of the
session summary), or fails them when ``NECTAR_REQUIRE_REALDATA=1`` (CI).

Paths here are computed at import, whether or not they exist, so module constants and
parametrize lists can name real files; only the fixture decides skip, fail or run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Final

import pytest

__all__ = [
    "ABSENT",
    "CASES_FILE",
    "REALDATA",
    "REPO",
    "SHARED",
    "SKIP_REASON",
    "TRACE_FOLDERS",
    "absent_reason",
    "case_params",
    "corpus_names",
    "files",
    "load_cases",
    "names",
    "or_absent",
    "required",
]

REPO: Final = Path(__file__).resolve().parents[1]
SHARED: Final = Path(os.environ.get("NECTAR_SHARED") or REPO.parent / "shared")
REALDATA: Final = Path(os.environ.get("NECTAR_REALDATA") or SHARED / "realdata")
CASES_FILE: Final = SHARED / "refinery-cases" / "given.json"
#: Every skip for absent real data starts with this (the summary hook counts them).
SKIP_REASON: Final = "real data absent"
#: The parameter a glob-parametrized test gets when the folder is absent (the fixture skips).
ABSENT: Final = "realdata-absent"


def required() -> bool:
    return os.environ.get("NECTAR_REQUIRE_REALDATA") == "1"


def absent_reason() -> str | None:
    """None when the real data is there; otherwise why not (the skip or failure message)."""
    missing = [str(p) for p in (REALDATA, CASES_FILE) if not p.exists()]
    if not missing:
        return None
    return (
        f"{SKIP_REASON}: {', '.join(missing)} not found "
        "(set NECTAR_REALDATA / NECTAR_SHARED; see CONTRIBUTING.md)"
    )


def files(pattern: str, under: str = "") -> list[Path]:
    """Sorted real files under ``REALDATA/under`` matching ``pattern`` (hidden parts left out);
    [] when the folder is absent."""
    base = REALDATA / under
    if not base.is_dir():
        return []
    return sorted(
        p
        for p in base.glob(pattern)
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(base).parts)
    )


def or_absent(values: list[Any]) -> list[Any]:
    """Parameters for a test over real files: ``values``, or one placeholder when absent.

    The placeholder keeps the test collected (the same on every xdist worker) so the fixture
    skips it with the real-data reason, rather than it vanishing as an empty parameter set.
    """
    return values if REALDATA.is_dir() else [pytest.param(ABSENT, id=ABSENT)]


def names(pattern: str, under: str = "") -> list[Any]:
    """Paths relative to ``REALDATA/under`` matching ``pattern``, or the absent placeholder."""
    base = REALDATA / under
    return or_absent([str(p.relative_to(base)) for p in files(pattern, under)])


#: The real-data folders holding trace files (the others hold rules files).
TRACE_FOLDERS: Final = ("otlp", "jaeger", "zipkin", "honeycomb")


def corpus_names() -> list[Any]:
    """Every real trace file, relative to ``REALDATA`` (``otlp/oteltui-test_data.json``...)."""
    found = names("*/*.json")
    return [n for n in found if not isinstance(n, str) or n.split("/")[0] in TRACE_FOLDERS]


def load_cases() -> list[dict[str, Any]]:
    """Refinery's transcribed test cases, or [] when absent (tests using them need the fixture)."""
    if not CASES_FILE.is_file():
        return []
    cases: list[dict[str, Any]] = json.loads(CASES_FILE.read_text(encoding="utf-8"))
    return cases


def case_params() -> list[Any]:
    """``load_cases()`` as parameters named by case, or the absent placeholder."""
    cases = load_cases()
    if not cases:
        return [pytest.param(ABSENT, id=ABSENT)]
    return [pytest.param(c, id=c["name"]) for c in cases]
