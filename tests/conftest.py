"""Nectar's own suite: the policies under tests/data and tests/golden are inputs of tests,
not a policy repository, so the plugin must not collect them as policy items here."""

from __future__ import annotations

collect_ignore_glob = ["data/*", "golden/*"]
