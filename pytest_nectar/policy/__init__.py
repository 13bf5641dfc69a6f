"""The policy language: model, grammars, parsers, printer, checks, interpreter, aliases."""

from __future__ import annotations
