"""JSON: every number the other formats show, unformatted, in one deterministic document.

``{"format": "nectar-explain", "version": 1, "reports": [...]}`` (one entry per policy or
rules file) and ``{"format": "nectar-diff", "version": 1, "diff": {...}}``.  Keys are
sorted and floats carry 12 significant digits, so the same inputs give the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from pytest_nectar.report.document import DiffReport, ExplainReport

__all__ = ["FORMAT_VERSION", "diff_json", "explain_json"]

FORMAT_VERSION: Final = 1


def _dump(doc: dict[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, indent=1, allow_nan=False) + "\n"


def explain_json(reports: Sequence[ExplainReport]) -> str:
    return _dump(
        {
            "format": "nectar-explain",
            "version": FORMAT_VERSION,
            "reports": [r.to_json() for r in reports],
        }
    )


def diff_json(report: DiffReport) -> str:
    return _dump({"format": "nectar-diff", "version": FORMAT_VERSION, "diff": report.to_json()})
