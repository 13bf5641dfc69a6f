"""What ``nectar corpus synth`` was asked for, checked, and the corpus text it makes.

Every bad option is a :class:`UsageError` naming the option (exit 2), raised before any
output is written.
"""

from __future__ import annotations

import math
import re
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from pytest_nectar.errors import Position, UsageError
from pytest_nectar.synth.generate import PROFILES, generate
from pytest_nectar.synth.model import Model
from pytest_nectar.synth.shop import shop_model
from pytest_nectar.synth.writers import FORMATS, write
from pytest_nectar.vopr.rng import format_seed, parse_seed

__all__ = [
    "DEFAULT_SEED",
    "DEFAULT_START",
    "MODELS",
    "SynthRequest",
    "parse_duration",
    "parse_start",
    "synth_command",
]

MODELS: Final = ("shop", "learn")
DEFAULT_SEED: Final = 1
DEFAULT_START: Final = "2026-01-05T12:00:00Z"  # a Monday, noon UTC: a fixed default
MAX_TRACES: Final = 10_000_000
_UNITS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION: Final = re.compile(r"(?P<n>[0-9]+(?:\.[0-9]+)?)(?P<unit>ms|s|m|h|d)?")


def parse_duration(text: str, option: str = "--duration") -> float:
    """Seconds from ``90``, ``90s``, ``15m``, ``2h`` or ``1d``."""
    match = _DURATION.fullmatch(text.strip())
    seconds = float(match["n"]) * _UNITS[match["unit"] or "s"] if match else math.nan
    if not math.isfinite(seconds) or seconds <= 0 or seconds > 366 * 86400:
        raise UsageError(
            "invalid duration",
            position=Position(option),
            got=text,
            hint="a positive number with a unit, e.g. 90s, 15m, 2h or 1d (at most a year)",
        )
    return seconds


def parse_start(text: str) -> int:
    """Unix nanoseconds (whole seconds) from an RFC 3339 time such as 2026-01-05T12:00:00Z."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise UsageError(
            "invalid start time",
            position=Position("--start"),
            got=text,
            hint="an RFC 3339 time with a zone, e.g. 2026-01-05T12:00:00Z",
        )
    return int(when.astimezone(UTC).timestamp()) * 1_000_000_000


@dataclass(frozen=True, slots=True)
class SynthRequest:
    """The options of one ``nectar corpus synth`` run, as given on the command line."""

    model: str = "shop"
    seed: str | None = None
    traces: int | None = None
    rate: float | None = None
    duration: str | None = None
    profile: str = "steady"
    fmt: str = "otlp-jsonl"
    start: str = DEFAULT_START
    learn_from: tuple[str, ...] = ()

    def checked(self) -> tuple[int, float]:
        """The seed and duration in seconds, or a usage error for the first bad option."""
        if self.model not in MODELS:
            raise UsageError(
                "unknown model profile",
                position=Position("--profile"),
                got=self.model,
                hint="use shop or learn",
            )
        if self.model == "learn" and not self.learn_from:
            raise UsageError(
                "the learn profile needs a corpus",
                position=Position("--profile"),
                got="learn",
                hint="add --learn-from PATH (trace files or a folder)",
            )
        if self.model != "learn" and self.learn_from:
            raise UsageError(
                "--learn-from is only for the learn profile",
                position=Position("--learn-from"),
                got=self.learn_from[0],
                hint="add --profile learn",
            )
        if self.fmt not in FORMATS:
            raise UsageError(
                "unknown output format",
                position=Position("--format"),
                got=self.fmt,
                hint="use one of " + ", ".join(FORMATS),
            )
        if self.profile not in PROFILES:
            raise UsageError(
                "unknown time profile",
                position=Position("--time-profile"),
                got=self.profile,
                hint="use one of " + ", ".join(PROFILES),
            )
        if self.traces is not None and self.rate is not None:
            raise UsageError(
                "--traces and --rate exclude each other",
                position=Position("--traces"),
                got=self.traces,
                hint="give a number of traces, or a rate and a --duration",
            )
        if self.traces is not None and not 0 < self.traces <= MAX_TRACES:
            raise UsageError(
                "number of traces out of range",
                position=Position("--traces"),
                got=self.traces,
                hint=f"a whole number from 1 to {MAX_TRACES:,}",
            )
        if self.rate is not None and not (math.isfinite(self.rate) and 0 < self.rate <= 1e6):
            raise UsageError(
                "rate out of range",
                position=Position("--rate"),
                got=self.rate,
                hint="traces per second, more than 0 and at most 1000000",
            )
        if self.rate is not None and self.duration is None:
            raise UsageError(
                "--rate needs --duration",
                position=Position("--rate"),
                got=self.rate,
                hint="add e.g. --duration 10m",
            )
        seed = DEFAULT_SEED if self.seed is None else parse_seed(self.seed)
        duration = 60.0 if self.duration is None else parse_duration(self.duration)
        parse_start(self.start)
        return seed, duration

    def command(self, output: str | None = None) -> str:
        """The command line that makes this corpus again (the seed spelled out)."""
        seed, _ = self.checked()
        words = ["nectar", "corpus", "synth", "--profile", self.model]
        for path in self.learn_from:
            words += ["--learn-from", path]
        words += ["--seed", format_seed(seed), "--format", self.fmt]
        if self.traces is not None:
            words += ["--traces", str(self.traces)]
        if self.rate is not None:
            words += ["--rate", repr(self.rate)]
        if self.duration is not None:
            words += ["--duration", self.duration]
        if self.profile != "steady":
            words += ["--time-profile", self.profile]
        if self.start != DEFAULT_START:
            words += ["--start", self.start]
        if output is not None:
            words += ["-o", output]
        return shlex.join(words)


def _model(request: SynthRequest) -> Model:
    if request.model == "learn":
        from pytest_nectar.corpus import load_corpus
        from pytest_nectar.synth.learn import learn_model

        return learn_model(load_corpus(list(request.learn_from)))
    return shop_model()


def synth_command(request: SynthRequest) -> tuple[str, Model, int]:
    """The corpus text, the model it came from and the seed, for a checked request."""
    seed, duration = request.checked()
    model = _model(request)
    traces = list(
        generate(
            model,
            seed,
            traces=request.traces,
            rate=request.rate,
            duration=duration,
            profile=request.profile,
            start_ns=parse_start(request.start),
        )
    )
    if not traces:  # an empty corpus would prove nothing: say why instead
        rate = model.rate if request.rate is None else request.rate
        raise UsageError(
            "no trace arrives in the requested time",
            position=Position("--duration"),
            got=f"{rate:.6g} traces/s for {duration:g} s",
            hint="give --traces N, a higher --rate or a longer --duration",
        )
    return write(request.fmt, traces, model), model, seed
