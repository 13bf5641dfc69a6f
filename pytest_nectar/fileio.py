"""Atomic writes: a crash leaves either the old file or the new one, never half of one.

A write that fails (a full disk, a read-only folder) is a located :class:`NectarError`, and
the old file is left as it was.  Writing through a symbolic link rewrites the file it points
to and keeps the link, as editors do.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from pytest_nectar.errors import NectarError, Position

__all__ = ["write_atomic"]


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename.

    Raises:
        NectarError: the file cannot be written (code ``io``, exit 2); ``path`` is unchanged.
    """
    target = Path(path)
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    payload = data.encode("utf-8") if isinstance(data, str) else data
    tmp: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o7777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as err:
        raise NectarError(
            "cannot write file",
            position=Position(str(path)),
            got=err.strerror or str(err),
            hint=_hint(err),
            code="io",
        ) from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            Path(tmp).unlink(missing_ok=True)


def _hint(err: OSError) -> str:
    kept = "any previous file is unchanged"
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full; {kept}"
    if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"the folder is read-only or not writable; {kept}"
    return kept
