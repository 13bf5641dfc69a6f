"""The pytest front end: hooks, items, checks, options, session state, summary."""

from __future__ import annotations
