"""A corpus stored in many small partitions gives, byte for byte, what the corpus in memory
gives: ``replay --json``, ``prove --json`` (verdicts, figures, witnesses in order),
``explain`` and ``diff`` in every format; and on a real Dask cluster, one task per stored
partition."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from pytest_nectar.compiler.compile import load_rules_or_policy as load_rules
from pytest_nectar.corpus import load_corpus
from pytest_nectar.corpus.parts import PartedCorpus, build_parted
from pytest_nectar.corpus.sizing import BYTES_PER_EVENT, estimated_events, open_corpus
from pytest_nectar.refinery.vector import evaluate_with_probes
from pytest_nectar.refinery.vector_parts import evaluate_parted, match_pieces, merge_probed
from pytest_nectar.trace import Trace
from tests.cli_support import run_cli, same_output
from tests.gate_support import ROOT

QUICKSTART = ROOT / "examples" / "quickstart"
#: Fails fallback and error-preservation: corpus witnesses to compare, in order.
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
        - Name: by status
          Sampler:
            EMADynamicSampler:
              GoalSampleRate: 5
              FieldList: [http.status_code, service.name]
          Conditions:
            - Field: http.status_code
              Operator: exists
"""
SMALL = "40"  # events per partition: the quickstart corpus becomes dozens of partitions


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("parted-project")
    shutil.copytree(QUICKSTART, root, dirs_exist_ok=True)
    (root / "failing.yaml").write_text(FAILING, encoding="utf-8")
    return root


def test_the_corpus_is_partitioned_only_past_partition_rows(project: Path) -> None:
    corpus = project / "corpus"
    events = estimated_events([corpus])
    size = sum(p.stat().st_size for p in corpus.rglob("*") if p.is_file())
    assert events == size // BYTES_PER_EVENT
    assert isinstance(open_corpus([corpus], partition_rows=events), type(load_corpus(corpus)))
    parted = open_corpus([corpus], partition_rows=int(SMALL))
    assert isinstance(parted, PartedCorpus) and parted.n_parts > 10
    assert parted.digest == load_corpus(corpus).digest


def test_decide_reads_one_trace_of_a_partitioned_corpus(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``nectar decide --corpus`` (the plugin's replay line) opens the corpus as replay
    does: past ``partition_rows`` in partitions, the trace's own partition read alone."""
    monkeypatch.chdir(project)
    corpus = load_corpus("corpus")
    trace_id = corpus.trace_ids[corpus.n_traces // 2]
    argv = ("decide", "rules.yaml", "--corpus", "corpus", "--trace-id", trace_id, "--json")
    whole = run_cli(capsys, *argv)
    text = (project / "pyproject.toml").read_text(encoding="utf-8")
    parted = project / "pyproject.toml"
    parted.write_text(text.replace("[tool.nectar]", f"[tool.nectar]\npartition_rows = {SMALL}"))
    try:
        opened: list[object] = []
        real = PartedCorpus.trace

        def traced(self: PartedCorpus, t: int) -> Trace:
            opened.append(t)
            return real(self, t)

        monkeypatch.setattr(PartedCorpus, "trace", traced)
        assert run_cli(capsys, *argv) == whole
        assert opened == [corpus.n_traces // 2]  # read from its partition
    finally:
        parted.write_text(text)
    assert whole[0] == 0 and '"rule' in whole[1]


def test_replay_prove_explain_and_diff_are_the_same_bytes(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    replayed = same_output(
        capsys, ("replay", "rules.yaml", "--corpus", "corpus", "--json"), "--partition-rows", SMALL
    )
    assert replayed.count('"trace_id"') > 100
    assert '"verdict": "pass"' in same_output(
        capsys, ("prove", "--json"), "--partition-rows", SMALL
    )
    failing = same_output(capsys, ("prove", "failing.yaml", "--json"), "--partition-rows", SMALL)
    assert '"verdict": "fail"' in failing and failing.count('"trace_id"') >= 5
    same_output(
        capsys, ("prove", "failing.yaml"), "--partition-rows", SMALL
    )  # the text, with its witness blocks
    for fmt in ("json", "md", "text"):
        same_output(
            capsys,
            (
                "explain",
                "--format",
                fmt,
            ),
            "--partition-rows",
            SMALL,
        )
    old, new = "policies/checkout.toon", "policies/production.toon"
    assert '"lost"' in same_output(
        capsys, ("diff", old, new, "--format", "json"), "--partition-rows", SMALL
    )


def test_merged_arrays_equal_the_in_memory_ones(project: Path) -> None:
    rules = load_rules(str(project / "failing.yaml"))
    whole = load_corpus(project / "corpus")
    parted = build_parted([project / "corpus"], project / "parts", part_rows=25)
    assert parted.n_parts > 20
    probe = load_rules(str(project / "rules.yaml"))
    expected = evaluate_with_probes(rules, whole, probes=[probe])
    got = evaluate_parted(rules, parted, probes=[probe])
    for name in ("rule_index", "rate", "keep", "keep_probability", "fallback"):
        assert np.array_equal(getattr(got.decisions, name), getattr(expected.decisions, name))
    for i in range(whole.n_traces):
        assert got.decisions.decision(i) == expected.decisions.decision(i)
    assert np.array_equal(got.probes[0], expected.probes[0])
    assert np.array_equal(match_pieces(probe, parted), expected.probes[0])


def test_members_must_cover_the_corpus(project: Path) -> None:
    rules = load_rules(str(project / "rules.yaml"))
    corpus = load_corpus(project / "corpus")
    one = evaluate_with_probes(rules, corpus)
    with pytest.raises(ValueError, match="do not cover"):
        merge_probed([one], corpus.trace_ids, [np.arange(3, dtype=np.int64)])


def test_a_cluster_reads_the_stored_partitions(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("distributed")
    from pytest_nectar.prover import distributed

    monkeypatch.chdir(project)
    try:
        argv = ("prove", "failing.yaml", "--json", "--partition-rows", SMALL)
        alone = run_cli(capsys, *argv)
        assert run_cli(capsys, *argv, "--cluster", "local:2") == alone
    finally:
        distributed._close()
