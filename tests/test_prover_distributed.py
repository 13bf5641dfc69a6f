"""``--cluster``: a real local Dask cluster (a scheduler and worker processes on 127.0.0.1)
gives byte for byte the single-process ``replay --json`` and ``prove --json``."""

from __future__ import annotations

import pickle
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import hypothesis.extra.numpy as npst
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_nectar.cli import main
from pytest_nectar.corpus import load_corpus
from pytest_nectar.corpus.store import store_path
from pytest_nectar.errors import UsageError
from pytest_nectar.prover import distributed
from tests.cli_support import run_cli, same_output
from tests.cluster_support import local_cluster
from tests.gate_support import ROOT

pytest.importorskip("distributed")

QUICKSTART = ROOT / "examples" / "quickstart"
CLUSTER = "local:2"
#: Fails fallback and error-preservation on the generated corpus: corpus witnesses.
FAILING = """\
RulesVersion: 2
Samplers:
  __default__:
    RulesBasedSampler:
      Rules:
        - Name: drop frontend
          Drop: true
          Conditions:
            - Field: service.name
              Operator: '='
              Value: frontend
        - Name: sample statuses
          SampleRate: 10
          Conditions:
            - Field: http.status_code
              Operator: exists
"""


@pytest.fixture(scope="module", autouse=True)
def _one_cluster() -> Iterator[None]:
    # Started by the first --cluster run, reused by the others, stopped here.
    yield
    distributed._close()


def test_quickstart_replay_prove_and_explain_are_the_same_bytes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(QUICKSTART)
    replayed = same_output(
        capsys, ("replay", "rules.yaml", "--corpus", "corpus", "--json"), "--cluster", CLUSTER
    )
    assert '"decisions"' in replayed
    proved = same_output(capsys, ("prove", "--json"), "--cluster", CLUSTER)
    assert '"verdict": "pass"' in proved
    explained = same_output(capsys, ("explain", "--format", "json"), "--cluster", CLUSTER)
    assert '"rules"' in explained


@pytest.fixture(scope="module")
def synth_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The quickstart's policies on a larger generated corpus (a failing verdict with
    witnesses included, so their order is compared too)."""
    root = tmp_path_factory.mktemp("synth-project")
    shutil.copytree(QUICKSTART / "policies", root / "policies")
    shutil.copy(QUICKSTART / "rules.yaml", root / "rules.yaml")
    (root / "failing.yaml").write_text(FAILING, encoding="utf-8")
    text = (QUICKSTART / "pyproject.toml").read_text(encoding="utf-8")
    (root / "pyproject.toml").write_text(
        text.replace('corpus = "corpus/"', 'corpus = "traces.jsonl"'), encoding="utf-8"
    )
    argv = ["corpus", "synth", "--seed", "7", "--traces", "3000"]
    assert main([*argv, "-o", str(root / "traces.jsonl")]) == 0
    return root


def test_generated_corpus_replay_and_prove_are_the_same_bytes(
    synth_project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(synth_project)
    capsys.readouterr()
    replayed = same_output(
        capsys, ("replay", "rules.yaml", "--corpus", "traces.jsonl", "--json"), "--cluster", CLUSTER
    )
    assert replayed.count('"trace_id"') > 3000
    proved = same_output(capsys, ("prove", "--json"), "--cluster", CLUSTER)
    assert '"verdict": "pass"' in proved
    failing = same_output(
        capsys,
        ("prove", "failing.yaml", "--json", "--error", "http.status_code >= 500"),
        "--cluster",
        CLUSTER,
    )
    assert failing.count('"trace_id"') >= 10  # corpus witnesses, in the same order


def test_the_cluster_setting_runs_on_the_cluster(
    synth_project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(synth_project)
    capsys.readouterr()
    _, alone = run_cli(capsys, "prove", "--json", "--property", "fallback")
    config = synth_project / "pyproject.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace("\n[tool.pytest]", f'cluster = "{CLUSTER}"\n\n[tool.pytest]'),
        encoding="utf-8",
    )
    calls: list[str] = []
    real = distributed.evaluate_on_cluster

    def spy(address: str, *args: object, **kwargs: object) -> object:
        calls.append(address)
        return real(address, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(distributed, "evaluate_on_cluster", spy)
    try:
        _, clustered = run_cli(capsys, "prove", "--json", "--property", "fallback")
    finally:
        config.write_text(text, encoding="utf-8")
    assert calls == [CLUSTER, CLUSTER]  # the two policies
    assert clustered == alone


def test_without_the_extra_the_error_names_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(QUICKSTART)
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    code = main(["replay", "rules.yaml", "--corpus", "corpus", "--cluster", "local:3"])
    _, err = capsys.readouterr()
    assert code == 2
    assert err == (
        "--cluster needs Dask's distributed scheduler, which is not installed; "
        "pip install 'pytest-nectar[cluster]'\n"
    )


def test_a_wrong_address_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(QUICKSTART)
    assert main(["prove", "--cluster", "host:8786"]) == 2
    _, err = capsys.readouterr()
    assert "--cluster has a wrong value; got 'host:8786'" in err


def test_a_wrong_cluster_setting_is_reported_at_its_key(tmp_path: Path) -> None:
    from pytest_nectar.project.settings import load_settings

    (tmp_path / "nectar.toml").write_text('cluster = "local:2"\n')
    assert load_settings(tmp_path).cluster == "local:2"
    assert "cluster" not in load_settings(tmp_path).to_json()  # never in a report
    (tmp_path / "nectar.toml").write_text('window_s = 5\ncluster = "local:0"\n')
    with pytest.raises(UsageError) as raised:
        load_settings(tmp_path)
    assert raised.value.render() == (
        f"{tmp_path / 'nectar.toml'}:2:11: [tool.nectar] cluster has the wrong type; "
        """got 'local:0'; local:N (N worker processes here) or an address such as """
        '"tcp://host:8786"'
    )


@pytest.fixture(scope="module")
def far_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A real cluster whose workers do not share the client's cache folder: its address,
    and the workers' own cache (where they copy what they read from shared storage)."""
    worker_cache = tmp_path_factory.mktemp("worker-cache")
    with local_cluster(2, env={"NECTAR_CACHE_DIR": str(worker_cache)}) as cluster:
        address = cluster.scheduler_address
        yield address, worker_cache
        made = distributed._CLIENTS.pop(address, None)
        if made is not None:
            made.close()


def _files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


@pytest.mark.parametrize("partitioned", [False, True], ids=["in-memory", "partitioned"])
def test_shared_storage_gives_the_same_bytes_and_is_written_once(
    partitioned: bool,
    far_cluster: tuple[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Workers with their own disk read the stores the client published under
    --cluster-storage (a file:// URL), named as in the client's cache; a second run finds
    them there, whole, and writes nothing."""
    from pytest_nectar.corpus import remote

    address, worker_cache = far_cluster
    monkeypatch.chdir(QUICKSTART)
    storage = tmp_path / "shared"
    replay = ["replay", "rules.yaml", "--corpus", "corpus", "--json"]
    alone = [run_cli(capsys, *replay), run_cli(capsys, "prove", "--json")]
    engine = ["--cluster", address, "--cluster-storage", storage.as_uri()]
    if partitioned:
        engine += ["--partition-rows", "40"]
    uploads: list[Path] = []
    real_upload = remote._upload

    def spy(fs: object, local: Path, remote_path: str) -> None:
        uploads.append(local)
        real_upload(fs, local, remote_path)

    monkeypatch.setattr(remote, "_upload", spy)
    for _ in range(2):
        before = _files(storage) if storage.exists() else {}
        clustered = [run_cli(capsys, *replay, *engine), run_cli(capsys, "prove", "--json", *engine)]
        assert clustered == alone
        if before:
            assert uploads == [] and _files(storage) == before  # nothing written again
        else:
            assert uploads
        uploads.clear()
    (folder,) = storage.iterdir()
    stores = sorted(folder.iterdir()) if partitioned else [folder]
    if partitioned:
        assert folder.name.endswith("-parts-40") and len(stores) > 10
        assert [s.name for s in stores] == [f"part-{k:05d}" for k in range(len(stores))]
    for store in stores:
        assert sorted(p.name for p in store.iterdir()) == ["arrays.bin", "meta.json"]
    # The workers read those copies, not the client's cache.
    copies = sorted(p.name for p in worker_cache.iterdir() if not p.name.startswith("."))
    expected = [f"{folder.name}-{s.name}" for s in stores] if partitioned else [folder.name]
    assert set(expected) <= set(copies)


def test_storage_that_cannot_be_written_is_a_usage_error(
    far_cluster: tuple[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    address, _ = far_cluster
    monkeypatch.chdir(QUICKSTART)
    replay = ["replay", "rules.yaml", "--corpus", "corpus", "--cluster", address]
    assert main([*replay, "--cluster-storage", "nosuch://bucket/nectar"]) == 2
    _, err = capsys.readouterr()
    assert err == (
        "nosuch://bucket/nectar: cannot write this kind of URL; Protocol not known: nosuch; "
        "give a path or a URL of a protocol fsspec knows (s3://, gs://, file://)\n"
    )
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    assert main([*replay, "--cluster-storage", str(blocked / "nectar")]) == 2
    _, err = capsys.readouterr()
    store = store_path(blocked / "nectar", load_corpus(QUICKSTART / "corpus").digest)
    assert err == (
        f"{store}: cannot write the corpus store to the cluster's shared storage; "
        "got 'Not a directory'; set cluster_storage (--cluster-storage) to a folder or URL "
        "this machine can write and every worker can read\n"
    )


def test_the_cluster_storage_setting(tmp_path: Path) -> None:
    from pytest_nectar.project.settings import load_settings

    (tmp_path / "nectar.toml").write_text('cluster_storage = "shared/nectar"\n')
    settings = load_settings(tmp_path)
    assert settings.cluster_storage == str((tmp_path / "shared" / "nectar").absolute())
    assert "cluster_storage" not in settings.to_json()  # never in a report
    url = "s3://bucket/nectar"
    assert settings.with_options(cluster_storage=url).cluster_storage == url
    (tmp_path / "nectar.toml").write_text("cluster_storage = 3\n")
    with pytest.raises(UsageError) as raised:
        load_settings(tmp_path)
    assert raised.value.render() == (
        f"{tmp_path / 'nectar.toml'}:1:19: [tool.nectar] cluster_storage has the wrong type; "
        """got 3; a folder every worker reads, or a URL such as "s3://bucket/nectar\""""
    )


def test_large_rules_are_sent_to_each_worker_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rules over SCATTER_BYTES go to the workers ahead of the tasks: the same bytes out."""
    monkeypatch.chdir(QUICKSTART)
    replay = ["replay", "rules.yaml", "--corpus", "corpus", "--json"]
    _, alone = run_cli(capsys, *replay)
    made = distributed.client(CLUSTER)
    scattered: list[int] = []
    real = made.scatter

    def spy(data: list[object], **kwargs: object) -> object:
        scattered.append(len(data))
        return real(data, **kwargs)

    monkeypatch.setattr(made, "scatter", spy)
    _, small = run_cli(capsys, *replay, "--cluster", CLUSTER)
    assert (small, scattered) == (alone, [])  # a 2 kB policy rides inside each task
    monkeypatch.setattr(distributed, "SCATTER_BYTES", 0)
    _, large = run_cli(capsys, *replay, "--cluster", CLUSTER)
    assert (large, scattered) == (alone, [2])  # the rules, and the probes


_DTYPES = st.sampled_from(["bool", "int8", "int16", "int32", "int64", "uint64", "float64"])


@given(_DTYPES.flatmap(lambda dtype: npst.arrays(dtype, st.integers(0, 70))))
def test_a_packed_array_travels_exactly(array: np.ndarray) -> None:  # type: ignore[type-arg]
    back = distributed.Packed.of(array).unpack()
    assert back.dtype == array.dtype
    assert back.tobytes() == array.tobytes()  # NaN payloads and -0.0 included


def test_a_partition_result_is_packed_smaller_and_unpacked_equal() -> None:
    from pytest_nectar.compiler.compile import load_rules_or_policy
    from pytest_nectar.corpus.partition import Partition

    corpus = load_corpus(QUICKSTART / "corpus")
    rules = load_rules_or_policy(str(QUICKSTART / "rules.yaml"))
    part = Partition(str(distributed.store_of(corpus)), 0, corpus.n_traces)
    probed = distributed.evaluate_partition(part, rules, None, [rules, rules])
    packed = distributed.PackedResult.of(probed)
    assert len(pickle.dumps(packed)) < 0.7 * len(pickle.dumps(probed))
    back = packed.unpack()
    assert [back.decisions.decision(i) for i in range(corpus.n_traces)] == [
        probed.decisions.decision(i) for i in range(corpus.n_traces)
    ]
    for name in ("rule_index", "rate", "keep", "keep_probability", "reason_code", "fallback"):
        assert getattr(back.decisions, name).dtype == getattr(probed.decisions, name).dtype
    assert all(np.array_equal(a, b) for a, b in zip(back.probes, probed.probes, strict=True))


def test_a_workers_tasks_of_one_run_share_first_sampler_answers() -> None:
    """The quickstart's downstream dynamic samplers: the tasks of one run on one worker share
    their fresh samplers' first answers, and decide exactly as tasks that share nothing."""
    from pytest_nectar.compiler.compile import load_rules_or_policy
    from pytest_nectar.corpus.partition import split

    corpus = load_corpus(QUICKSTART / "corpus")
    rules = load_rules_or_policy(str(QUICKSTART / "rules.yaml"))
    parts = split(distributed.store_of(corpus), corpus.n_traces, 3)
    env = "production"  # where the dynamic samplers are
    alone = [distributed.evaluate_partition(p, rules, env, []) for p in parts]
    shared = [distributed.evaluate_partition(p, rules, env, [], "run-1") for p in parts]
    answers = distributed._FIRST_CALLS["run-1"]
    assert answers  # the samplers' first answers, by rule slot, key and span count
    for a, b in zip(alone, shared, strict=True):
        assert [a.decisions.decision(i) for i in range(len(a.decisions))] == [
            b.decisions.decision(i) for i in range(len(b.decisions))
        ]
    distributed.evaluate_partition(parts[0], rules, env, [], "run-2")
    assert list(distributed._FIRST_CALLS) == ["run-2"]  # an earlier run's answers are gone


def test_dynamic_samplers_over_many_partitions_are_the_same_bytes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many tasks per worker, each sharing its run's first sampler answers."""
    monkeypatch.chdir(QUICKSTART)
    replay = ["replay", "rules.yaml", "--corpus", "corpus", "--env", "production", "--json"]
    _, alone = run_cli(capsys, *replay)
    _, clustered = run_cli(capsys, *replay, "--partition-rows", "40", "--cluster", CLUSTER)
    assert clustered == alone
    assert '"sample-rest"' in alone


def _environ(name: str) -> str | None:
    import os

    return os.environ.get(name)


def test_local_workers_start_with_the_adaptive_malloc_threshold_back() -> None:
    """Set before the worker process starts (glibc reads it once): arrays up to 64 MiB come
    from the heap, not a fresh mapping faulted in on every run."""
    made = distributed.client(CLUSTER)
    got = made.run(_environ, "MALLOC_MMAP_THRESHOLD_")
    assert len(got) == 2 and set(got.values()) == {str(1 << 26)}
