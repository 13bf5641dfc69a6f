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
partition is written directly in the store format (``parts_build.write_part``), so memory
holds the base and one partition (about ``--part-rows`` rows), never the corpus.  The
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
import json
import math
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pytest_nectar.corpus.load import load_corpus
from pytest_nectar.corpus.partition import slice_corpus
from pytest_nectar.corpus.parts import PartedCorpus, open_parted
from pytest_nectar.corpus.parts_build import (
    part_digest,
    publish,
    write_manifest,
    write_part,
)
from pytest_nectar.corpus.store import save_store
from pytest_nectar.corpus.table import KIND_STRING, Column, Corpus, StringPool
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


def trace_ids(prefix: str, copy: int, n: int) -> list[str]:
    head = f"{prefix}{copy:08x}"
    return [f"{head}{t:016x}" for t in range(n)]


def tile(
    base: Corpus,
    copies: list[tuple[int, int]],
    *,
    prefix: str,
    window: float,
    digest: str,
    sources: tuple[str, ...],
) -> tuple[Corpus, npt.NDArray[np.int64]]:
    """The copies ``(copy, traces of the base)`` as one corpus, and each trace's sequence
    number in the whole corpus (copy-major, as if the copies arrived one after another)."""
    pieces = [slice_corpus(base, 0, n) for _, n in copies]
    n_rows = [p.n_rows for p in pieces]
    n_traces = [p.n_traces for p in pieces]
    row_base = np.concatenate([[0], np.cumsum(n_rows)]).astype(np.int64)
    trace_base = np.concatenate([[0], np.cumsum(n_traces)]).astype(np.int64)
    shifts = [c * window for c, _ in copies]
    ids: list[str] = []
    for (c, n), _ in zip(copies, pieces, strict=True):
        ids.extend(trace_ids(prefix, c, n))
    offsets = np.concatenate(
        [p.trace_offsets[:-1] + row_base[i] for i, p in enumerate(pieces)] + [row_base[-1:]]
    )
    reasons: dict[int, str] = {}
    for i, p in enumerate(pieces):
        reasons.update({int(trace_base[i]) + k: v for k, v in p.must_keep_reasons.items()})
    columns: dict[str, Column] = {}
    for name in base.columns:
        parts = [p.columns[name] for p in pieces]
        rows = np.concatenate([c.rows + row_base[i] for i, c in enumerate(parts)])
        codes = np.concatenate([c.codes for c in parts])
        strings = base.columns[name].strings
        kind = np.concatenate([c.kind for c in parts])
        if name in TRACE_ID_FIELDS:
            local = np.concatenate(
                [
                    p.row_trace[c.rows] + trace_base[i]
                    for i, (p, c) in enumerate(zip(pieces, parts, strict=True))
                ]
            )
            codes = np.where(kind == KIND_STRING, local, -1).astype(np.int32)
            strings = StringPool.from_strings(ids)
        columns[name] = Column(
            name=name,
            rows=rows,
            kind=kind,
            ints=np.concatenate([c.ints for c in parts]),
            floats=np.concatenate([c.floats for c in parts]),
            codes=codes,
            strings=strings,
            others={},
        )
    root = [np.where(p.root_row >= 0, p.root_row + row_base[i], -1) for i, p in enumerate(pieces)]
    corpus = Corpus(
        trace_ids=tuple(ids),
        trace_offsets=offsets.astype(np.int64),
        row_trace=np.concatenate(
            [p.row_trace + np.int32(trace_base[i]) for i, p in enumerate(pieces)]
        ).astype(np.int32),
        is_root=np.concatenate([p.is_root for p in pieces]),
        root_row=np.concatenate(root).astype(np.int64),
        row_time=np.concatenate([p.row_time + s for p, s in zip(pieces, shifts, strict=True)]),
        trace_start=np.concatenate(
            [p.trace_start + s for p, s in zip(pieces, shifts, strict=True)]
        ),
        weight=np.concatenate([p.weight for p in pieces]),
        must_keep=np.concatenate([p.must_keep for p in pieces]),
        must_keep_reasons=reasons,
        columns=columns,
        digest=digest,
        sources=sources,
        formats={"otlp": int(row_base[-1])},
    )
    base_rows = base.n_rows
    first_seq = np.concatenate(
        [c * base_rows + p.trace_offsets[:-1] for (c, _), p in zip(copies, pieces, strict=True)]
    ).astype(np.int64)
    return corpus, first_seq


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
            corpus, first_seq = tile(
                base,
                mine,
                prefix=prefix,
                window=window,
                digest=part_digest(digest, k),
                sources=sources,
            )
            parts.append(write_part(tmp, k, corpus, first_seq))
            say(
                f"partition {k + 1}/{n_parts}: {corpus.n_rows:,} rows, "
                f"{corpus.n_traces:,} traces ({time.perf_counter() - t1:.1f} s)"
            )
            del corpus
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
