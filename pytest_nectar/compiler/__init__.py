"""From policies to Refinery rules: compilation, import, the lockfile, project outputs."""

from __future__ import annotations
