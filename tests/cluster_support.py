"""A real local Dask cluster for tests: worker processes on 127.0.0.1, one thread each."""

from __future__ import annotations

from typing import Any

import pytest


def local_cluster(n_workers: int, **kwargs: Any) -> Any:
    """``distributed.LocalCluster`` of ``n_workers`` processes (a context manager); the
    scheduler's health endpoint on a free port, so parallel test workers do not collide."""
    dd = pytest.importorskip("distributed")
    return dd.LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        **kwargs,
    )
