"""``--cluster``: a real local Dask cluster (a scheduler and worker processes on 127.0.0.1)
gives byte for byte the single-process ``replay --json`` and ``prove --json``."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_nectar.cli import main
from pytest_nectar.errors import UsageError
from pytest_nectar.prover import distributed
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


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out


def _same(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, alone = _run(capsys, *argv)
    code_c, clustered = _run(capsys, *argv, "--cluster", CLUSTER)
    assert (code_c, clustered) == (code, alone)
    return alone


def test_quickstart_replay_prove_and_explain_are_the_same_bytes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(QUICKSTART)
    replayed = _same(capsys, "replay", "rules.yaml", "--corpus", "corpus", "--json")
    assert '"decisions"' in replayed
    proved = _same(capsys, "prove", "--json")
    assert '"verdict": "pass"' in proved
    explained = _same(capsys, "explain", "--format", "json")
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
    replayed = _same(capsys, "replay", "rules.yaml", "--corpus", "traces.jsonl", "--json")
    assert replayed.count('"trace_id"') > 3000
    proved = _same(capsys, "prove", "--json")
    assert '"verdict": "pass"' in proved
    failing = _same(capsys, "prove", "failing.yaml", "--json", "--error", "http.status_code >= 500")
    assert failing.count('"trace_id"') >= 10  # corpus witnesses, in the same order


def test_the_cluster_setting_runs_on_the_cluster(
    synth_project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(synth_project)
    capsys.readouterr()
    _, alone = _run(capsys, "prove", "--json", "--property", "fallback")
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
        _, clustered = _run(capsys, "prove", "--json", "--property", "fallback")
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
