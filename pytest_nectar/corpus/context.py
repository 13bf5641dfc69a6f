"""What a reader needs while it reads: where rows go, and what to do with a bad record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from pytest_nectar.corpus.buffer import RowBuffer
from pytest_nectar.corpus.husky import BadRecord

__all__ = [
    "FMT_HONEYCOMB",
    "FMT_JAEGER",
    "FMT_NAMES",
    "FMT_OTLP",
    "FMT_TABLE",
    "FMT_ZIPKIN",
    "FatalRecord",
    "ReadContext",
]

FMT_OTLP: Final = 1
FMT_JAEGER: Final = 2
FMT_ZIPKIN: Final = 3
FMT_HONEYCOMB: Final = 4
FMT_TABLE: Final = 5
FMT_NAMES: Final[dict[int, str]] = {
    FMT_OTLP: "otlp",
    FMT_JAEGER: "jaeger",
    FMT_ZIPKIN: "zipkin",
    FMT_HONEYCOMB: "honeycomb",
    FMT_TABLE: "table",
}


class FatalRecord(Exception):
    """A bad record while skipping is off: becomes a located CorpusError."""

    def __init__(self, record: int, what: str, got: object) -> None:
        super().__init__(what)
        self.record = record
        self.what = what
        self.got = got


class ReadContext:
    """Rows of the current record go to ``buffer``; bad units are skipped or fatal."""

    def __init__(self, buffer: RowBuffer, *, skip_bad: bool, json_ints: bool) -> None:
        self.buffer = buffer
        self.skip_bad = skip_bad
        self.json_ints = json_ints
        self.record = 0
        self.fmt = FMT_OTLP

    def emit(self, fields: dict[str, object], time: float, rate: float) -> None:
        self.buffer.add(fields, time, rate, self.fmt, self.record)

    def skip(self, reason: str) -> None:
        """Count the current record (or part of it) as skipped, with a reason."""
        self.buffer.skipped.append((self.record, reason))

    def guard(self, where: str, read: Callable[..., None], *args: Any) -> None:
        """Run ``read``; if the unit is bad, drop its rows and skip it, or stop with an error."""
        mark = self.buffer.mark()
        try:
            read(*args)
        except BadRecord as err:
            self.buffer.rollback(mark)
            what = f"{where}: {err.what}" if where else err.what
            if not self.skip_bad:
                raise FatalRecord(self.record, what, err.got) from None
            self.skip(f"{what}; got {_short(err.got)}")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
