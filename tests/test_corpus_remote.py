"""Corpus stores on shared storage: a partition given by fsspec URL is fetched once into the
worker's cache, checked, and evaluates exactly like the store read by path.

The "shared storage" is real fsspec: its LocalFileSystem behind ``file://`` URLs, and its
in-process MemoryFileSystem behind ``memory://`` (no network)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import fsspec
import fsspec.implementations.local
import numpy as np
import pytest

from pytest_nectar.compiler.compile import load_rules_or_policy
from pytest_nectar.corpus import load_corpus, partition
from pytest_nectar.corpus.partition import Partition, slice_corpus, split
from pytest_nectar.corpus.parts import load_parted
from pytest_nectar.corpus.remote import is_url, publish_stores
from pytest_nectar.corpus.store import StoreError, save_store, store_path
from pytest_nectar.corpus.table import Corpus
from pytest_nectar.errors import UsageError
from pytest_nectar.prover.distributed import evaluate_partition, merge
from pytest_nectar.refinery.vector import evaluate_with_probes
from tests.cluster_support import local_cluster
from tests.gate_support import ROOT

QUICKSTART = ROOT / "examples" / "quickstart"


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return load_corpus(QUICKSTART / "corpus")


@pytest.fixture(autouse=True)
def _fresh_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # A worker process opens each store once; every test here is a new worker with its own
    # empty cache folder.
    monkeypatch.setenv("NECTAR_CACHE_DIR", str(tmp_path / "worker-cache"))
    partition._opened.cache_clear()
    yield
    partition._opened.cache_clear()


@pytest.fixture
def shared(corpus: Corpus, tmp_path: Path) -> Path:
    """The corpus's store on the "shared storage" (a folder outside the worker's cache)."""
    folder = store_path(tmp_path / "bucket" / "prefix", corpus.digest)
    save_store(corpus, folder)
    return folder


def _worker_cache(tmp_path: Path) -> list[str]:
    root = tmp_path / "worker-cache"
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def test_urls_and_paths() -> None:
    for url in ["s3://bucket/corpus-ab", "file:///tmp/corpus-ab", "memory://x/corpus-ab"]:
        assert is_url(url)
    for path in ["/tmp/corpus-ab", "corpus-ab", "C:/cache/corpus-ab", "./s3:/x", ""]:
        assert not is_url(path)


def test_a_partition_loads_from_a_file_url_copied_once(
    corpus: Corpus, shared: Path, tmp_path: Path
) -> None:
    part = Partition(shared.as_uri(), 10, 30).load()
    assert part.trace_ids == corpus.trace_ids[10:30]
    assert [part.trace(i) for i in range(20)] == [corpus.trace(10 + i) for i in range(20)]
    copy = tmp_path / "worker-cache" / shared.name
    assert _worker_cache(tmp_path) == [shared.name]  # no scratch folder left behind
    for name in ["meta.json", "arrays.bin"]:
        assert (copy / name).read_bytes() == (shared / name).read_bytes()
    # A later run on this worker reads its copy: the shared store is not read again.
    (shared / "arrays.bin").unlink()
    partition._opened.cache_clear()
    assert Partition(shared.as_uri(), 0, 5).load().trace_ids == corpus.trace_ids[:5]


def test_a_partition_loads_from_fsspec_memory(corpus: Corpus, shared: Path) -> None:
    fs = fsspec.filesystem("memory")
    remote = f"/bucket-{shared.name}/prefix/{shared.name}"
    for name in ["meta.json", "arrays.bin"]:
        fs.pipe_file(f"{remote}/{name}", (shared / name).read_bytes())
    try:
        part = Partition(f"memory://{remote}", 3, corpus.n_traces).load()
    finally:
        fs.rm(remote, recursive=True)
    assert part.trace_ids == corpus.trace_ids[3:]
    assert part.trace(0) == corpus.trace(3)


def test_a_url_partition_evaluates_like_the_path_one(corpus: Corpus, shared: Path) -> None:
    rules = load_rules_or_policy(str(QUICKSTART / "rules.yaml"))
    got = evaluate_partition(Partition(shared.as_uri(), 5, 40), rules, None, [])
    want = evaluate_with_probes(rules, slice_corpus(corpus, 5, 40), threads=1)
    assert np.array_equal(got.decisions.rule_index, want.decisions.rule_index)
    assert [got.decisions.decision(i) for i in range(35)] == [
        want.decisions.decision(i) for i in range(35)
    ]


def test_a_damaged_copy_is_fetched_again(corpus: Corpus, shared: Path, tmp_path: Path) -> None:
    Partition(shared.as_uri(), 0, 1).load()
    copy = tmp_path / "worker-cache" / shared.name / "arrays.bin"
    copy.write_bytes(copy.read_bytes()[:100])
    partition._opened.cache_clear()
    assert Partition(shared.as_uri(), 0, 4).load().trace(3) == corpus.trace(3)
    assert copy.read_bytes() == (shared / "arrays.bin").read_bytes()
    assert _worker_cache(tmp_path) == [shared.name]


def test_a_damaged_shared_store_is_refused_and_not_cached(shared: Path, tmp_path: Path) -> None:
    arrays = shared / "arrays.bin"
    size = arrays.stat().st_size
    arrays.write_bytes(arrays.read_bytes()[:1000])
    url = shared.as_uri()
    with pytest.raises(StoreError) as info:
        Partition(url, 0, 1).load()
    assert str(info.value) == (
        f"{url}: shared corpus store is truncated or corrupt; "
        f"got 'arrays.bin has 1,000 bytes, meta.json says {size:,}'; "
        "write the store again where the workers read it"
    )
    assert _worker_cache(tmp_path) == []


def test_a_store_of_another_corpus_than_its_name_is_refused(shared: Path, tmp_path: Path) -> None:
    other = shared.rename(shared.with_name("corpus-0123456789abcdef"))
    with pytest.raises(StoreError, match="holds another corpus than its name says; got '"):
        Partition(other.as_uri(), 0, 1).load()
    assert _worker_cache(tmp_path) == []


def test_a_missing_shared_store(tmp_path: Path) -> None:
    url = (tmp_path / "bucket" / "corpus-0123456789abcdef").as_uri()
    with pytest.raises(StoreError) as info:
        Partition(url, 0, 1).load()
    assert str(info.value).startswith(
        f"{url}: cannot read the shared corpus store; got 'meta.json: FileNotFoundError: "
    )
    assert _worker_cache(tmp_path) == []


def test_a_url_that_is_not_a_store_folder(tmp_path: Path) -> None:
    url = (tmp_path / "bucket" / "traces").as_uri()
    with pytest.raises(StoreError) as info:
        Partition(url, 0, 1).load()
    assert str(info.value) == (
        f"{url}: a shared corpus store is a folder named corpus-<digest> (or a part-<k> in "
        "one); got 'traces'; "
        "give the URL of the store folder itself, as `nectar` wrote it"
    )


def test_an_unknown_protocol() -> None:
    with pytest.raises(UsageError) as info:
        Partition("nosuch://bucket/corpus-0123", 0, 1).load()
    assert str(info.value) == (
        "nosuch://bucket/corpus-0123: cannot read this kind of URL; "
        "Protocol not known: nosuch; "
        "give a path or a URL of a protocol fsspec knows (s3://, gs://, file://)"
    )


def test_without_fsspec_a_url_is_a_usage_error_and_a_path_still_loads(
    corpus: Corpus, shared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "fsspec", None)  # import fsspec raises ImportError
    with pytest.raises(UsageError) as info:
        Partition(shared.as_uri(), 0, 1).load()
    assert str(info.value) == (
        f"{shared.as_uri()}: reading a corpus store from a URL needs fsspec, which is not "
        "installed; "
        "pip install 'pytest-nectar[cluster]' (Dask brings fsspec), or give a path"
    )
    assert Partition(str(shared), 0, 2).load().trace_ids == corpus.trace_ids[:2]


def test_a_file_url_into_the_workers_own_cache_is_read_in_place(
    corpus: Corpus, tmp_path: Path
) -> None:
    own = store_path(tmp_path / "worker-cache", corpus.digest)
    save_store(corpus, own)
    assert Partition(own.as_uri(), 0, 2).load().trace_ids == corpus.trace_ids[:2]
    assert _worker_cache(tmp_path) == [own.name]


def test_a_protocol_whose_package_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "s3fs", None)  # as on a worker without s3fs
    with pytest.raises(UsageError) as info:
        Partition("s3://bucket/prefix/corpus-0123", 0, 1).load()
    assert str(info.value) == (
        "s3://bucket/prefix/corpus-0123: cannot read this kind of URL here; "
        "Install s3fs to access S3"
    )


def test_a_dask_worker_process_reads_partitions_by_url(
    corpus: Corpus, shared: Path, tmp_path: Path
) -> None:
    """A real worker process (its cache folder inherited from here) fetches the store once."""
    dd = pytest.importorskip("distributed")
    rules = load_rules_or_policy(str(QUICKSTART / "rules.yaml"))
    parts = split(shared.as_uri(), corpus.n_traces, 3)
    with local_cluster(1) as cluster, dd.Client(cluster) as client:
        futures = client.map(evaluate_partition, parts, rules_file=rules, env=None, probes=[])
        merged = merge(client.gather(futures), corpus.trace_ids)
    whole = evaluate_with_probes(rules, corpus)
    assert merged.decisions.rule_totals(corpus) == whole.decisions.rule_totals(corpus)
    assert [merged.decisions.decision(i) for i in range(corpus.n_traces)] == [
        whole.decisions.decision(i) for i in range(corpus.n_traces)
    ]
    assert _worker_cache(tmp_path) == [shared.name]


def test_the_partitions_of_a_parted_corpus_load_by_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A corpus stored in partitions on shared storage: each part-<k> is fetched on its own."""
    parted = load_parted(QUICKSTART / "corpus", part_rows=500, cache_dir=tmp_path / "client")
    assert parted.n_parts > 2
    for k, path in enumerate(parted.parts):
        got = Partition(path.as_uri(), 0, len(parted.members(k))).load()
        want = parted.part(k)
        assert got.trace_ids == want.trace_ids
        assert [got.trace(i) for i in range(got.n_traces)] == list(want.iter_traces())
    copies = _worker_cache(tmp_path)
    assert copies == [f"{parted.parts[0].parent.name}-{p.name}" for p in parted.parts]
    # A part's copy is checked against the part's own digest: another part's is refused (on
    # a worker that has no copy yet: one it has is the part, whatever the URL now holds).
    monkeypatch.setenv("NECTAR_CACHE_DIR", str(tmp_path / "other-worker"))
    first, second = parted.parts[0], parted.parts[1]
    wrong = tmp_path / "elsewhere" / first.parent.name / first.name
    wrong.parent.mkdir(parents=True)
    shutil.copytree(second, wrong)
    partition._opened.cache_clear()
    with pytest.raises(StoreError, match="holds another corpus than its name says"):
        Partition(wrong.as_uri(), 0, 1).load()


# -- publishing: the client puts the stores where the workers read them --------------------


def test_a_published_store_loads_by_url_and_is_written_once(
    corpus: Corpus, shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Published under memory:// (fsspec's in-process store): arrays.bin, then meta.json,
    each renamed into place; a second publish finds the whole store and writes nothing."""
    fs = fsspec.filesystem("memory")
    moved: list[str] = []
    real_mv = type(fs).mv

    def spy(self: object, path1: str, path2: str, **kwargs: object) -> None:
        moved.append(path2.rsplit("/", 1)[-1])
        real_mv(self, path1, path2, **kwargs)

    monkeypatch.setattr(type(fs), "mv", spy)
    storage = f"memory://bucket-{tmp_path.name}/nectar/"
    try:
        published = publish_stores([shared], storage)
        url = f"memory://bucket-{tmp_path.name}/nectar/{shared.name}"
        assert published == {str(shared): url}
        assert moved == ["arrays.bin", "meta.json"]  # meta.json last: it commits the store
        assert sorted(p.rsplit("/", 1)[-1] for p in fs.ls(url, detail=False)) == [
            "arrays.bin",
            "meta.json",
        ]
        assert publish_stores([shared], storage) == published
        assert moved == ["arrays.bin", "meta.json"]  # nothing written again
        part = Partition(url, 2, 9).load()
    finally:
        fs.rm(f"/bucket-{tmp_path.name}", recursive=True)
    assert part.trace_ids == corpus.trace_ids[2:9]
    assert part.trace(0) == corpus.trace(2)


def test_an_incomplete_published_store_is_written_again(shared: Path, tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    target = storage / shared.name
    target.mkdir(parents=True)
    (target / "meta.json").write_bytes((shared / "meta.json").read_bytes())
    (target / "arrays.bin").write_bytes((shared / "arrays.bin").read_bytes()[:100])
    assert publish_stores([shared], str(storage)) == {str(shared): str(target)}
    assert (target / "arrays.bin").read_bytes() == (shared / "arrays.bin").read_bytes()
    assert sorted(p.name for p in target.iterdir()) == ["arrays.bin", "meta.json"]


def test_a_publish_cut_short_leaves_no_store_a_worker_would_take(
    shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = tmp_path / "storage"
    real_put = fsspec.implementations.local.LocalFileSystem.put_file

    def put(self: object, path1: str, path2: str, **kwargs: object) -> None:
        if path1.endswith("meta.json"):
            raise OSError(28, "No space left on device")
        real_put(self, path1, path2, **kwargs)

    monkeypatch.setattr(fsspec.implementations.local.LocalFileSystem, "put_file", put)
    with pytest.raises(UsageError) as info:
        publish_stores([shared], storage.as_uri())
    url = f"{storage.as_uri()}/{shared.name}"
    assert str(info.value) == (
        f"{url}: cannot write the corpus store to the cluster's shared storage; "
        "got 'No space left on device'; set cluster_storage (--cluster-storage) to a folder "
        "or URL this machine can write and every worker can read"
    )
    assert sorted(p.name for p in (storage / shared.name).iterdir()) == ["arrays.bin"]
    with pytest.raises(StoreError, match=r"cannot read the shared corpus store; got 'meta\.json"):
        Partition(url, 0, 1).load()
    assert _worker_cache(tmp_path) == []


def test_only_store_folders_are_published(tmp_path: Path) -> None:
    folder = tmp_path / "traces"
    folder.mkdir()
    with pytest.raises(StoreError, match="a shared corpus store is a folder named corpus-"):
        publish_stores([folder], str(tmp_path / "storage"))
    assert not (tmp_path / "storage").exists()


def test_a_backend_error_that_is_not_an_oserror_is_a_usage_error(
    shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As s3fs lets botocore's NoCredentialsError through: the storage's fault, said so."""

    class NoCredentialsError(Exception):
        pass

    def refuse(self: object, path: str, **kwargs: object) -> bytes:
        raise NoCredentialsError("Unable to locate credentials")

    monkeypatch.setattr(fsspec.implementations.local.LocalFileSystem, "cat_file", refuse)
    storage = (tmp_path / "storage").as_uri()
    with pytest.raises(UsageError) as info:
        publish_stores([shared], storage)
    assert str(info.value) == (
        f"{storage}/{shared.name}: cannot write the corpus store to the cluster's shared "
        "storage; got 'NoCredentialsError: Unable to locate credentials'; set cluster_storage "
        "(--cluster-storage) to a folder or URL this machine can write and every worker can read"
    )
