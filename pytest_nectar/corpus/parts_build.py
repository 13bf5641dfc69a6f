"""Building a corpus partitioned by trace id, with bounded memory (``parts.py`` reads it).

A day of traffic does not fit in memory, and a trace's spans arrive spread over the whole
input.  The build therefore spills the input to disk by trace id first (``parts_spill.py``:
a batch of parsed chunks at a time, each row routed by a CRC-32 of its UTF-8 trace id into
one of ``buckets`` files, with its sequence number in the whole input).  Contiguous bucket
ranges then become partitions of about ``part_rows`` rows, and each one is assembled from
its spilled rows by the same :func:`~.assemble.assemble` as an in-memory corpus (ordered by
those sequence numbers), so roots ("last root wins"), times, weights and must-keep labels
come from the one code path, and every trace lands whole in one partition with its rows in
arrival order.  Peak memory: a batch (at most a quarter partition), then one partition
being assembled (about 1.3 KB a row: 2,124,504 OTLP spans in partitions of 200,000 rows
peaked at 570 MB, against 2.65 GB for ``load_corpus``; ``benchmarks/bench_parts_build.py``).

Layout of the folder (written to a temporary sibling, renamed into place whole)::

    manifest.json        version, digest, part_rows, partitions, skipped records, sources,
                         formats, must-keep ids matching no trace, per-field kind counts
    part-00000/          an ordinary store (``store.py``) of the partition's traces, plus
        order.npy        each trace's first-appearance sequence number in the input (int64,
                         ascending): sorting all of them rebuilds the corpus order exactly
        end.npy          each trace's last event time (float64; NaN: none)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from pytest_nectar.corpus.assemble import assemble
from pytest_nectar.corpus.context import FMT_NAMES
from pytest_nectar.corpus.labels import read_must_keep_file
from pytest_nectar.corpus.load import CorpusRequest, labelled_corpus
from pytest_nectar.corpus.partial import PartialTable
from pytest_nectar.corpus.parts_spill import BATCH_ROWS, DEFAULT_BUCKETS, Spill, spill_inputs, touch
from pytest_nectar.corpus.store import save_store
from pytest_nectar.corpus.table import KIND_NAMES, Corpus, Skipped

__all__ = [
    "END_FILE",
    "MANIFEST",
    "ORDER_FILE",
    "PARTS_VERSION",
    "part_digest",
    "part_files",
    "part_name",
    "trace_end",
    "write_manifest",
    "write_part",
    "write_parted",
]

PARTS_VERSION: Final = "nectar-parts-1"
MANIFEST: Final = "manifest.json"
ORDER_FILE: Final = "order.npy"
END_FILE: Final = "end.npy"


def part_name(k: int) -> str:
    return f"part-{k:05d}"


def part_digest(digest: str, k: int) -> str:
    """The digest a partition's store carries: the corpus's, and which part it is."""
    return f"{digest}/{part_name(k)}"


def trace_end(corpus: Corpus) -> npt.NDArray[np.float64]:
    """Each trace's last event time (NaN when none of its rows has a time)."""
    if corpus.n_traces == 0:
        return np.zeros(0, dtype=np.float64)
    end: npt.NDArray[np.float64] = np.fmax.reduceat(corpus.row_time, corpus.trace_offsets[:-1])
    return end


def write_part(
    root: Path, k: int, corpus: Corpus, first_seq: npt.NDArray[np.int64]
) -> dict[str, Any]:
    """Write partition ``k`` into ``root``; returns its manifest entry."""
    directory = root / part_name(k)
    save_store(corpus, directory)
    kinds = {name: column.kind_counts() for name, column in corpus.columns.items()}
    return part_files(directory, first_seq, trace_end(corpus), corpus.n_rows, kinds)


def part_files(
    directory: Path,
    first_seq: npt.NDArray[np.int64],
    end: npt.NDArray[np.float64],
    n_rows: int,
    kinds: Mapping[str, Mapping[str, int]],
) -> dict[str, Any]:
    """Beside a partition's store (``directory``): each trace's first-appearance sequence
    number and last event time; returns the partition's manifest entry."""
    np.save(directory / ORDER_FILE, np.ascontiguousarray(first_seq, dtype=np.int64))
    np.save(directory / END_FILE, np.ascontiguousarray(end, dtype=np.float64))
    return {"name": directory.name, "traces": len(first_seq), "rows": n_rows, "kinds": kinds}


def write_manifest(
    root: Path,
    *,
    digest: str,
    part_rows: int,
    parts: Sequence[Mapping[str, Any]],
    skipped: Sequence[Skipped],
    sources: Sequence[str],
    formats: Mapping[str, int],
    must_keep_unmatched: Sequence[str],
) -> None:
    """The manifest of the partitions written into ``root`` (per-field kinds summed)."""
    field_kinds: dict[str, dict[str, int]] = {}
    for part in parts:
        for name, counts in part["kinds"].items():
            total = field_kinds.setdefault(name, {})
            for kind, count in counts.items():
                total[kind] = total.get(kind, 0) + count
    order = list(KIND_NAMES.values())
    index = {path: i for i, path in enumerate(sources)}
    manifest = {
        "version": PARTS_VERSION,
        "digest": digest,
        "part_rows": part_rows,
        "parts": [{k: v for k, v in p.items() if k != "kinds"} for p in parts],
        "skipped": [[index.get(s.path, -1), s.path, s.record, s.reason] for s in skipped],
        "sources": list(sources),
        "formats": dict(formats),
        "must_keep_unmatched": list(must_keep_unmatched),
        "field_kinds": {
            name: dict(sorted(field_kinds[name].items(), key=lambda kv: order.index(kv[0])))
            for name in sorted(field_kinds)
        },
    }
    (root / MANIFEST).write_text(json.dumps(manifest, sort_keys=True), encoding="utf-8")


def publish(tmp: Path, folder: Path) -> None:
    """Rename the finished ``tmp`` to ``folder`` (another writer's whole copy wins a race)."""
    try:
        os.rename(tmp, folder)
    except OSError:
        if not (folder / MANIFEST).exists():
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def write_parted(
    request: CorpusRequest,
    digest: str,
    folder: Path,
    *,
    part_rows: int,
    chunk_bytes: int | None = None,
    buckets: int = DEFAULT_BUCKETS,
    batch_rows: int | None = None,
    workers: int = 0,
    spill_dir: Path | None = None,
) -> None:
    """Read ``request``'s inputs and write them partitioned by trace id into ``folder``;
    ``workers`` (0 = all cores) parse big JSON Lines files in parallel; ``batch_rows``
    (default: a quarter partition, at most ``BATCH_ROWS``) are spilled at once."""
    if batch_rows is None:
        batch_rows = min(BATCH_ROWS, max(1, part_rows // 4))
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = spill_dir if spill_dir is not None else folder.parent
    scratch.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-parts-", dir=folder.parent))
    spill_root = Path(tempfile.mkdtemp(prefix=".tmp-spill-", dir=scratch))
    try:
        spill = Spill(spill_root, buckets)
        try:
            skipped = spill_inputs(
                request, spill, chunk_bytes, batch_rows, workers, keep_alive=(tmp, spill_root)
            )
        finally:
            spill.close()
        spill.split_big(part_rows)
        keep_ids = (
            [tid for tid, _, _ in read_must_keep_file(request.must_keep_file)]
            if request.must_keep_file is not None
            else []
        )
        present: set[str] = set()
        parts = []
        formats: dict[str, int] = {}
        for k, group in enumerate(_groups(spill.rows, part_rows)):
            corpus, first_seq = _assemble_part(spill, group, request, part_digest(digest, k))
            present.update(set(keep_ids).intersection(corpus.trace_ids))
            for name, count in corpus.formats.items():
                formats[name] = formats.get(name, 0) + count
            parts.append(write_part(tmp, k, corpus, first_seq))
            del corpus
            touch(tmp, spill_root)
        write_manifest(
            tmp,
            digest=digest,
            part_rows=part_rows,
            parts=parts,
            skipped=skipped,
            sources=request.displays,
            formats={n: formats[n] for n in FMT_NAMES.values() if n in formats},
            must_keep_unmatched=[tid for tid in keep_ids if tid not in present],
        )
        publish(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(spill_root, ignore_errors=True)


def _groups(bucket_rows: Sequence[int], part_rows: int) -> list[list[int]]:
    """Contiguous runs of non-empty buckets of about ``part_rows`` rows each."""
    groups: list[list[int]] = []
    current: list[int] = []
    size = 0
    for b, rows in enumerate(bucket_rows):
        if not rows:
            continue
        if current and size + rows > part_rows:
            groups.append(current)
            current, size = [], 0
        current.append(b)
        size += rows
    if current:
        groups.append(current)
    return groups


def _assemble_part(
    spill: Spill, group: list[int], request: CorpusRequest, digest: str
) -> tuple[Corpus, npt.NDArray[np.int64]]:
    """One partition from its buckets' pieces: ``assemble`` in input order, then labels."""
    seqs: list[npt.NDArray[np.int64]] = []
    pieces: list[PartialTable] = []
    for bucket in group:
        for seq, piece in spill.pieces(bucket):
            seqs.append(seq)
            pieces.append(piece)
    arrival = np.concatenate(seqs)
    done = assemble((("", p) for p in pieces), scale=request.scale, arrival=arrival)
    del pieces
    # A partition's part of the corpus: the records it skipped and the must-keep ids no
    # trace has are the whole corpus's (the manifest), not a partition's.
    corpus = replace(
        labelled_corpus(
            done,
            digest,
            request.displays,
            must_keep_file=request.must_keep_file,
            must_keep_attribute=request.must_keep_attribute,
        ),
        skipped=(),
        must_keep_unmatched=(),
    )
    first_seq = arrival[done.source_row[done.trace_offsets[:-1]]]
    return corpus, first_seq
