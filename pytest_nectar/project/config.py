"""The project's settings: ``[tool.nectar]`` in ``pyproject.toml``, or a ``nectar.toml``.

Found from a folder upwards: the first folder with a ``nectar.toml`` (its top-level keys)
or a ``pyproject.toml`` holding a ``[tool.nectar]`` table.  Paths are relative to that
file's folder.  Keys (all optional):

=================  ==============================  ==============================================
key                type                            meaning
=================  ==============================  ==============================================
``policies``       glob or list of globs           the ``.toon`` policies (``nectar compile``,
                                                   ``prove``, the pytest plugin)
``corpus``         path or list of paths           trace files or folders; its digest goes in
                                                   the lock
``rules``          path, default ``rules.yaml``    the compiled Refinery rules file
``lock``           path, default ``nectar.lock``   the lockfile
``window_s``       number > 0, default 60          the budget window in seconds (prove, vopr)
``error``          match expression text           overrides every policy's ``error`` default
``seeds``          whole number >= 0, default 1    simulation seeds per policy (vopr, pytest)
``campaigns``      list of names                   simulation campaigns (pytest plugin)
``strict``         bool                            warnings fail (prove, pytest plugin)
``model``          text                            the Claude model (propose, refine)
``cache``          path                            the corpus cache folder (default: the user's
                                                   cache folder; ``$NECTAR_CACHE_DIR`` wins)
=================  ==============================  ==============================================

``cache_max_bytes`` (a whole number of bytes or a size such as ``"2GiB"``) caps the cache's
size; ``$NECTAR_CACHE_MAX_BYTES`` wins over it (see :mod:`pytest_nectar.corpus.cache`).

Unknown keys are reported as warnings (``NectarConfig.warnings``), not errors, so a newer
project file still works with an older Nectar.  Standard library only (``tomllib``).
"""

from __future__ import annotations

import difflib
import glob
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pytest_nectar.compiler.lockfile import toml_error_position
from pytest_nectar.errors import Position, UsageError

__all__ = ["KNOWN_KEYS", "NectarConfig", "Project", "find_project", "load_config"]

KNOWN_KEYS: Final = (
    "policies",
    "corpus",
    "rules",
    "lock",
    "window_s",
    "error",
    "seeds",
    "campaigns",
    "strict",
    "model",
    "cache",
    "cache_max_bytes",
)


@dataclass(frozen=True, slots=True)
class Project:
    """The config file found and its raw Nectar table."""

    path: Path
    values: dict[str, Any]

    @property
    def root(self) -> Path:
        return self.path.parent


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise UsageError(
            "cannot read config file", position=Position(str(path)), got=err.strerror
        ) from None
    except UnicodeDecodeError:
        raise UsageError("config file is not UTF-8", position=Position(str(path))) from None
    except tomllib.TOMLDecodeError as err:
        what, where = toml_error_position(err, str(path))
        raise UsageError(f"config file is not valid TOML: {what}", position=where) from None


def find_project(start: str | os.PathLike[str] | None = None) -> Project | None:
    """The nearest ``nectar.toml`` or ``pyproject.toml`` with ``[tool.nectar]`` at or above."""
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        own = folder / "nectar.toml"
        if own.is_file():
            return Project(own, _read_toml(own))
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            tool = _read_toml(pyproject).get("tool", {})
            table = tool.get("nectar") if isinstance(tool, dict) else None
            if isinstance(table, dict):
                return Project(pyproject, table)
    return None


@dataclass(frozen=True, slots=True)
class NectarConfig:
    """Typed settings with paths resolved against the config file's folder."""

    path: Path | None
    root: Path
    policies: tuple[str, ...]
    corpus: tuple[Path, ...] | None
    rules: Path
    lock: Path
    window_s: float
    error: str | None
    seeds: int
    warnings: tuple[str, ...]
    cache: Path | None = None
    cache_max_bytes: int | str | None = None

    def policy_files(self) -> list[Path]:
        """The policy globs expanded (sorted, each glob's matches in order, no duplicates)."""
        return expand_policies(self.policies, self.root)


def expand_policies(patterns: tuple[str, ...] | list[str], root: Path) -> list[Path]:
    out: list[Path] = []
    for pattern in patterns:
        full = pattern if os.path.isabs(pattern) else str(root / pattern)
        matches = sorted(glob.glob(full, recursive=True)) if glob.has_magic(full) else [full]
        for m in matches:
            p = Path(m)
            if p not in out:
                out.append(p)
    return out


def _bad(project: Project, key: str, got: object, hint: str) -> UsageError:
    return UsageError(
        f"[tool.nectar] {key} has the wrong type",
        position=Position(str(project.path)),
        got=got,
        hint=hint,
    )


def _strings(project: Project, key: str) -> tuple[str, ...] | None:
    value = project.values.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise _bad(project, key, value, "write a string or a list of strings")


def _path(project: Project, key: str, default: str) -> Path:
    value = project.values.get(key, default)
    if not isinstance(value, str) or not value:
        raise _bad(project, key, value, f'write a path such as "{default}"')
    return project.root / value


def load_config(start: str | os.PathLike[str] | None = None) -> NectarConfig:
    """The settings of the project at or above ``start`` (defaults when there is none).

    Raises:
        UsageError: the config file is unreadable or a key has the wrong type.
    """
    project = find_project(start)
    if project is None:
        root = Path(start if start is not None else Path.cwd())
        return NectarConfig(
            None, root, (), None, root / "rules.yaml", root / "nectar.lock", 60.0, None, 1, ()
        )
    warnings = []
    for key in sorted(project.values):
        if key not in KNOWN_KEYS:
            close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            warnings.append(f"{project.path}: unknown [tool.nectar] key {key!r}{hint}")
    corpus = _strings(project, "corpus")
    window = project.values.get("window_s", 60.0)
    if isinstance(window, bool) or not isinstance(window, int | float) or window <= 0:
        raise _bad(project, "window_s", window, "a positive number of seconds, e.g. 60")
    seeds = project.values.get("seeds", 1)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 0:
        raise _bad(project, "seeds", seeds, "a whole number >= 0")
    error = project.values.get("error")
    if error is not None and not isinstance(error, str):
        raise _bad(project, "error", error, 'a match expression, e.g. "http.status >= 500"')
    cache = _path(project, "cache", ".cache/nectar") if "cache" in project.values else None
    cap = project.values.get("cache_max_bytes")
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int | str)):
        raise _bad(project, "cache_max_bytes", cap, 'a number of bytes or a size such as "2GiB"')
    return NectarConfig(
        path=project.path,
        root=project.root,
        policies=_strings(project, "policies") or (),
        corpus=None if corpus is None else tuple(project.root / c for c in corpus),
        rules=_path(project, "rules", "rules.yaml"),
        lock=_path(project, "lock", "nectar.lock"),
        window_s=float(window),
        error=error,
        seeds=seeds,
        warnings=tuple(warnings),
        cache=cache,
        cache_max_bytes=cap,
    )
