"""`nectar import` on every real rules file we hold, read in place from ../shared/realdata.

Every file Refinery loads imports completely (every environment) and each environment's
equivalence proof passes; the files Refinery itself refuses (or its 1.x converter stops on)
exit 2 with Refinery's messages and write nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_nectar.cli import main
from tests.realdata import REALDATA, names

RULES_DIR = REALDATA / "refinery-rules"
pytestmark = pytest.mark.usefixtures("realdata")

#: Files Refinery refuses to load, and the first message it gives (the reason they are real:
#: these are the files as published; Nectar must not pretend Refinery would run them).
REFUSED = {
    "helmcharts-sample-configs-rules_complete.v1.yaml": "Refinery's converter refuses this "
    "1.x rules file: dataset4 rule 1 ('drop healthchecks'): json: cannot unmarshal object "
    "into Go struct field RulesBasedSamplerRule.rule.condition",
    "hpsf-04-specify-environment-refinery.yaml": "RulesVersion is required",
    "hpsf-translator-fieldexistscondition_all.yaml": "field Conditions.Operator "
    "(does-not-exist) must be one of",
    "refinery-rules.json": "RulesVersion must be an int, but 2 is float64",
}
FILES = names("*", "refinery-rules")


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", [n for n in FILES if n not in REFUSED])  # all the others
def test_every_environment_imports_and_is_proven_equivalent(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_nectar.refinery.rules_reader import read_rules
    from pytest_nectar.refinery.rules_v1 import convert_v1, is_v1

    path = RULES_DIR / name
    code, out, err = _run(["import", str(path), "-o", str(tmp_path / "out")], capsys)
    assert code == 0, out + err
    loaded = read_rules(path)
    if is_v1(loaded):
        loaded = convert_v1(loaded).loaded
    envs = sorted(loaded.rules_file.samplers)
    verdicts = [line for line in out.splitlines() if ": all traces: " in line]
    assert [line.split(":")[0] for line in verdicts] == envs
    assert all(": all traces: pass: proven" in line for line in verdicts), verdicts
    written = sorted(p.stem for p in (tmp_path / "out").glob("*.toon"))
    default_is_compiler_default = "note: __default__: DeterministicSampler SampleRate 1" in out
    expected = [e for e in envs if not (e == "__default__" and default_is_compiler_default)]
    assert written == sorted(e.replace("/", "_") for e in expected)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_files_exit_2_with_refinerys_message_and_write_nothing(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = _run(["import", str(RULES_DIR / name), "-o", str(tmp_path / "out")], capsys)
    assert code == 2
    assert REFUSED[name] in err
    assert not (tmp_path / "out").exists()


def test_corpus_replay_equality_on_a_real_capture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = REALDATA / "otlp" / "oteltui-test_data.json"
    code, out, _ = _run(
        [
            "import",
            str(RULES_DIR / "devreldemo-rules.yaml"),
            "-o",
            str(tmp_path / "out"),
            "--corpus",
            str(corpus),
        ],
        capsys,
    )
    assert code == 0
    lines = out.splitlines()
    assert "demo: corpus: pass: 141 of 141 traces alike" in lines
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    shown = [line for line in lines if line.startswith("demo: ")]
    assert "\n".join(shown) in readme  # the README's example output is this run's


@pytest.mark.parametrize("name", names("*", "otel-tailsampling"))
def test_collector_tail_sampling_config_gets_one_clear_message(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = REALDATA / "otel-tailsampling" / name
    code, _out, err = _run(["import", str(path), "-o", str(tmp_path / "out")], capsys)
    assert code == 2
    (line,) = err.strip().splitlines()
    assert line.startswith(str(path) + ":")
    assert line.endswith(
        ": this is an OpenTelemetry Collector configuration with a tail_sampling processor, "
        "not a Refinery rules file; got 'tail_sampling'; Nectar reads Refinery rules "
        "(RulesVersion: 2, Samplers: ...), plain, in Refinery's Helm values (rules:) or in a "
        "ConfigMap (data: rules.yaml); the collector's policies are a different sampler and "
        "are not converted"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("name", "envs"),
    [
        ("refinery-rules.json", ["TheNewWorld", "__default__"]),
        ("hpsf-04-specify-environment-refinery.yaml", ["MyEnvironment"]),
    ],
)
def test_no_validate_imports_what_refinery_decodes_with_that_flag(
    name: str, envs: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["import", str(RULES_DIR / name), "-o", str(tmp_path / "out"), "--no-validate"]
    code, out, err = _run(args, capsys)
    assert code == 0, out + err
    assert "unless started with --no-validate; importing what it decodes then" in out
    verdicts = [line for line in out.splitlines() if ": all traces: " in line]
    assert [line.split(":")[0] for line in verdicts] == envs
    assert all(": all traces: pass: proven" in line for line in verdicts)
