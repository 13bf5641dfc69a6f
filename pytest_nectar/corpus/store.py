"""The on-disk corpus store (and cache): raw uncompressed arrays, read back as memory maps.

A store is a directory named by the corpus digest.  ``arrays.bin`` holds every array,
uncompressed, 64-byte aligned, one after the other (equal arrays once: the rows of every
field all events have, a kind shared by all of a column's entries); ``meta.json`` says where
each one is (dtype, offset, shape) and holds the small facts (columns, skipped records,
must-keep reasons).  Loading memory-maps ``arrays.bin`` once and makes zero-copy, read-only views,
so opening a store costs the same whatever the corpus size.  Strings are one UTF-8
buffer plus int64 offsets per dictionary (no pickles).  Writes go to a temporary
directory renamed into place, so a crash never leaves half a store.

``STORE_VERSION`` is part of the digest: changing the layout or the flattening changes
every digest, so stale caches are never read.  A store damaged after it was written (a
truncated ``arrays.bin``, a cut ``meta.json``) is refused with :class:`StoreError` before any
array is touched; the cache deletes such an entry and rebuilds it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from pytest_nectar.corpus.table import Column, Corpus, Skipped, StringPool
from pytest_nectar.errors import CorpusError, Position

__all__ = [
    "STORE_VERSION",
    "Pieces",
    "StoreContent",
    "StoreError",
    "load_store",
    "read_meta",
    "save_pieces",
    "save_store",
    "store_path",
]

STORE_VERSION: Final = "nectar-corpus-3"
_ROW_ARRAYS: Final = (
    "trace_offsets",
    "row_trace",
    "is_root",
    "root_row",
    "row_time",
    "trace_start",
    "weight",
    "must_keep",
)
_COLUMN_ARRAYS: Final = ("rows", "kind", "ints", "floats", "codes")
#: Arrays at least this big are compared with those written before (equal ones stored once).
_SHARED_BYTES: Final = 1 << 16
#: Arrays at least this big are written by the writer's threads; how many at once.
_THREAD_BYTES: Final = 1 << 20
_IN_FLIGHT: Final = 4


def store_path(cache_dir: Path, digest: str) -> Path:
    return cache_dir / f"corpus-{digest[:40]}"


class StoreError(CorpusError):
    """A store folder that is missing, truncated or corrupt (a cache entry is rebuilt)."""


class _Writer:
    """Appends arrays to one raw file, 64-byte aligned, and remembers where each one is."""

    def __init__(self, path: Path) -> None:
        self.fh = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.index: dict[str, list[Any]] = {}
        self.offset = 0
        # Big arrays are written by two threads at their offsets (the kernel's copy into
        # the page cache releases the GIL: the other core takes half), a few at a time.
        self._threads = ThreadPoolExecutor(2)
        self._pending: deque[Future[None]] = deque()
        #: Arrays written whole, by a sample of their content: (array, index entry)s.
        self._written: dict[tuple[str, int, bytes], list[tuple[npt.NDArray[Any], list[Any]]]] = {}

    def add(self, key: str, array: npt.NDArray[Any]) -> None:
        """One array; an array equal to one written before (a field every row has, its
        rows ``0 .. n - 1``; a kind or a code shared by every entry) is not written again:
        its key points at the first copy.  Equal content gives equal bytes, however the
        arrays were made."""
        n = len(array)
        if array.ndim != 1 or n * array.itemsize < _SHARED_BYTES:
            self.add_pieces(key, (array,))
            return
        sample = np.ascontiguousarray(array[:: max(1, n // 256)]).tobytes() + array[-1:].tobytes()
        candidates = self._written.setdefault((array.dtype.str, n, sample), [])
        for other, entry in candidates:
            if other is array or np.array_equal(other, array):
                self.index[key] = list(entry)
                return
        self.add_pieces(key, (array,))
        candidates.append((array, self.index[key]))

    def add_pieces(self, key: str, pieces: Iterable[npt.NDArray[Any]]) -> None:
        """One array, the concatenation of ``pieces`` (one-dimensional after the first)."""
        self.offset += -self.offset % 64  # the gap reads as zeros
        start = self.offset
        dtype: np.dtype[Any] | None = None
        shape: list[int] = []
        for piece in pieces:
            data = np.ascontiguousarray(piece)
            if dtype is None:
                dtype, shape = data.dtype, list(data.shape)
            else:
                if data.dtype != dtype:
                    raise ValueError(f"array {key}: pieces of {dtype} and {data.dtype}")
                shape[0] += len(data)
            self._write(data)
        if dtype is None:
            raise ValueError(f"array {key}: no pieces")
        self.index[key] = [dtype.str, start, shape]

    def _write(self, data: npt.NDArray[Any]) -> None:
        # All zeros (the ints and floats of a string column) are left as a hole, so the file
        # is sparse on disk and reads back the same (close() sets its length).
        if not data.any():
            pass
        elif data.nbytes < _THREAD_BYTES:
            _write_at(self.fh.fileno(), data, self.offset)
        else:
            while len(self._pending) >= _IN_FLIGHT:  # bounded: pieces may be streamed
                self._pending.popleft().result()
            self._pending.append(
                self._threads.submit(_write_at, self.fh.fileno(), data, self.offset)
            )
        self.offset += data.nbytes

    def add_strings(self, stem: str, pool: StringPool) -> None:
        self.add(f"{stem}.str", np.frombuffer(bytes(pool.buffer), dtype=np.uint8))
        self.add(f"{stem}.off", pool.offsets)

    def close(self) -> None:
        try:
            while self._pending:
                self._pending.popleft().result()
            self.fh.truncate(self.offset)
        finally:
            self._threads.shutdown()  # waits for any write still running
            self.fh.close()


def _write_at(fd: int, data: npt.NDArray[Any], offset: int) -> None:
    """All of ``data`` (its own buffer: no copy) at ``offset`` of the file ``fd``."""
    view = data.data.cast("B")
    while view:
        done = os.pwrite(fd, view, offset)
        view, offset = view[done:], offset + done


class _Reader:
    """Views into the memory-mapped array file (no copy, read-only)."""

    def __init__(self, path: Path, index: dict[str, list[Any]]) -> None:
        size = path.stat().st_size
        self.buffer: npt.NDArray[np.uint8] = (
            np.memmap(path, dtype=np.uint8, mode="r") if size else np.zeros(0, dtype=np.uint8)
        )
        self.index = index

    def get(self, key: str) -> npt.NDArray[Any]:
        dtype, offset, shape = self.index[key]
        kind = np.dtype(dtype)
        if kind.hasobject or not isinstance(offset, int) or offset < 0:
            raise ValueError(f"array {key}: bad dtype or offset")
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if offset + count * kind.itemsize > self.buffer.size:
            raise ValueError(f"array {key} ends past the end of arrays.bin")
        array: npt.NDArray[Any] = np.ndarray(
            tuple(shape), dtype=kind, buffer=self.buffer, offset=offset
        )
        return array

    def strings(self, stem: str) -> StringPool:
        return StringPool(self.get(f"{stem}.str"), self.get(f"{stem}.off"))


#: An array given as pieces, written one after another (the array is never whole in memory).
Pieces = Callable[[], Iterable[npt.NDArray[Any]]]


@dataclass(frozen=True)
class StoreContent:
    """What a store holds, each array as :data:`Pieces` (``save_pieces``): a corpus far
    larger than memory can be written a slice at a time.  Keys are :class:`Corpus` fields."""

    digest: str
    arrays: Mapping[str, Pieces]  # trace_offsets, row_trace, is_root, ... must_keep
    trace_ids: StringPool
    #: name -> (rows/kind/ints/floats/codes pieces, dictionary, others)
    columns: Mapping[str, tuple[Mapping[str, Pieces], StringPool, Mapping[int, object]]]
    must_keep_reasons: Mapping[int, str]
    skipped: tuple[Skipped, ...] = ()
    sources: tuple[str, ...] = ()
    must_keep_unmatched: tuple[str, ...] = ()
    formats: Mapping[str, int] = field(default_factory=dict)


def _whole(array: npt.NDArray[Any]) -> Pieces:
    return lambda: (array,)


def save_store(corpus: Corpus, directory: Path) -> None:
    """Write ``corpus`` to ``directory`` atomically (no-op if another writer got there first)."""
    content = StoreContent(
        digest=corpus.digest,
        arrays={name: _whole(getattr(corpus, name)) for name in _ROW_ARRAYS},
        trace_ids=StringPool.from_strings(corpus.trace_ids),
        columns={
            name: (
                {part: _whole(getattr(column, part)) for part in _COLUMN_ARRAYS},
                column.strings,
                column.others,
            )
            for name, column in corpus.columns.items()
        },
        must_keep_reasons=corpus.must_keep_reasons,
        skipped=corpus.skipped,
        sources=corpus.sources,
        must_keep_unmatched=corpus.must_keep_unmatched,
        formats=corpus.formats,
    )
    save_pieces(content, directory)


def _add(writer: _Writer, key: str, pieces: Pieces) -> None:
    given = pieces()
    if isinstance(given, tuple) and len(given) == 1:  # a whole array
        writer.add(key, given[0])
    else:
        writer.add_pieces(key, given)


def save_pieces(content: StoreContent, directory: Path) -> None:
    """Write ``content`` to ``directory`` atomically, each array piece by piece."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=directory.parent))
    try:
        writer = _Writer(tmp / "arrays.bin")
        try:
            for name in _ROW_ARRAYS:
                _add(writer, name, content.arrays[name])
            writer.add_strings("trace_ids", content.trace_ids)
            columns_meta = []
            for index, (name, (arrays, strings, others)) in enumerate(content.columns.items()):
                stem = f"c{index:05d}"
                for part in _COLUMN_ARRAYS:
                    _add(writer, f"{stem}.{part}", arrays[part])
                writer.add_strings(stem, strings)
                entry: dict[str, Any] = {"name": name, "stem": stem}
                if others:
                    entry["others"] = [[int(k), v] for k, v in sorted(others.items())]
                columns_meta.append(entry)
        finally:
            writer.close()
        sources = {path: i for i, path in enumerate(content.sources)}
        meta = {
            "version": STORE_VERSION,
            "digest": content.digest,
            "arrays": writer.index,
            "columns": columns_meta,
            "skipped": [
                [sources.get(s.path, -1), s.path, s.record, s.reason] for s in content.skipped
            ],
            "must_keep_reasons": [
                [int(k), v] for k, v in sorted(content.must_keep_reasons.items())
            ],
            "must_keep_unmatched": list(content.must_keep_unmatched),
            "formats": dict(content.formats),
            "n_sources": len(content.sources),
            "arrays_bytes": writer.offset,
        }
        (tmp / "meta.json").write_text(json.dumps(meta, sort_keys=True), encoding="utf-8")
        try:
            os.rename(tmp, directory)
        except OSError:
            if not (directory / "meta.json").exists():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read_meta(path: Path, version: str, what: str, hint: str) -> dict[str, Any]:
    """The JSON object of a store's (or a partitioned corpus's) metadata file, when it is of
    ``version``.

    Raises:
        StoreError: the file cannot be read, is not JSON, or holds another version (``hint``
            says what to do); located at the file's folder.
    """
    where = Position(str(path.parent))
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise StoreError(f"cannot read {what}", position=where, got=str(err)) from None
    if not isinstance(meta, dict) or meta.get("version") != version:
        raise StoreError(
            f"{what} has another format version",
            position=where,
            got=meta.get("version") if isinstance(meta, dict) else meta,
            hint=hint,
        )
    return meta


def load_store(
    directory: Path, sources: tuple[str, ...] | None = None, *, digest: str | None = None
) -> Corpus:
    """Open a store; ``sources`` renames the input files (they may have moved since).

    Raises:
        StoreError: the store is missing, of another version, truncated or corrupt (or, with
            ``digest``, holds another corpus).
    """
    where = Position(str(directory))
    meta = read_meta(
        directory / "meta.json",
        STORE_VERSION,
        "corpus store",
        f"expected {STORE_VERSION}; rebuild it with `nectar corpus ingest`",
    )
    if digest is not None and meta.get("digest") != digest:
        raise StoreError(
            "corpus store holds another corpus", position=where, got=meta.get("digest")
        )
    try:
        return _open(directory, meta, sources or ())
    except (OSError, KeyError, TypeError, ValueError, IndexError) as err:
        raise StoreError(
            "corpus store is truncated or corrupt",
            position=where,
            got=f"{type(err).__name__}: {err}",
            hint="a cache entry is rebuilt on the next load; `nectar cache clear` removes all",
        ) from None


def _open(directory: Path, meta: dict[str, Any], names: tuple[str, ...]) -> Corpus:
    arrays_file = directory / "arrays.bin"
    size, expected = arrays_file.stat().st_size, meta.get("arrays_bytes")
    if expected is not None and size != expected:
        raise ValueError(f"arrays.bin has {size} bytes, not {expected}")
    reader = _Reader(arrays_file, meta["arrays"])
    arrays = {name: reader.get(name) for name in _ROW_ARRAYS}
    trace_ids = tuple(reader.strings("trace_ids").values)
    offsets = arrays["trace_offsets"]
    if len(offsets) != len(trace_ids) + 1 or int(offsets[-1]) != len(arrays["row_trace"]):
        raise ValueError("trace offsets do not match the trace ids and rows")
    columns: dict[str, Column] = {}
    for entry in meta["columns"]:
        stem = entry["stem"]
        parts = {part: reader.get(f"{stem}.{part}") for part in _COLUMN_ARRAYS}
        if len({len(a) for a in parts.values()}) != 1:
            raise ValueError(f"column {entry['name']!r} has arrays of different lengths")
        others = {int(k): v for k, v in entry.get("others", [])}
        columns[entry["name"]] = Column(
            name=entry["name"], strings=reader.strings(stem), others=others, **parts
        )
    skipped = tuple(
        Skipped(names[i] if 0 <= i < len(names) else path, record, reason)
        for i, path, record, reason in meta["skipped"]
    )
    return Corpus(
        trace_ids=trace_ids,
        columns=columns,
        digest=meta["digest"],
        must_keep_reasons={int(k): v for k, v in meta["must_keep_reasons"]},
        must_keep_unmatched=tuple(meta["must_keep_unmatched"]),
        skipped=skipped,
        sources=names,
        formats=meta["formats"],
        **arrays,
    )
