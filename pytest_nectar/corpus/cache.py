"""Where built corpus stores are cached, and how the cache stays within its size cap.

The cache folder is, first found: the ``cache_dir`` argument (``--cache-dir``),
``$NECTAR_CACHE_DIR``, the project's ``[tool.nectar] cache``, or the platform's user cache
folder (``platformdirs.user_cache_dir("nectar")``: ``~/.cache/nectar`` on Linux,
``~/Library/Caches/nectar`` on macOS).  Nothing is ever written beside the input: trace
folders may be read-only or shared, and a user's data folder is not ours to fill.

Entries are store folders named by the corpus digest (``corpus-<digest>``).  Using an
entry touches its mtime; after every write the least recently used entries are removed
until the cache is within its cap (``$NECTAR_CACHE_MAX_BYTES``, ``[tool.nectar]
cache_max_bytes``, default 2 GiB), never the entry just written.  Concurrent processes
(pytest-xdist workers, parallel CI jobs) only ever rename: a store appears whole or not
at all, and an evicted one is renamed out of the way before it is deleted, so a reader
never sees half an entry.  A reader that already mapped an evicted store keeps its pages
(POSIX keeps unlinked files alive while they are mapped).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pytest_nectar.errors import Position, UsageError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "CacheSettings",
    "Entry",
    "cache_settings",
    "clear",
    "discard",
    "entries",
    "evict",
    "parse_size",
    "touch",
]

DEFAULT_MAX_BYTES: Final = 2 * 1024**3
ENV_DIR: Final = "NECTAR_CACHE_DIR"
ENV_MAX: Final = "NECTAR_CACHE_MAX_BYTES"
ENTRY_PREFIX: Final = "corpus-"
#: Scratch: stores being written (``.tmp-``) or deleted (``.evict-``), the index being written.
_SCRATCH: Final = (".tmp-", ".evict-", ".index.json.")
#: A scratch folder this old belongs to a killed process (a store takes seconds to write).
_STALE_SCRATCH_S: Final = 3600.0
_UNITS: Final = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_SIZE: Final = re.compile(r"\s*(\d+)\s*([kmgt]?)(?:i?b)?\s*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CacheSettings:
    """The cache folder and cap in effect, and where each came from (for ``nectar cache``)."""

    root: Path
    max_bytes: int
    root_from: str
    max_from: str


@dataclass(frozen=True, slots=True)
class Entry:
    """One cached store: its folder, bytes on disk and last use (mtime, seconds)."""

    path: Path
    size: int
    used: float


def parse_size(value: object, where: str, position: Position | None = None) -> int:
    """Bytes from ``2147483648``, ``"2GiB"``, ``"500 MB"`` (binary units), ``"0"``.

    Raises:
        UsageError: not a whole number of bytes or a size with a unit.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        match = _SIZE.fullmatch(value)
        if match is not None:
            return int(match.group(1)) * _UNITS[match.group(2).lower()]
    raise UsageError(
        f"{where} is not a size",
        position=position,
        got=value,
        hint='write a whole number of bytes or a size such as "2GiB" or "500MiB"',
    )


def _platform_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("nectar", appauthor=False))


def cache_settings(
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    start: str | os.PathLike[str] | None = None,
) -> CacheSettings:
    """The cache in effect for a command run in ``start`` (default: the current folder).

    Raises:
        UsageError: a malformed size, or a project file that cannot be read.
    """
    from pytest_nectar.project.config import load_config

    config = load_config(start, expressions=False)  # only the cache keys are read here
    where = config.origin("cache_max_bytes").position
    env_dir = os.environ.get(ENV_DIR)
    if cache_dir is not None:
        root, root_from = Path(cache_dir), "--cache-dir"
    elif env_dir:
        root, root_from = Path(env_dir), f"${ENV_DIR}"
    elif config.cache is not None:
        root, root_from = config.cache, f"[tool.nectar] cache in {config.path}"
    else:
        root, root_from = _platform_dir(), "the platform's user cache folder"
    env_max = os.environ.get(ENV_MAX)
    if env_max:
        max_bytes, max_from = parse_size(env_max, f"${ENV_MAX}"), f"${ENV_MAX}"
    elif config.cache_max_bytes is not None:
        max_bytes = parse_size(config.cache_max_bytes, "[tool.nectar] cache_max_bytes", where)
        max_from = f"[tool.nectar] cache_max_bytes in {config.path}"
    else:
        max_bytes, max_from = DEFAULT_MAX_BYTES, "default"
    return CacheSettings(root, max_bytes, root_from, max_from)


def _size(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        with contextlib.suppress(OSError):  # removed meanwhile by another process
            total += path.lstat().st_size
    return total


def entries(root: Path) -> list[Entry]:
    """The cached stores, least recently used first (a missing folder has none)."""
    found = []
    try:
        children = list(root.iterdir())
    except OSError:
        return []
    for child in children:
        if not child.name.startswith(ENTRY_PREFIX):
            continue
        try:
            used = child.stat().st_mtime
        except OSError:
            continue
        found.append(Entry(child, _size(child), used))
    found.sort(key=lambda e: (e.used, e.path.name))
    return found


def touch(entry: Path) -> None:
    """Mark ``entry`` as used now (a read-only cache simply keeps its order)."""
    with contextlib.suppress(OSError):
        os.utime(entry)


def discard(entry: Path) -> bool:
    """Remove one entry: renamed away first (atomic), then deleted.  False if already gone."""
    grave = entry.with_name(f".evict-{uuid.uuid4().hex}")
    try:
        os.rename(entry, grave)
    except OSError:
        return False  # another process evicted it first, or the cache is read-only
    shutil.rmtree(grave, ignore_errors=True)
    return True


def _sweep_scratch(root: Path, older_than: float) -> None:
    """Delete scratch folders left by killed processes."""
    try:
        children = list(root.iterdir())
    except OSError:
        return
    now = time.time()
    for child in children:
        if not child.name.startswith(_SCRATCH):
            continue
        try:
            age = now - child.stat().st_mtime
        except OSError:
            continue
        if age < older_than:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def evict(root: Path, max_bytes: int, keep: Path | None = None) -> list[Entry]:
    """Remove least recently used entries until the cache fits ``max_bytes``; never ``keep``.

    Returns the entries this call removed (another process may remove others meanwhile).
    """
    _sweep_scratch(root, _STALE_SCRATCH_S)
    found = entries(root)
    total = sum(e.size for e in found)
    removed = []
    for entry in found:
        if total <= max_bytes:
            break
        if keep is not None and entry.path.name == keep.name:
            continue
        total -= entry.size
        if discard(entry.path):
            removed.append(entry)
    return removed


def clear(root: Path) -> tuple[list[Entry], int]:
    """Remove every entry, the file-digest index and scratch folders.

    Returns the entries removed and the bytes freed in all.
    """
    found = entries(root)
    removed = [e for e in found if discard(e.path)]
    freed = sum(e.size for e in removed)
    index = root / "index.json"
    try:
        freed += index.stat().st_size
        index.unlink()
    except OSError:
        pass
    _sweep_scratch(root, 0.0)
    return removed, freed
