"""A partitioned corpus of any size (100,000,000 spans: a day of traffic) for the benchmarks.

Run: ``python benchmarks/scale_corpus.py FOLDER [--spans N] [--seed S] [--part-rows N]``
(default 100,000,000 spans in partitions of 1,000,000 rows; FOLDER must not exist).

A seeded synthetic corpus of the built-in shop (``nectar corpus synth``, about
``--base-spans`` spans, 1 % of its traces labelled must-keep) is loaded once with
``load_corpus``, then tiled: copy ``c`` gets fresh trace ids (``<seed><copy><trace>``, 32
hex digits, the same for a seed whatever the partitioning) and its times shifted by ``c``
base windows, so the copies fill a day one after another.  Weights, must-keep labels,
errors and every attribute are those of the base trace.  Copy ``c`` goes to partition
``c % P``: every partition spans the whole day, as partitions by trace id do.  Each
partition is written directly in the store format, array by array and copy by copy
(``store.save_pieces``), so memory holds the base and one copy, never a partition.  The
corpus order is copy after copy, base order inside a copy; its digest depends on the seed,
the span count and the base, not on the partitioning, so the same corpus cut in fewer,
larger partitions must give the same verdicts.

Before writing, the bytes per row of the base store (sparse: the zero arrays of string
columns take no disk) are printed with the estimate for the whole corpus, and a folder
whose disk cannot hold it is refused.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pytest_nectar.corpus.load import load_corpus
from pytest_nectar.corpus.partition import slice_corpus
from pytest_nectar.corpus.parts import PartedCorpus, open_parted
from pytest_nectar.corpus.parts_build import (
    part_digest,
    part_files,
    part_name,
    publish,
    trace_end,
    write_manifest,
)
from pytest_nectar.corpus.store import Pieces, StoreContent, save_pieces, save_store
from pytest_nectar.corpus.table import KIND_STRING, Corpus, StringPool
from pytest_nectar.synth import shop_model, synthesize

DAY_S = 86_400.0
START_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
#: The fields that decide a row's trace (assemble.py): recoded to the copy's trace ids.
TRACE_ID_FIELDS = ("meta.trace_id", "trace.trace_id", "traceId")
GENERATOR = "nectar-scale-1"


def base_corpus(seed: int, spans: int, base_spans: int, scratch: Path) -> tuple[Corpus, float]:
    """The seeded shop corpus a day is tiled from, and the seconds between two copies."""
    target = max(1, min(spans, base_spans))
    window = DAY_S * target / max(spans, 1)
    text = synthesize(
        shop_model(), seed, traces=max(1, target // 10), duration=window, start_ns=START_NS
    )
    path = scratch / "base.jsonl"
    path.write_text(text, encoding="utf-8")
    del text
    corpus = load_corpus(path, cache=False, workers=1)
    path.unlink()
    rng = np.random.default_rng(seed)
    keep = rng.random(corpus.n_traces) < 0.01
    reasons = {int(t): "scale corpus: sampled must-keep" for t in np.flatnonzero(keep)}
    # Copy c starts c strides in: the copies of a corpus of ``spans`` rows fill one day.
    stride = DAY_S * corpus.n_rows / max(spans, corpus.n_rows)
    return replace(corpus, must_keep=keep, must_keep_reasons=reasons), stride


def id_pool(prefix: str, copies: list[tuple[int, int]]) -> StringPool:
    """The trace ids of the copies ``(copy, traces)``: ``<prefix><copy><trace>``, 32 hex
    digits each, as one dictionary (built as bytes: no Python string per trace)."""
    text = "".join(f"{prefix}{c:08x}{t:016x}" for c, n in copies for t in range(n)).encode("ascii")
    count = sum(n for _, n in copies)
    return StringPool(text, np.arange(count + 1, dtype=np.int64) * 32)


def _column_pieces(
    name: str,
    tiles: list[tuple[int, Corpus]],
    row_base: npt.NDArray[np.int64],
    trace_base: npt.NDArray[np.int64],
) -> dict[str, Pieces]:
    """Column ``name`` of the tiles, piece by piece; a trace-id field names the row's own
    trace (its code is the trace's index in the partition's id dictionary)."""

    def pieces(part: str) -> Pieces:
        def each() -> Iterator[npt.NDArray[Any]]:
            for i, (_, t) in enumerate(tiles):
                column = t.columns[name]
                if part == "rows":
                    yield column.rows + row_base[i]
                elif part == "codes" and name in TRACE_ID_FIELDS:
                    own = t.row_trace[column.rows] + np.int32(trace_base[i])
                    yield np.where(column.kind == KIND_STRING, own, -1).astype(np.int32)
                else:
                    yield getattr(column, part)

        return each

    return {part: pieces(part) for part in ("rows", "kind", "ints", "floats", "codes")}


def write_tiles(
    directory: Path,
    base: Corpus,
    copies: list[tuple[int, int]],
    *,
    prefix: str,
    stride: float,
    digest: str,
    sources: tuple[str, ...],
) -> dict[str, Any]:
    """Write the copies ``(copy, traces of the base)`` as one partition's store, copy by
    copy (memory holds the base, never the partition); returns its manifest entry.

    Copy ``c`` has fresh trace ids, times shifted by ``c * stride``; its traces come in the
    corpus order copy after copy (sequence numbers ``c * base rows + first row``)."""
    subs = {n: slice_corpus(base, 0, n) for n in {n for _, n in copies}}
    tiles = [(c, subs[n]) for c, n in copies]
    row_base = np.concatenate([[0], np.cumsum([t.n_rows for _, t in tiles])]).astype(np.int64)
    trace_base = np.concatenate([[0], np.cumsum([t.n_traces for _, t in tiles])]).astype(np.int64)
    ids = id_pool(prefix, copies)

    def per_tile(make: Callable[[int, int, Corpus], npt.NDArray[Any]]) -> Pieces:
        return lambda: (make(i, c, t) for i, (c, t) in enumerate(tiles))

    arrays: dict[str, Pieces] = {
        "trace_offsets": lambda: itertools.chain(
            (t.trace_offsets[:-1] + row_base[i] for i, (_, t) in enumerate(tiles)),
            (row_base[-1:],),
        ),
        "row_trace": per_tile(lambda i, c, t: t.row_trace + np.int32(trace_base[i])),
        "is_root": per_tile(lambda i, c, t: t.is_root),
        "root_row": per_tile(
            lambda i, c, t: np.where(t.root_row >= 0, t.root_row + row_base[i], -1)
        ),
        "row_time": per_tile(lambda i, c, t: t.row_time + c * stride),
        "trace_start": per_tile(lambda i, c, t: t.trace_start + c * stride),
        "weight": per_tile(lambda i, c, t: t.weight),
        "must_keep": per_tile(lambda i, c, t: t.must_keep),
    }
    columns: dict[str, tuple[Mapping[str, Pieces], StringPool, Mapping[int, object]]] = {}
    kinds: dict[str, dict[str, int]] = {}
    for name in base.columns:
        parts = _column_pieces(name, tiles, row_base, trace_base)
        strings = ids if name in TRACE_ID_FIELDS else base.columns[name].strings
        columns[name] = (parts, strings, {})
        total: dict[str, int] = {}
        for _, t in tiles:
            for kind, count in t.columns[name].kind_counts().items():
                total[kind] = total.get(kind, 0) + count
        kinds[name] = total
    reasons: dict[int, str] = {}
    for i, (_, t) in enumerate(tiles):
        reasons.update({int(trace_base[i]) + k: v for k, v in t.must_keep_reasons.items()})
    save_pieces(
        StoreContent(
            digest=digest,
            arrays=arrays,
            trace_ids=ids,
            columns=columns,
            must_keep_reasons=reasons,
            sources=sources,
            formats={"otlp": int(row_base[-1])},
        ),
        directory,
    )
    base_rows = base.n_rows
    first_seq = np.concatenate([c * base_rows + t.trace_offsets[:-1] for c, t in tiles])
    end = np.concatenate([trace_end(t) + c * stride for c, t in tiles])
    return part_files(directory, first_seq.astype(np.int64), end, int(row_base[-1]), kinds)


def _disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file())


def generate_parted(
    folder: Path,
    spans: int,
    seed: int,
    part_rows: int,
    *,
    base_spans: int = 150_000,
    log: bool = True,
) -> PartedCorpus:
    """Write a partitioned corpus of (at most) ``spans`` rows into ``folder`` (see the module)."""
    folder = Path(folder)
    if folder.exists():
        raise SystemExit(f"{folder}: exists; give a new folder")
    folder.parent.mkdir(parents=True, exist_ok=True)
    say = print if log else (lambda *_: None)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-scale-", dir=folder.parent))
    try:
        t0 = time.perf_counter()
        base, window = base_corpus(seed, spans, base_spans, tmp)
        probe = tmp / "probe-store"
        save_store(base, probe)
        # A partition writes the base's string dictionaries once, whatever its copies.
        pools = sum(len(c.strings.buffer) + c.strings.offsets.nbytes for c in base.columns.values())
        rows_per_part = min(spans, max(part_rows, base.n_rows))
        per_row = (_disk_bytes(probe) - pools) / max(base.n_rows, 1) + pools / rows_per_part
        shutil.rmtree(probe)
        say(
            f"base: {base.n_traces:,} traces, {base.n_rows:,} spans over {window:,.1f} s "
            f"({time.perf_counter() - t0:.1f} s); ~{per_row:,.0f} bytes/row on disk: "
            f"~{per_row * 1e6 / 1e9:.2f} GB per 1M rows, ~{per_row * spans / 1e9:.1f} GB in all"
        )
        free = shutil.disk_usage(folder.parent).free
        if per_row * spans * 1.05 > free:
            raise SystemExit(
                f"{folder.parent}: {free / 1e9:.1f} GB free, the corpus needs "
                f"~{per_row * spans / 1e9:.1f} GB"
            )
        # Whole copies, then the traces of a last partial copy that fit in what remains.
        full, rest = divmod(spans, base.n_rows)
        copies = [(c, base.n_traces) for c in range(full)]
        if rest:
            tail = int(np.searchsorted(base.trace_offsets, rest, side="right")) - 1
            if tail > 0:
                copies.append((full, tail))
        per_part = max(1, part_rows // base.n_rows)
        n_parts = max(1, math.ceil(len(copies) / per_part))
        digest = hashlib.sha256(
            json.dumps(
                {"generator": GENERATOR, "seed": seed, "spans": spans, "base": base.digest},
                sort_keys=True,
            ).encode()
        ).hexdigest()
        prefix = hashlib.blake2b(str(seed).encode(), digest_size=4).hexdigest()
        sources = (f"{GENERATOR}:seed={seed}",)
        parts = []
        for k in range(n_parts):
            t1 = time.perf_counter()
            mine = copies[k::n_parts]
            entry = write_tiles(
                tmp / part_name(k),
                base,
                mine,
                prefix=prefix,
                stride=window,
                digest=part_digest(digest, k),
                sources=sources,
            )
            parts.append(entry)
            say(
                f"partition {k + 1}/{n_parts}: {entry['rows']:,} rows, "
                f"{entry['traces']:,} traces ({time.perf_counter() - t1:.1f} s)"
            )
        write_manifest(
            tmp,
            digest=digest,
            part_rows=part_rows,
            parts=parts,
            skipped=(),
            sources=sources,
            formats={"otlp": sum(int(p["rows"]) for p in parts)},
            must_keep_unmatched=(),
        )
        (tmp / "base.jsonl").unlink(missing_ok=True)
        publish(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    parted = open_parted(folder)
    say(
        f"{parted.n_rows:,} spans, {parted.n_traces:,} traces in {parted.n_parts} partitions, "
        f"{_disk_bytes(folder) / 1e9:.2f} GB on disk "
        f"({_disk_bytes(folder) / max(parted.n_rows, 1) * 1e6 / 1e9:.3f} GB per 1M rows), "
        f"{time.perf_counter() - t0:.1f} s"
    )
    return parted


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="where to write (must not exist)")
    parser.add_argument("--spans", type=int, default=100_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--part-rows", type=int, default=1_000_000)
    parser.add_argument("--base-spans", type=int, default=150_000)
    args = parser.parse_args(argv)
    generate_parted(args.folder, args.spans, args.seed, args.part_rows, base_spans=args.base_spans)


if __name__ == "__main__":
    sys.exit(main())
