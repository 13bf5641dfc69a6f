"""``python -m pytest_nectar``: the ``nectar`` command."""

from __future__ import annotations

import sys

from pytest_nectar.cli import main

sys.exit(main())
