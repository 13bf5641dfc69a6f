"""Options several sub-commands share, declared once so their names and help agree."""

from __future__ import annotations

import argparse

__all__ = ["add_engine_options", "add_no_validate_option"]


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """Where replay, prove, explain and diff evaluate the corpus: ``--partition-rows`` (a
    larger corpus is streamed from partitions on disk), ``--cluster`` (on Dask) and
    ``--cluster-storage`` (where its workers read the corpus)."""
    parser.add_argument(
        "--partition-rows",
        metavar="N",
        type=int,
        help="events per partition: a corpus estimated larger is read into partitions by "
        "trace id and streamed from disk (default: [tool.nectar] partition_rows, 1000000)",
    )
    parser.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="evaluate the corpus on a Dask cluster: local:N worker processes here, or a "
        "scheduler such as tcp://host:8786 (default: [tool.nectar] cluster; needs "
        "pytest-nectar[cluster])",
    )
    parser.add_argument(
        "--cluster-storage",
        metavar="PATH_OR_URL",
        help="with --cluster: publish the corpus stores there (a folder every worker reads, or "
        "an fsspec URL such as s3://bucket/nectar) for workers that do not share this disk "
        "(default: [tool.nectar] cluster_storage)",
    )


def add_no_validate_option(
    parser: argparse.ArgumentParser,
    help: str = "load a rules file as Refinery started with --no-validate does",
) -> None:
    """``--no-validate``: decide as Refinery does when started with that flag."""
    parser.add_argument("--no-validate", action="store_true", help=help)
