"""Jobs run by worker processes, their results given back in order as they are needed.

Big files are read by worker processes, a chunk each (:mod:`.json_lines`,
:mod:`.proto_stream`): the caller merges chunk k while the workers parse the chunks after
it.  At most two jobs per worker wait ahead of the caller, so the results in memory stay
bounded whatever the file's size; a caller that stops (a bad record) cancels the jobs not
yet started instead of waiting for them.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, TypeVar

__all__ = ["in_order"]

T = TypeVar("T")


def in_order(
    job: Callable[..., T],
    calls: Iterable[tuple[Any, ...]],
    workers: int,
    initializer: Callable[[], None] | None = None,
) -> Iterator[T]:
    """``job(*call)`` of every call, by ``workers`` forked processes, in the calls' order."""
    todo = iter(calls)
    pool = ProcessPoolExecutor(workers, mp_context=get_context("fork"), initializer=initializer)
    try:
        pending: deque[Future[T]] = deque(
            pool.submit(job, *call) for call in itertools.islice(todo, 2 * workers)
        )
        while pending:
            result = pending.popleft().result()
            call = next(todo, None)
            if call is not None:
                pending.append(pool.submit(job, *call))
            yield result
    finally:  # a caller that stops need not wait for the jobs after it
        pool.shutdown(wait=True, cancel_futures=True)
