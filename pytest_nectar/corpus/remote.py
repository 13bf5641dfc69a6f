"""Corpus stores on shared storage: fetched once into the local cache, then memory-mapped.

A cluster worker may not share a file system with the client.  It is then given the store
as an fsspec URL (``s3://bucket/prefix/corpus-<digest>``, ``gs://...``, ``file:///...``,
any protocol fsspec knows), or one partition of a corpus stored in partitions
(``.../corpus-<digest>-parts-<rows>/part-<k>``), and copies the store's two files
(``meta.json``, ``arrays.bin``) into its own cache folder (the one :mod:`.cache` resolves:
``$NECTAR_CACHE_DIR`` or the platform's user cache), once: the folder is named by the corpus
digest, and a store never changes under its digest, so the copy is reused by every later
task and run.  A ``file://`` URL into the worker's own cache folder is read in place.

The copy is made in a scratch folder and renamed into place, so a concurrent worker or a
crash never leaves half a store; it is checked before use (the digest its ``meta.json``
holds is the one its name says, ``arrays.bin`` has the size ``meta.json`` records).  A copy
damaged later is discarded and fetched again; a store that is damaged at its source is a
:class:`~pytest_nectar.corpus.store.StoreError` naming the URL.

The client puts the stores there first (:func:`publish_stores`, for ``cluster_storage``):
under the same names as in its cache, each file written under a scratch name and renamed
into place, ``meta.json`` last, so a worker never takes a store that is not whole; a store
already there and whole is not written again.

fsspec comes with Dask (``pytest-nectar[cluster]``) and is imported only when a URL is given.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Final

from pytest_nectar.corpus import cache
from pytest_nectar.corpus.store import StoreError
from pytest_nectar.errors import Position, UsageError
from pytest_nectar.fileio import is_url

__all__ = ["fetch_store", "is_url", "publish_stores"]

#: A store folder as ``store_path`` names it (one path component, nothing to climb out with),
#: and a partition of a corpus stored in partitions (``corpus-<digest>-parts-<rows>/part-<k>``).
_STORE: Final = re.compile(r"^corpus-([A-Za-z0-9][A-Za-z0-9._-]*)$")
_PARTED: Final = re.compile(r"^corpus-([A-Za-z0-9][A-Za-z0-9._-]*?)-parts-[0-9]+$")
_PART: Final = re.compile(r"^part-[0-9]+$")
_FILES: Final = ("meta.json", "arrays.bin")


@dataclass(frozen=True, slots=True)
class _Name:
    """Where a shared store's copy goes in the cache, and which digest its meta.json must hold."""

    local: str
    key: str  # the digest's first 40 characters, as the folder's name gives them
    part: str | None = None  # a partition's folder: its digest is "<corpus digest>/<part>"

    def holds(self, digest: object) -> bool:
        if not isinstance(digest, str):
            return False
        if self.part is None:
            return digest[:40] == self.key
        corpus, _, part = digest.rpartition("/")
        return part == self.part and corpus[:40] == self.key


def _name(remote: str, url: str) -> _Name:
    path = PurePosixPath(remote)
    store = _STORE.match(path.name)
    if store is not None:
        return _Name(path.name, store.group(1))
    parted = _PARTED.match(path.parent.name)
    if parted is not None and _PART.match(path.name):
        return _Name(f"{path.parent.name}-{path.name}", parted.group(1), path.name)
    raise StoreError(
        "a shared corpus store is a folder named corpus-<digest> (or a part-<k> in one)",
        position=Position(url),
        got=path.name,
        hint="give the URL of the store folder itself, as `nectar` wrote it",
    )


def _filesystem(url: str, *, writing: bool = False) -> tuple[Any, str]:
    verb = "write" if writing else "read"
    try:
        import fsspec  # type: ignore[import-untyped]
    except ImportError:
        raise UsageError(
            f"{'writing' if writing else 'reading'} a corpus store {'to' if writing else 'from'} "
            "a URL needs fsspec, which is not installed",
            position=Position(url),
            hint="pip install 'pytest-nectar[cluster]' (Dask brings fsspec), or give a path",
        ) from None
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except ImportError as err:  # a known protocol whose package is missing (s3fs, gcsfs...)
        raise UsageError(
            f"cannot {verb} this kind of URL here", position=Position(url), hint=str(err)
        ) from None
    except ValueError as err:  # "Protocol not known: ..."
        raise UsageError(
            f"cannot {verb} this kind of URL",
            position=Position(url),
            hint=f"{err}; give a path or a URL of a protocol fsspec knows (s3://, gs://, file://)",
        ) from None
    return fs, str(path).rstrip("/")


def _check(folder: Path, name: _Name, url: str) -> None:
    """Refuse a copy whose meta.json is unreadable, of another digest, or whose arrays are cut."""
    try:
        meta = (folder / "meta.json").read_bytes()
        size = (folder / "arrays.bin").stat().st_size
    except OSError as err:
        raise StoreError(
            "shared corpus store is unreadable", position=Position(url), got=str(err)
        ) from None
    _verify(meta, size, name, url)


def _verify(meta_json: bytes, size: int, name: _Name, url: str) -> None:
    """A store's ``meta.json`` (its text) and its ``arrays.bin``'s size, checked together."""
    try:
        meta = json.loads(meta_json)
        digest, expected = meta["digest"], meta["arrays_bytes"]
    except (ValueError, KeyError, TypeError) as err:
        raise StoreError(
            "shared corpus store is unreadable", position=Position(url), got=str(err)
        ) from None
    if not name.holds(digest):
        raise StoreError(
            "shared corpus store holds another corpus than its name says",
            position=Position(url),
            got=digest,
        )
    if size != expected:
        raise StoreError(
            "shared corpus store is truncated or corrupt",
            position=Position(url),
            got=f"arrays.bin has {size:,} bytes, meta.json says {expected:,}",
            hint="write the store again where the workers read it",
        )


def _copy(fs: Any, remote: str, local: Path, name: _Name, url: str) -> None:
    """Both files into a scratch folder, checked, then renamed to ``local`` (atomic)."""
    try:
        local.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".tmp-", dir=local.parent))
    except OSError as err:
        raise StoreError(
            "cannot copy the shared corpus store into the local cache",
            position=Position(str(local)),
            got=str(err),
            hint="set NECTAR_CACHE_DIR to a writable folder",
        ) from None
    try:
        for file in _FILES:
            try:
                fs.get_file(f"{remote}/{file}", str(scratch / file))
            except (OSError, ValueError) as err:
                raise StoreError(
                    "cannot read the shared corpus store",
                    position=Position(url),
                    got=f"{file}: {type(err).__name__}: {err}",
                ) from None
        _check(scratch, name, url)
        try:
            os.rename(scratch, local)
        except OSError:
            if not (local / "meta.json").exists():
                raise
            shutil.rmtree(scratch, ignore_errors=True)  # another worker got there first
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def fetch_store(url: str) -> Path:
    """The local copy of the store at ``url``, fetched into the cache unless already there.

    Raises:
        UsageError: fsspec (or the protocol's package) is missing, or the protocol is unknown.
        StoreError: the URL is not a store folder, cannot be read, or its store is damaged.
    """
    fs, remote = _filesystem(url)
    name = _name(remote, url)
    settings = cache.cache_settings(None)
    if "file" in fs.protocol and Path(remote).resolve().is_relative_to(settings.root.resolve()):
        return Path(remote)  # a file:// URL into this very cache: read in place, never discarded
    local = settings.root / name.local
    if local.is_dir():
        try:
            _check(local, name, url)
        except StoreError:
            cache.discard(local)  # damaged since it was copied: fetched again below
        else:
            cache.touch(local)
            return local
    _copy(fs, remote, local, name, url)
    cache.touch(local)
    cache.evict(settings.root, settings.max_bytes, keep=local)
    return local


def publish_stores(stores: Iterable[str | os.PathLike[str]], storage: str) -> dict[str, str]:
    """Each local store (``corpus-<digest>``, or a ``part-<k>`` of a corpus stored in
    partitions) published under ``storage``, named as in the cache; returns, per store as
    given, what a worker loads: its URL, or its path when ``storage`` is a path.

    A store already there and complete is left alone (a store never changes under its
    digest).  Otherwise ``arrays.bin`` is written, then ``meta.json``, the commit marker, each
    under a scratch name renamed into place: a reader sees no store, an incomplete one it
    refuses (no ``meta.json``, or sizes that disagree), or the whole store.

    Raises:
        UsageError: the storage's protocol is unknown or its package missing, or it cannot
            be written (unreachable, no permission).
        StoreError: a local store that is not a store folder or is damaged.
    """
    fs, base = _filesystem(storage, writing=True)
    shown = storage.rstrip("/") if is_url(storage) else base
    published: dict[str, str] = {}
    for given in stores:
        local = Path(given)
        relative = local.name if _STORE.match(local.name) else f"{local.parent.name}/{local.name}"
        remote, where = f"{base}/{relative}", f"{shown}/{relative}"
        name = _name(remote, str(local))
        _check(local, name, str(local))
        # Any failure here is the storage's: fsspec backends raise their own types too
        # (botocore's NoCredentialsError, google-auth's errors), not only OSError.
        try:
            if not _published(fs, remote, name):
                _upload(fs, local, remote)
        except Exception as err:
            raise UsageError(
                "cannot write the corpus store to the cluster's shared storage",
                position=Position(where),
                got=(err.strerror if isinstance(err, OSError) else None)
                or f"{type(err).__name__}: {err}",
                hint="set cluster_storage (--cluster-storage) to a folder or URL this machine "
                "can write and every worker can read",
            ) from None
        published[os.fspath(given)] = where
    return published


def _published(fs: Any, remote: str, name: _Name) -> bool:
    """Whether ``remote`` already holds the whole store (checked as a worker checks it)."""
    try:
        meta = fs.cat_file(f"{remote}/meta.json")
        size = fs.size(f"{remote}/arrays.bin")
    except FileNotFoundError:
        return False
    try:
        _verify(meta, int(size), name, remote)
    except StoreError:
        return False  # incomplete or damaged: written again
    return True


def _upload(fs: Any, local: Path, remote: str) -> None:
    fs.makedirs(remote, exist_ok=True)
    for file in ("arrays.bin", "meta.json"):  # meta.json last: it commits the store
        scratch = f"{remote}/.{file}.{uuid.uuid4().hex}.tmp"
        try:
            fs.put_file(str(local / file), scratch)
            fs.mv(scratch, f"{remote}/{file}")
        except BaseException:
            with contextlib.suppress(Exception):
                fs.rm_file(scratch)
            raise
