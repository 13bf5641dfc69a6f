"""Nectar: prove, simulate and compile Honeycomb Refinery sampling policies, from pytest."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
