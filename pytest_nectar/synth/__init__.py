"""Synthetic trace corpora: realistic traffic from a model and a seed (``nectar corpus synth``).

``synthesize(model, seed, fmt=...)`` returns the text of a corpus file.  Models: the built-in
``shop`` (:func:`shop_model`) or one learned from a corpus (:func:`learn_model`), so a team
can share a synthetic twin of its traffic instead of the traffic.
"""

from __future__ import annotations

from pytest_nectar.synth.generate import PROFILES, SynSpan, SynTrace, generate
from pytest_nectar.synth.model import Model
from pytest_nectar.synth.shop import shop_model
from pytest_nectar.synth.writers import FORMATS, write

__all__ = [
    "FORMATS",
    "PROFILES",
    "Model",
    "SynSpan",
    "SynTrace",
    "generate",
    "shop_model",
    "synthesize",
    "write",
]


def synthesize(
    model: Model,
    seed: int,
    *,
    fmt: str = "otlp-jsonl",
    traces: int | None = None,
    rate: float | None = None,
    duration: float = 60.0,
    profile: str = "steady",
    start_ns: int = 0,
) -> str:
    """The text of a synthetic corpus file (see :func:`generate` for the options)."""
    return write(
        fmt,
        generate(
            model,
            seed,
            traces=traces,
            rate=rate,
            duration=duration,
            profile=profile,
            start_ns=start_ns,
        ),
        model,
    )
