"""The vectorised evaluation on a Dask cluster: one task per corpus partition, merged exactly.

``--cluster ADDRESS`` (or ``[tool.nectar] cluster``) names a running Dask scheduler
(``tcp://host:8786``) or ``local:N``, a cluster of N worker processes started here on
127.0.0.1.  Each task loads one :class:`~pytest_nectar.corpus.partition.Partition` by path,
or by URL from ``cluster_storage`` where the client published the stores first, and runs
:func:`~pytest_nectar.refinery.vector.evaluate_with_probes` on it; decisions are per trace
and a fresh sampler's, so a trace's decision and probe matches never depend on the other
traces of its partition.  The per-trace arrays come back (each fetched as its task ends,
while the others still run) and are placed in corpus order, the reason and key tables
united and the codes renumbered, so the merged
:class:`~pytest_nectar.refinery.vector.ProbedDecisions` equals the single-process one trace
by trace.  Per-rule totals, witnesses and budget windows are then read off it by the same
code as ever: the same figures, the same witnesses in the same order, the same bytes.

``distributed`` is the optional extra ``pytest-nectar[cluster]``; it is imported only here,
when a cluster is asked for.
"""

from __future__ import annotations

import atexit
import pickle
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from pytest_nectar.corpus.partition import Partition, split
from pytest_nectar.corpus.table import Corpus, TraceTable
from pytest_nectar.errors import CorpusError, Position, UsageError
from pytest_nectar.refinery.rules_model import RulesFile
from pytest_nectar.refinery.vector import CorpusDecisions, ProbedDecisions, evaluate_with_probes
from pytest_nectar.refinery.vector_outcomes import FirstCalls
from pytest_nectar.refinery.vector_parts import merge_probed

__all__ = [
    "LOCAL",
    "LOCAL_WORKER_ENVIRON",
    "SCATTER_BYTES",
    "Packed",
    "PackedResult",
    "evaluate_on_cluster",
    "evaluate_partition",
    "merge",
    "store_of",
]

#: ``local:N``: N worker processes on this machine.
LOCAL = re.compile(r"^local:([1-9][0-9]{0,3})$")
#: In a worker process: the fresh downstream samplers' first answers of the run its tasks
#: belong to (exact to share: they depend only on the rule, the sample key and the span count).
_FIRST_CALLS: dict[str, FirstCalls] = {}
# distributed.Client, untyped (the extra may be absent, and it ships no complete types).
_CLIENTS: dict[str, Any] = {}
#: Set in a ``local:N`` worker before it starts.  Dask sets glibc's MALLOC_TRIM_THRESHOLD_,
#: which turns off glibc's adaptive mmap threshold: every array over 128 kB is then a fresh
#: mapping, faulted in page by page on each run (4x the page faults, a fifth more CPU per
#: evaluation).  Arrays up to 64 MiB come from the heap again.
LOCAL_WORKER_ENVIRON: Final = {
    "distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": 1 << 26
}
#: Rules and probes larger than this (pickled) are sent to each worker once, ahead of the
#: tasks (a round trip, 5-20 ms); smaller ones ride inside each task (a policy of ten rules
#: and its probes: about 2 kB).
SCATTER_BYTES: Final = 1 << 20
_HINT = "use local:N (N worker processes here) or a scheduler address such as tcp://host:8786"


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise UsageError(
            "--cluster needs Dask's distributed scheduler, which is not installed",
            hint="pip install 'pytest-nectar[cluster]'",
        ) from None
    return distributed


def client(address: str) -> Any:
    """A client of ``address``, connected once per process (closed at exit).

    Raises:
        UsageError: ``distributed`` is missing, or the address is not valid or not reachable.
    """
    found = _CLIENTS.get(address)
    if found is not None:
        return found
    dd = _distributed()
    local = LOCAL.match(address)
    try:
        if local is not None:
            import dask

            with dask.config.set(LOCAL_WORKER_ENVIRON):
                cluster = dd.LocalCluster(
                    n_workers=int(local.group(1)),
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,  # no dashboard; its health endpoint on a free
                    scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # loopback port
                )
            made = dd.Client(cluster)
        elif "://" in address:
            made = dd.Client(address, timeout="10s")
        else:
            raise UsageError("--cluster has a wrong value", got=address, hint=_HINT)
    except (OSError, TimeoutError, ValueError) as err:
        raise UsageError(
            "cannot reach the Dask cluster", got=f"{address}: {err}", hint=_HINT
        ) from None
    _CLIENTS[address] = made
    return made


@atexit.register
def _close() -> None:
    for made in _CLIENTS.values():
        cluster = made.cluster
        made.close()
        if cluster is not None:
            cluster.close()
    _CLIENTS.clear()


def store_of(corpus: Corpus) -> Path:
    """The columnar store ``corpus`` was loaded from (the user's cache), written if absent."""
    from pytest_nectar.corpus import cache
    from pytest_nectar.corpus.store import save_store, store_path

    path = store_path(cache.cache_settings(None).root, corpus.digest).resolve()
    if not (path / "meta.json").exists():
        try:
            save_store(corpus, path)
        except OSError as err:
            raise CorpusError(
                "cannot write the corpus store the cluster's workers read",
                position=Position(str(path)),
                got=str(err),
                hint="set NECTAR_CACHE_DIR or [tool.nectar] cache to a writable shared folder",
            ) from None
    return path


def evaluate_partition(
    part: Partition,
    rules_file: RulesFile,
    env: str | None,
    probes: Sequence[RulesFile],
    evaluation: str | None = None,
) -> ProbedDecisions:
    """One task: the partition read from its path and evaluated (one thread per worker).

    The trace ids stay behind (the caller has them all): only numbers travel back.
    ``evaluation`` names the run the task belongs to: the tasks of one run on one worker
    share the fresh downstream samplers' first answers, as one process's partitions do.
    """
    first_calls = None
    if evaluation is not None:
        first_calls = _FIRST_CALLS.get(evaluation)
        if first_calls is None:
            _FIRST_CALLS.clear()  # one run at a time is kept: an earlier run's rules differ
            first_calls = _FIRST_CALLS[evaluation] = {}
    probed = evaluate_with_probes(
        rules_file, part.load(), env, probes=probes, threads=1, first_calls=first_calls
    )
    return replace(probed, decisions=replace(probed.decisions, trace_ids=()))


@dataclass(frozen=True, slots=True)
class Packed:
    """One per-trace array as it travels back, exactly: booleans as bits, integers in the
    narrowest type that holds their values (a rule index or a reason code fits one or two
    bytes), anything else as it is."""

    data: npt.NDArray[Any]
    dtype: str
    length: int

    @classmethod
    def of(cls, array: npt.NDArray[Any]) -> Packed:
        if array.dtype == np.bool_:
            return cls(np.packbits(array), "bool", len(array))
        if array.dtype.kind in "iu" and len(array):
            lo, hi = int(array.min()), int(array.max())
            for narrow in (np.int8, np.int16, np.int32):
                if np.iinfo(narrow).min <= lo and hi <= np.iinfo(narrow).max:
                    return cls(array.astype(narrow), array.dtype.str, len(array))
        return cls(array, array.dtype.str, len(array))

    def unpack(self) -> npt.NDArray[Any]:
        if self.dtype == "bool":
            return np.unpackbits(self.data, count=self.length).view(np.bool_)
        return self.data.astype(np.dtype(self.dtype), copy=False)


@dataclass(frozen=True, slots=True)
class PackedResult:
    """A partition's :class:`ProbedDecisions` as it travels: its arrays packed, no ids."""

    decisions: CorpusDecisions  # its arrays emptied: they are in ``arrays``
    arrays: dict[str, Packed]
    probes: tuple[Packed, ...]

    @classmethod
    def of(cls, probed: ProbedDecisions) -> PackedResult:
        d = probed.decisions
        names = [f.name for f in fields(d) if isinstance(getattr(d, f.name), np.ndarray)]
        arrays = {name: Packed.of(getattr(d, name)) for name in names}
        empty = {name: getattr(d, name)[:0] for name in names}
        return cls(replace(d, trace_ids=(), **empty), arrays, tuple(map(Packed.of, probed.probes)))

    def unpack(self) -> ProbedDecisions:
        arrays: dict[str, Any] = {name: packed.unpack() for name, packed in self.arrays.items()}
        return ProbedDecisions(
            replace(self.decisions, **arrays), tuple(p.unpack() for p in self.probes)
        )


def _task(
    part: Partition,
    rules_file: RulesFile,
    env: str | None,
    probes: Sequence[RulesFile],
    evaluation: str,
) -> PackedResult:
    return PackedResult.of(evaluate_partition(part, rules_file, env, probes, evaluation))


def merge(parts: Sequence[ProbedDecisions], trace_ids: Sequence[str]) -> ProbedDecisions:
    """Contiguous partition results, in corpus order, as one corpus's decisions and masks."""
    return merge_probed(parts, trace_ids)


def evaluate_on_cluster(
    address: str,
    rules_file: RulesFile,
    corpus: TraceTable,
    env: str | None = None,
    *,
    probes: Sequence[RulesFile] = (),
    partitions: int | None = None,
    storage: str | None = None,
) -> ProbedDecisions:
    """:func:`~pytest_nectar.refinery.vector.evaluate_with_probes` on the cluster at
    ``address``: one task per partition, merged exactly.

    A corpus in memory is written to (or found in) its store and split into ``partitions``
    trace ranges (default: one per worker thread); a corpus stored in partitions
    (``PartedCorpus``) gives one task per stored partition, read by the worker from its
    path, so the client never holds any rows.  ``storage`` (``cluster_storage``): workers that
    do not share this machine's disk read the stores from there, published first
    (:func:`~pytest_nectar.corpus.remote.publish_stores`); without it they read the paths.

    Raises:
        UsageError: no ``distributed``, or the cluster cannot be reached.
        NectarError: what the single-process evaluation raises (a worker's error, re-raised).
    """
    members: list[npt.NDArray[np.int64]] | None = None
    if isinstance(corpus, Corpus):
        if corpus.n_traces == 0:
            return evaluate_with_probes(rules_file, corpus, env, probes=probes)
        stores = [str(store_of(corpus))]
    else:
        from pytest_nectar.corpus.parts import PartedCorpus

        assert isinstance(corpus, PartedCorpus)
        members = [corpus.members(k) for k in range(corpus.n_parts)]
        stores = [str(path) for path in corpus.parts]
    if storage is not None:  # before any worker starts: a bad storage costs no cluster
        from pytest_nectar.corpus.remote import publish_stores

        shared = publish_stores(stores, storage)
        stores = [shared[store] for store in stores]
    made = client(address)
    threads = made.nthreads()
    if members is None:
        count = partitions if partitions is not None else max(1, sum(threads.values()))
        parts = split(stores[0], corpus.n_traces, count)
    else:
        parts = [Partition(store, 0, len(m)) for store, m in zip(stores, members, strict=True)]
    rules: Any = (rules_file, tuple(probes))
    if len(pickle.dumps(rules, protocol=pickle.HIGHEST_PROTOCOL)) > SCATTER_BYTES:
        rules = made.scatter(list(rules), broadcast=True, hash=False)  # once to each worker
    evaluation = uuid.uuid4().hex
    # Partition k goes to the same worker run after run (a preference: an idle worker still
    # takes it), so each worker keeps reading the pages it has mapped.
    workers = sorted(threads) or [None]
    futures = [
        made.submit(
            _task,
            part,
            rules_file=rules[0],
            env=env,
            probes=rules[1],
            evaluation=evaluation,
            workers=workers[k % len(workers)],
            allow_other_workers=True,
            pure=False,
        )
        for k, part in enumerate(parts)
    ]
    where = {future.key: k for k, future in enumerate(futures)}
    done: list[ProbedDecisions | None] = [None] * len(futures)
    try:
        # Each result is fetched as its task ends, while the later tasks still run.
        for future, result in _distributed().as_completed(futures, with_results=True):
            done[where[future.key]] = result.unpack()
    except (_distributed().KilledWorker, OSError) as err:  # a NectarError passes unchanged
        raise UsageError(
            "the Dask cluster failed while evaluating the corpus",
            got=f"{address}: {type(err).__name__}: {err}",
            hint="check the workers' logs (memory limits) and that they run pytest-nectar",
        ) from None
    finished = [d for d in done if d is not None]
    assert len(finished) == len(parts)  # every task ended, or its error was raised above
    return merge_probed(finished, corpus.trace_ids, members)
