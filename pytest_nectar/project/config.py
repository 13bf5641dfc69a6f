"""The project's settings under their first names (kept for callers of 0.1).

Every key is declared in :mod:`pytest_nectar.project.settings` (the one declaration, with
types, defaults, meanings, option forms, validation and precedence); this module only
names it as before: :class:`NectarConfig` is :class:`~pytest_nectar.project.settings.
ProjectSettings` and :func:`load_config` is :func:`~pytest_nectar.project.settings.
load_settings`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_nectar.project.settings import KNOWN_KEYS, expand_policies, find_config
from pytest_nectar.project.settings import ProjectSettings as NectarConfig
from pytest_nectar.project.settings import load_settings as load_config

__all__ = [
    "KNOWN_KEYS",
    "NectarConfig",
    "Project",
    "expand_policies",
    "find_project",
    "load_config",
]


@dataclass(frozen=True, slots=True)
class Project:
    """The config file found and its raw Nectar table."""

    path: Path
    values: dict[str, Any]

    @property
    def root(self) -> Path:
        return self.path.parent


def find_project(start: str | os.PathLike[str] | None = None) -> Project | None:
    """The nearest ``nectar.toml`` or ``pyproject.toml`` with ``[tool.nectar]`` at or above."""
    found = find_config(start)
    return None if found is None else Project(found.path, found.values)
