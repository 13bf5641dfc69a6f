"""A Nectar project: its configuration and expectations."""

from __future__ import annotations
