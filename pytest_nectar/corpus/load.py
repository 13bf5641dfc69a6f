"""``load_corpus``: raw trace files or a folder in, a :class:`Corpus` out, cached on disk.

The cache is keyed by the corpus **digest**: SHA-256 over the store format version, the
options that change the corpus, the content (not the names) of every input file in
order, and the must-keep file's content.  It is the same on every machine and goes into
the lockfile.  To avoid re-hashing big inputs on every load, a small per-cache index
remembers each file's digest with its size, mtime and inode (like git's index).

The cache lives in the user's cache folder, never beside the input (``cache.py`` says
where, how ``$NECTAR_CACHE_DIR`` and ``[tool.nectar] cache`` move it, and how its size cap
evicts least recently used entries).  An unwritable cache folder only means no cache; a
damaged entry is deleted and rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, TypedDict, Unpack

from pytest_nectar.corpus import cache as corpus_cache
from pytest_nectar.corpus.assemble import Assembled, assemble
from pytest_nectar.corpus.ingest import FORMATS, IngestOptions, read_chunks
from pytest_nectar.corpus.labels import label_must_keep
from pytest_nectar.corpus.store import (
    STORE_VERSION,
    StoreError,
    load_store,
    save_store,
    store_path,
)
from pytest_nectar.corpus.table import Corpus
from pytest_nectar.errors import CorpusError, EmptyCorpusError, Position, UsageError
from pytest_nectar.fileio import write_atomic

__all__ = [
    "TRACE_SUFFIXES",
    "CorpusRequest",
    "Reading",
    "corpus_digest",
    "corpus_request",
    "labelled_corpus",
    "load_corpus",
    "read_index",
    "resolve_inputs",
    "save_index",
]

#: Files of a folder that are corpus inputs; other files (notes, licences) are not.
#: Names a folder's trace files have: JSON, the file exporter's protobuf, compressed ones
#: (the content is detected from the bytes; the suffix only picks files in folders).
TRACE_SUFFIXES: Final = (
    ".json",
    ".jsonl",
    ".ndjson",
    ".pb",
    ".proto",
    ".binpb",
    ".gz",
    ".zst",
    ".parquet",
    ".arrow",
    ".feather",
)
#: The file-digest index forgets the least recently added files beyond this many.
_INDEX_LIMIT: Final = 4096


def resolve_inputs(paths: Sequence[str | os.PathLike[str]]) -> list[tuple[Path, str]]:
    """``(path, display name)`` of every input file, folders expanded in sorted order."""
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    out: list[tuple[Path, str]] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in TRACE_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                raise EmptyCorpusError(
                    "folder holds no trace files",
                    position=Position(str(given)),
                    hint="expected *.json, *.jsonl, *.ndjson, *.pb, *.gz or *.zst files",
                )
            out.extend((p, str(Path(given) / p.relative_to(path))) for p in found)
        elif path.is_file():
            out.append((path, str(given)))
        else:
            raise CorpusError("no such file or folder", position=Position(str(given)))
    if not out:
        raise CorpusError("no input files given", position=None)
    return out


def _stamp(path: Path) -> tuple[str, list[int]]:
    stat = path.stat()
    return str(path.resolve()), [stat.st_size, stat.st_mtime_ns, stat.st_ino]


def _indexed(known: object, stamp: list[int]) -> str | None:
    if isinstance(known, list) and len(known) == 4 and known[:3] == stamp:
        digest = known[3]
        if isinstance(digest, str) and len(digest) == 64:
            return digest
    return None


def _file_digest(path: Path, index: dict[str, Any]) -> str:
    key, stamp = _stamp(path)
    known = index.pop(key, None)  # re-inserted below: the index's order is its recency
    digest = _indexed(known, stamp)
    if digest is not None:
        index[key] = known
        return digest
    with open(path, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    index[key] = [*stamp, digest]
    return digest


def _all_indexed(request: CorpusRequest, index: dict[str, Any]) -> bool:
    """Whether every input's digest is in the index (hashing them costs nothing)."""
    files = [p for p, _ in request.inputs]
    if request.must_keep_file is not None:
        files.append(request.must_keep_file)
    for path in files:
        key, stamp = _stamp(path)
        if _indexed(index.get(key), stamp) is None:
            return False
    return True


def corpus_digest(
    files: Sequence[Path],
    opts: IngestOptions,
    *,
    scale: float,
    must_keep_file: Path | None,
    must_keep_attribute: str | None,
    index: dict[str, Any] | None = None,
) -> str:
    """The content digest of a corpus (stable across runs and machines)."""
    index = {} if index is None else index
    h = hashlib.sha256()
    options: dict[str, object] = {
        "version": STORE_VERSION,
        "format": opts.fmt,
        "skip_bad": opts.skip_bad,
        "json_ints": opts.json_ints,
        "scale": repr(float(scale)),
        "must_keep_attribute": must_keep_attribute,
        "must_keep_file": _file_digest(must_keep_file, index) if must_keep_file else None,
    }
    if opts.columns:  # only when set: digests of corpora read without it stay as they were
        options["columns"] = [list(pair) for pair in opts.columns]
    h.update(json.dumps(options, sort_keys=True).encode())
    for path in files:
        h.update(b"\0file\0" + _file_digest(path, index).encode())
    return h.hexdigest()


def read_index(cache: Path) -> dict[str, Any]:
    try:
        data = json.loads((cache / "index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_index(cache: Path, index: dict[str, Any], before: dict[str, Any]) -> None:
    if index == before:
        return  # dict equality ignores order: only new or changed digests are written
    recent = dict(list(index.items())[-_INDEX_LIMIT:])
    with contextlib.suppress(OSError):  # a read-only cache only costs re-hashing
        write_atomic(cache / "index.json", json.dumps(recent))


@dataclass(frozen=True)
class CorpusRequest:
    """What a corpus is made of: its input files and every option that changes it."""

    inputs: tuple[tuple[Path, str], ...]  # (path, display name)
    opts: IngestOptions
    scale: float
    must_keep_file: Path | None
    must_keep_attribute: str | None

    @property
    def displays(self) -> tuple[str, ...]:
        return tuple(d for _, d in self.inputs)

    def digest(self, index: dict[str, Any] | None = None) -> str:
        return corpus_digest(
            [p for p, _ in self.inputs],
            self.opts,
            scale=self.scale,
            must_keep_file=self.must_keep_file,
            must_keep_attribute=self.must_keep_attribute,
            index=index,
        )


class Reading(TypedDict, total=False):
    """The options that change how inputs are read, and so the corpus and its digest:
    :func:`load_corpus`, :func:`corpus_request` and the partitioned loads take them by
    keyword, declared here once."""

    #: A format forced: ``otlp``, ``jaeger``, ``zipkin`` or ``honeycomb`` (default: detected).
    fmt: str | None
    #: Multiplies every trace's weight (default 1).
    scale: float
    #: A file of trace ids Refinery must keep (one per line).
    must_keep_file: str | os.PathLike[str] | None
    #: A field whose true value marks a trace must-keep.
    must_keep_attribute: str | None
    #: Skip bad records (counted in ``Corpus.skipped``) instead of failing.
    skip_bad: bool
    #: Keep Honeycomb JSON integers as int64 instead of Refinery's float64.
    json_ints: bool
    #: Nectar's field name -> a Parquet/Arrow table's column name, for other column names.
    columns: Mapping[str, str] | None


def corpus_request(
    paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    **reading: Unpack[Reading],
) -> CorpusRequest:
    """Check the options and find the input files (what :func:`load_corpus` takes).

    Raises:
        UsageError: an unknown option or format, or a scale that is not a positive number.
        CorpusError: a missing input or must-keep file, a folder without trace files.
    """
    unknown = sorted(set(reading) - set(Reading.__annotations__))
    if unknown:
        raise UsageError("unknown reading option", got=", ".join(unknown))
    fmt = reading.get("fmt")
    scale = reading.get("scale", 1.0)
    must_keep_file = reading.get("must_keep_file")
    columns = reading.get("columns")
    if fmt is not None and fmt not in FORMATS:
        raise UsageError("unknown trace format", got=fmt, hint="use one of " + ", ".join(FORMATS))
    if not (isinstance(scale, int | float) and math.isfinite(scale) and scale > 0):
        raise UsageError("scale must be a positive number", got=scale)
    given = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    inputs = resolve_inputs(given)
    keep_path = Path(must_keep_file) if must_keep_file is not None else None
    if keep_path is not None and not keep_path.is_file():
        raise CorpusError("no such must-keep file", position=Position(str(must_keep_file)))
    opts = IngestOptions(
        fmt=fmt,
        skip_bad=reading.get("skip_bad", False),
        json_ints=reading.get("json_ints", False),
        columns=tuple(sorted((columns or {}).items())),
    )
    return CorpusRequest(
        tuple(inputs), opts, float(scale), keep_path, reading.get("must_keep_attribute")
    )


def load_corpus(
    paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    cache: bool = True,
    workers: int = 0,
    **reading: Unpack[Reading],
) -> Corpus:
    """Load trace files (or folders of them) as one corpus, reusing the on-disk cache.

    ``reading`` are the options of :class:`Reading` (``fmt``, ``scale``, ``skip_bad``...);
    ``cache_dir`` moves the cache (``cache=False``: none); ``workers`` (0 = all cores) parse
    big JSON Lines files in parallel.
    """
    request = corpus_request(paths, **reading)
    settings = corpus_cache.cache_settings(cache_dir) if cache else None
    index = read_index(settings.root) if settings is not None else {}
    before = dict(index)

    def build(digest: str) -> Corpus:
        return build_corpus(
            request.inputs,
            request.opts,
            digest,
            scale=request.scale,
            must_keep_file=request.must_keep_file,
            must_keep_attribute=request.must_keep_attribute,
            workers=workers,
        )

    if _all_indexed(request, index):
        digest = request.digest(index)  # from the index: no file is read
        found = _stored(settings, request, digest, index, before)
        if found is not None:
            return found
        corpus = build(digest)
    else:
        # Inputs never seen: hash them while they are parsed (the parse runs in worker
        # processes, hashing releases the GIL); a store of the same content found under
        # the digest afterwards is used all the same.
        with ThreadPoolExecutor(max_workers=1) as pool:
            hashing = pool.submit(request.digest, index)
            built = build("")
            digest = hashing.result()
        found = _stored(settings, request, digest, index, before)
        if found is not None:
            return found
        corpus = replace(built, digest=digest)
    if settings is not None:
        target = store_path(settings.root, digest)
        try:
            save_store(corpus, target)
            corpus_cache.touch(target)
            corpus_cache.evict(settings.root, settings.max_bytes, keep=target)
        except OSError:
            pass  # a read-only place only costs the cache
        save_index(settings.root, index, before)
    return corpus


def _stored(
    settings: corpus_cache.CacheSettings | None,
    request: CorpusRequest,
    digest: str,
    index: dict[str, Any],
    before: dict[str, Any],
) -> Corpus | None:
    """The cached store of ``digest``, when it is there and whole (a damaged one is
    discarded, to be rebuilt)."""
    if settings is None:
        return None
    target = store_path(settings.root, digest)
    if not target.is_dir():
        return None
    try:
        found = load_store(target, request.displays, digest=digest)
    except StoreError:
        corpus_cache.discard(target)
        return None
    corpus_cache.touch(target)
    save_index(settings.root, index, before)
    return found


def build_corpus(
    inputs: Sequence[tuple[Path, str]],
    opts: IngestOptions,
    digest: str,
    *,
    scale: float = 1.0,
    must_keep_file: Path | None = None,
    must_keep_attribute: str | None = None,
    workers: int = 0,
) -> Corpus:
    """Parse and assemble a corpus (no cache involved): each chunk is merged as soon as
    it is parsed, while the workers parse the ones after it."""
    chunks = (
        (display, chunk)
        for path, display in inputs
        for chunk in read_chunks(path, display, opts, workers=workers)
    )
    assembled = assemble(chunks, scale=scale)
    return labelled_corpus(
        assembled,
        digest,
        tuple(d for _, d in inputs),
        must_keep_file=must_keep_file,
        must_keep_attribute=must_keep_attribute,
    )


def labelled_corpus(
    assembled: Assembled,
    digest: str,
    sources: tuple[str, ...],
    *,
    must_keep_file: Path | None,
    must_keep_attribute: str | None,
) -> Corpus:
    """The corpus of assembled traces, with their must-keep labels (the file's and the
    attribute's)."""
    must_keep, reasons, unmatched = label_must_keep(
        assembled.trace_ids,
        assembled.row_trace,
        assembled.columns,
        must_keep_file=must_keep_file,
        must_keep_attribute=must_keep_attribute,
    )
    return Corpus(
        trace_ids=assembled.trace_ids,
        trace_offsets=assembled.trace_offsets,
        row_trace=assembled.row_trace,
        is_root=assembled.is_root,
        root_row=assembled.root_row,
        row_time=assembled.row_time,
        trace_start=assembled.trace_start,
        weight=assembled.weight,
        must_keep=must_keep,
        must_keep_reasons=reasons,
        columns=assembled.columns,
        digest=digest,
        skipped=assembled.skipped,
        sources=sources,
        must_keep_unmatched=unmatched,
        formats=assembled.formats,
    )
