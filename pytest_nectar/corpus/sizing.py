"""Whether a corpus is held in memory or stored in partitions, decided before reading it.

A corpus whose input holds more events than one partition may (``partition_rows``) is
read into partitions by trace id (:mod:`.parts`), so that no command ever needs all its
rows in memory; a smaller one is one columnar corpus, as always.  The number of events is
not known before reading, so it is estimated from the input's size on disk, on the side of
more events: OTLP JSON spends 400 to 1,000 bytes on a span, Jaeger and Zipkin JSON as many,
protobuf 150 to 300, and :data:`BYTES_PER_EVENT` is below all but the leanest protobuf;
compressed or columnar files are counted at :data:`COMPRESSION` times their size.  Both
ways give the same traces, decisions and verdicts; only memory and the store's layout differ.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Final, Unpack

from pytest_nectar.corpus.load import Reading, load_corpus, resolve_inputs
from pytest_nectar.corpus.parts import PartedCorpus, load_parted
from pytest_nectar.corpus.table import Corpus

__all__ = ["BYTES_PER_EVENT", "COMPRESSION", "estimated_events", "open_corpus"]

BYTES_PER_EVENT: Final = 200
COMPRESSION: Final = 10
_PACKED: Final = (".gz", ".zst", ".parquet", ".arrow", ".feather")


def estimated_events(paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str]) -> int:
    """An upper estimate of the events the input files hold (from their sizes).

    Raises:
        CorpusError: a path does not exist, or a folder holds no trace files.
    """
    total = 0
    given = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    for path, _ in resolve_inputs(given):
        size = path.stat().st_size
        total += size * COMPRESSION if path.suffix.lower() in _PACKED else size
    return total // BYTES_PER_EVENT


def open_corpus(
    paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    *,
    partition_rows: int | None,
    cache_dir: str | os.PathLike[str] | None = None,
    workers: int = 0,
    **reading: Unpack[Reading],
) -> Corpus | PartedCorpus:
    """The corpus of ``paths``: in memory when it fits one partition (or ``partition_rows``
    is None), else partitioned.

    ``reading`` are :func:`~.load.load_corpus`'s options (``skip_bad``, ``must_keep_file``...).

    Raises:
        CorpusError: what :func:`~.load.load_corpus` raises.
    """
    if partition_rows is None or estimated_events(paths) <= partition_rows:
        return load_corpus(paths, cache_dir=cache_dir, workers=workers, **reading)
    return load_parted(
        paths, part_rows=partition_rows, cache_dir=cache_dir, workers=workers, **reading
    )
