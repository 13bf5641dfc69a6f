"""Atomic writes: a crash leaves either the old file or the new one, never half of one.

A write that fails (a full disk, a read-only folder) is a located :class:`NectarError`, and
the old file is left as it was; files written together are all replaced or none.  Writing
through a symbolic link rewrites the file it points to and keeps the link, as editors do.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pytest_nectar.errors import NectarError, Position

__all__ = ["is_url", "write_atomic", "write_atomic_all"]

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")


def is_url(location: str) -> bool:
    """Whether ``location`` is a URL (``s3://...``, ``file:///...``) rather than a path."""
    return _URL.match(location) is not None


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename.

    Raises:
        NectarError: the file cannot be written (code ``io``, exit 2); ``path`` is unchanged.
    """
    write_atomic_all([(path, data)])


def write_atomic_all(files: Sequence[tuple[str | os.PathLike[str], str | bytes]]) -> None:
    """Write several files that belong together (rules and lock): all of them, or none.

    Every file is written to a temporary file first; only when all are on disk are they
    renamed into place, so a full disk leaves every old file as it was.

    Raises:
        NectarError: a file cannot be written (code ``io``, exit 2); no file is changed.
    """
    staged: list[tuple[str, Path]] = []
    current = Path(".")
    try:
        for path, data in files:
            current = Path(path)
            target = Path(os.path.realpath(current)) if current.is_symlink() else current
            staged.append((_stage(target, data), target))
        for tmp, target in staged:
            current = target
            os.replace(tmp, target)
    except OSError as err:
        raise NectarError(
            "cannot write file",
            position=Position(str(current)),
            got=err.strerror or str(err),
            hint=_hint(err),
            code="io",
        ) from None
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                Path(tmp).unlink(missing_ok=True)


def _stage(target: Path, data: str | bytes) -> str:
    """A temporary file beside ``target`` holding ``data``, with ``target``'s mode."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, target.stat().st_mode & 0o7777 if target.exists() else 0o644)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def _hint(err: OSError) -> str:
    kept = "any previous file is unchanged"
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full; {kept}"
    if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"the folder is read-only or not writable; {kept}"
    return kept
