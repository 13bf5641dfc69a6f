"""Options several sub-commands share, declared once so their names and help agree."""

from __future__ import annotations

import argparse

__all__ = ["add_cluster_option", "add_no_validate_option"]


def add_cluster_option(parser: argparse.ArgumentParser) -> None:
    """``--cluster``: replay, prove, explain and diff evaluate the corpus on Dask."""
    parser.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="evaluate the corpus on a Dask cluster: local:N worker processes here, or a "
        "scheduler such as tcp://host:8786 (default: [tool.nectar] cluster; needs "
        "pytest-nectar[cluster])",
    )


def add_no_validate_option(
    parser: argparse.ArgumentParser,
    help: str = "load a rules file as Refinery started with --no-validate does",
) -> None:
    """``--no-validate``: decide as Refinery does when started with that flag."""
    parser.add_argument("--no-validate", action="store_true", help=help)
