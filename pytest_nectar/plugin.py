"""pytest entry point (``pytest11``).  Kept import-light: heavy modules load lazily."""

from __future__ import annotations
