"""The prover: safety properties of compiled Refinery rules, on a corpus and for all traces.

``prove(target, corpus=...)`` is the entry point (:mod:`.engine`); :mod:`.properties` names
the properties and verdicts; :mod:`.report` renders them.
"""

from __future__ import annotations

from pytest_nectar.prover.engine import ProofReport, load_target, prove
from pytest_nectar.prover.properties import (
    ALL_PROPERTIES,
    MEANINGS,
    PropertyResult,
    SpanMatch,
    Verdict,
    Witness,
)

__all__ = [
    "ALL_PROPERTIES",
    "MEANINGS",
    "ProofReport",
    "PropertyResult",
    "SpanMatch",
    "Verdict",
    "Witness",
    "load_target",
    "prove",
]
