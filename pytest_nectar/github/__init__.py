"""The GitHub front end: workflow annotations."""

from __future__ import annotations
