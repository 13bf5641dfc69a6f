"""A Nectar project: its settings (declared once), expectations, and the one session that
evaluates it and whose result every front end reads."""

from __future__ import annotations
