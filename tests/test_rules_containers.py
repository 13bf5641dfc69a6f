"""Rules where they live in practice: Helm values and ConfigMaps (read, and written back in
place with only the rules changed), Refinery 1.x files (converted as Refinery's tool does)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_nectar.cli import main
from pytest_nectar.errors import RulesError
from pytest_nectar.refinery.rules_reader import read_rules_text
from pytest_nectar.refinery.rules_splice import splice_rules
from pytest_nectar.refinery.rules_v1 import convert_v1, is_v1
from pytest_nectar.refinery.rules_writer import write_rules
from tests.realdata import REALDATA

HELM = """\
# Refinery values for production (kept byte for byte)
replicaCount: 3   # three replicas

rules:
  RulesVersion: 2
  Samplers:
    __default__:
      DeterministicSampler:
        SampleRate: 100   # old rate

# everything below stays
config:
  General: {ConfigurationVersion: 2}
resources:
  limits:
    cpu: "2"
"""

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: refinery-rules   # mounted by the deployment
  labels: {app: refinery}
data:
  rules.yaml: |
    RulesVersion: 2
    Samplers:
      __default__:
        DeterministicSampler:
          SampleRate: 1
  other.txt: keep me
"""

POLICY = """\
nectar_policy{version,name,environment,rules}:
  1
  prod
  prod
  rules[2]{name,description,match,action,priority}:
    keep-errors,,http.status >= 500,keep,100
    rest,,true,sample(1/10),0
"""
DEFAULT = "nectar_policy:\n  version: 1\n  name: default\n  sampler: deterministic(1/20)\n"


def _project(tmp_path: Path) -> list[str]:
    (tmp_path / "prod.toon").write_text(POLICY)
    (tmp_path / "default.toon").write_text(DEFAULT)
    return [str(tmp_path / "prod.toon"), str(tmp_path / "default.toon")]


def _unchanged_outside(before: str, after: str, first: int, last: int) -> None:
    """Every line outside [first, last] (1-based, in ``before``) is byte for byte the same."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    tail = len(old) - last
    assert new[: first - 1] == old[: first - 1]
    assert new[len(new) - tail :] == old[last:]


@pytest.mark.parametrize(
    ("name", "text", "first", "last"), [("values.yaml", HELM, 5, 9), ("cm.yaml", CONFIGMAP, 8, 12)]
)
def test_compile_writes_only_the_rules_back(
    name: str, text: str, first: int, last: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / name
    target.write_text(text)
    policies = _project(tmp_path)
    lock = str(tmp_path / "nectar.lock")
    assert main(["compile", *policies, "-o", str(target), "--lock", lock]) == 0
    after = target.read_text()
    _unchanged_outside(text, after, first, last)
    assert "# old rate" not in after  # it described the replaced rules
    loaded = read_rules_text(after, str(target))
    assert loaded.container is not None
    assert sorted(loaded.rules_file.samplers) == ["__default__", "prod"]
    assert main(["compile", *policies, "-o", str(target), "--lock", lock, "--check"]) == 0
    assert main(["validate", str(target)]) == 0
    capsys.readouterr()
    # a second compile changes nothing; a changed policy changes only the rules again
    assert main(["compile", *policies, "-o", str(target), "--lock", lock]) == 0
    assert target.read_text() == after


def test_helm_values_without_default_get_the_charts_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(
        "rules:\n  RulesVersion: 2\n  Samplers:\n    prod:\n      DeterministicSampler:\n"
        "        SampleRate: 5\nreplicaCount: 2\n"
    )
    assert main(["import", str(values), "-o", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "Refinery's Helm chart adds DeterministicSampler SampleRate 1" in out
    assert "prod: all traces: pass: proven: the same DeterministicSampler" in out
    assert (tmp_path / "out" / "prod.toon").read_text().endswith("  deterministic(1/5)\n")


def test_replay_and_validate_read_a_configmap_with_file_positions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cm = tmp_path / "cm.yaml"
    cm.write_text(CONFIGMAP.replace("SampleRate: 1", "SampleRate: 1.5"))
    assert main(["validate", str(cm)]) == 1
    err = capsys.readouterr().out
    assert f"{cm}:12:23: " in err  # the line and column inside the ConfigMap file


V1 = """\
Sampler: DeterministicSampler
SampleRate: 2
DryRun: true
web:
  Sampler: EMADynamicSampler
  GoalSampleRate: 5
  AdjustmentInterval: 30
  FieldList: [http.route]
  AddSampleRateKeyToTrace: true
api:
  SampleRate: 10
dyn:
  Sampler: DynamicSampler
  SampleRate: 3
  ClearFrequencySec: 90
  FieldList: [a]
rulesds:
  Sampler: RulesBasedSampler
  rule:
    - name: big
      SampleRate: 1
      condition:
        - field: bytes
          operator: ">"
          value: 2000000
    - name: present
      condition:
        - field: error
          operator: exists
"""


def test_a_1x_file_converts_as_refinerys_tool_does() -> None:
    loaded = read_rules_text(V1, "v1.yaml")
    assert is_v1(loaded)
    conversion = convert_v1(loaded)
    assert write_rules(conversion.loaded.rules_file) == (
        "RulesVersion: 2\n"
        "Samplers:\n"
        "  __default__:\n"
        "    DeterministicSampler:\n"
        "      SampleRate: 2\n"
        "  dyn:\n"
        "    DynamicSampler:\n"
        "      SampleRate: 3\n"
        "      ClearFrequency: 1m30s\n"
        "      FieldList:\n"
        "        - a\n"
        "  rulesds:\n"
        "    RulesBasedSampler:\n"
        "      Rules:\n"
        "        - Name: big\n"
        "          SampleRate: 1\n"
        "          Conditions:\n"
        "            - Field: bytes\n"
        "              Operator: '>'\n"
        "              Value: 2000000.0\n"
        "        - Name: present\n"
        "          Conditions:\n"
        "            - Field: error\n"
        "              Operator: 'exists'\n"
        "  web:\n"
        "    EMADynamicSampler:\n"
        "      GoalSampleRate: 5\n"
        "      AdjustmentInterval: 30s\n"
        "      FieldList:\n"
        "        - http.route\n"
    )
    assert conversion.changes == (
        "v1.yaml:3:1: top-level DryRun is not a v2 rule; the converter drops it",
        "v1.yaml:10:1: api has no Sampler (string), so the converter skips it and its traffic "
        "uses __default__",
        "web: AddSampleRateKeyToTrace is not a Refinery 2 EMADynamicSampler setting; the "
        "converter drops it",
        "web: EMADynamicSampler: Refinery 2 counts spans where 1.x counted traces; check its "
        "rate or goal (the converter's warning)",
        "dyn: DynamicSampler: Refinery 2 counts spans where 1.x counted traces; check its "
        "rate or goal (the converter's warning)",
        "rulesds rule 1 ('big'): Value 2000000 becomes the float 2e+06",
        "rulesds rule 2 ('present'): the converter writes 'Value: null', which Refinery 2 "
        "refuses; remove that line from the converted file",
    )


@pytest.mark.usefixtures("realdata")
def test_the_real_1x_toml_imports_completely(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = REALDATA / "refinery-rules" / "refinery-rules_complete.1.x.toml"
    assert main(["import", str(source), "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "converted a Refinery 1.x rules file as Refinery's `convert rules` tool does" in out
    assert sorted(p.stem for p in tmp_path.glob("*.toon")) == [
        "dataset1", "dataset2", "dataset3", "dataset4", "dataset5",
    ]  # fmt: skip
    assert (tmp_path / "dataset1.toon").read_text().splitlines()[-1] == (
        "  avg_dynamic(2 by request.method, http.target, response.status_code, clear=1m, "
        "use_trace_length=true)"
    )


def test_import_of_a_refused_file_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "v1.yaml"
    source.write_text(V1)
    assert main(["import", str(source), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        f"{source}: Within sampler rulesds: Within field RulesBasedSampler.Rules[1]: Within "
        "field Rules.Conditions[0]: field Conditions.Value must not be nil; Refinery refuses "
        "to load this file"
    )
    assert "what the 1.x conversion changed:" in err
    assert err[-1] == (
        f"{source}: not imported: Refinery would refuse this file (1 error(s)); nothing written"
    )
    assert not (tmp_path / "out").exists()


def test_compile_never_overwrites_a_file_that_holds_no_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "values.yaml"
    target.write_text("replicaCount: 3\nimage: {tag: v1}\n")
    lock = str(tmp_path / "nectar.lock")
    assert main(["compile", *_project(tmp_path), "-o", str(target), "--lock", lock]) == 2
    assert capsys.readouterr().err.strip() == (
        f"{target}: refusing to overwrite a file that is not a rules file; got 'image, "
        "replicaCount'; -o takes a rules file, Refinery's Helm values (rules:) or a ConfigMap "
        "holding rules.yaml; choose another path"
    )
    assert target.read_text() == "replicaCount: 3\nimage: {tag: v1}\n"


def test_validate_points_a_1x_file_to_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "v1.yaml"
    source.write_text(V1)
    assert main(["validate", str(source)]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"{source}: this is a Refinery 1.x rules file; 'nectar import {source} -o DIR' "
        "converts it as Refinery's convert tool does"
    )


CHART_SHAPED = """\
config:
  General:
    ConfigurationVersion: 2

rules:
  RulesVersion: 2
  Samplers: {}
    # The default sampler is used when no other sampler matches.

# RulesConfigMapName overrides the rules ConfigMap
RulesConfigMapName: ""
"""


@pytest.mark.parametrize(
    "text",
    [
        CHART_SHAPED,
        "replicaCount: 1\nrules: {}\nimage: x   # the tag\n",
        "replicaCount: 1\nrules:   # none yet\nimage: x\n",
    ],
    ids=["chart-values", "flow-empty", "null"],
)
def test_compile_fills_the_rules_of_any_helm_values_shape(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "values.yaml"
    target.write_text(text)
    lock = str(tmp_path / "nectar.lock")
    assert main(["compile", *_project(tmp_path), "-o", str(target), "--lock", lock]) == 0
    after = target.read_text()
    before_lines, after_lines = text.splitlines(), after.splitlines()
    start = next(i for i, line in enumerate(before_lines) if line.startswith("rules:"))
    assert after_lines[:start] == before_lines[:start]
    tail = [line for line in before_lines[start + 1 :] if not line.startswith(" ")]
    assert after_lines[-len(tail) :] == tail  # the keys after rules:, byte for byte
    loaded = read_rules_text(after, str(target))
    assert loaded.container is not None
    assert sorted(loaded.rules_file.samplers) == ["__default__", "prod"]


@pytest.mark.usefixtures("realdata")
def test_replay_prove_and_import_read_helm_values_and_configmaps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = str(REALDATA / "otlp" / "oteltui-test_data.json")
    values, cm = tmp_path / "values.yaml", tmp_path / "cm.yaml"
    values.write_text(HELM)
    cm.write_text(CONFIGMAP)
    lock = str(tmp_path / "nectar.lock")
    for target in (values, cm):
        assert main(["compile", *_project(tmp_path), "-o", str(target), "--lock", lock]) == 0
    capsys.readouterr()
    assert main(["replay", str(values), "--corpus", corpus, "--env", "prod", "--json"]) == 0
    replayed = capsys.readouterr().out
    assert main(["replay", str(cm), "--corpus", corpus, "--env", "prod", "--json"]) == 0
    same = capsys.readouterr().out.replace(str(cm), str(values))
    assert same == replayed  # the same rules, wherever they live
    args = ["--corpus", corpus, "--env", "prod", "--property", "error-preservation-all"]
    args += ["--error", "http.status >= 500"]  # what the compiled keep-errors rule keeps
    assert main(["prove", str(cm), *args]) == 0
    assert "PASS    error-preservation-all" in capsys.readouterr().out
    assert main(["import", str(cm), "-o", str(tmp_path / "out"), "--corpus", corpus]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        "reading the rules from a Kubernetes ConfigMap (under data: rules.yaml)"
    )
    assert "prod: corpus: pass: 141 of 141 traces alike" in out
    assert (tmp_path / "out" / "prod.toon").exists()


_keys = st.from_regex(r"[a-z][a-zA-Z0-9]{0,8}", fullmatch=True).filter(
    lambda k: k not in ("rules", "kind", "data", "true", "false", "null", "yes", "no", "on", "off")
)
_scalars = st.one_of(
    st.integers(-5, 10**6).map(str),
    st.from_regex(r'"[a-z /:.-]{0,12}"', fullmatch=True),
    st.sampled_from(["{}", "[]", "[a, b]", "{tag: v1}"]),
)
_comments = st.lists(
    st.one_of(st.just(""), st.from_regex(r"# [a-zA-Z0-9 ,.:-]{0,20}", fullmatch=True)), max_size=2
)


def _top_level(draw: st.DrawFn, keys: list[str]) -> str:
    lines: list[str] = []
    for key in keys:
        lines.extend(draw(_comments))
        value = draw(_scalars)
        note = draw(st.sampled_from(["", "   # why"]))
        lines.append(f"{key}: {value}{note}")
    return "".join(line + "\n" for line in lines)


@st.composite
def _around(draw: st.DrawFn) -> tuple[str, str]:
    """Helm values text before and after the rules: key (distinct keys, comments, blanks)."""
    keys = draw(st.lists(_keys, max_size=6, unique=True))
    cut = draw(st.integers(0, len(keys)))
    return _top_level(draw, keys[:cut]), _top_level(draw, keys[cut:])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_around(), st.sampled_from([2, 4]), st.integers(1, 30))
def test_splice_replaces_exactly_the_rules_block(
    around: tuple[str, str], indent: int, rate: int
) -> None:
    before, after = around
    pad = " " * indent
    old = (
        "RulesVersion: 2\nSamplers:\n  __default__:\n    DeterministicSampler:\n      SampleRate: 7"
    )
    block = "".join(f"{pad}{line}\n" for line in old.split("\n"))
    text = before + "rules:\n" + block + after
    loaded = read_rules_text(text, "values.yaml")
    assert loaded.container is not None
    new = write_rules(
        read_rules_text(
            f"RulesVersion: 2\nSamplers:\n  __default__:\n    DeterministicSampler:\n"
            f"      SampleRate: {rate}\n"
        ).rules_file
    )
    out = splice_rules(text, loaded.container, new, "values.yaml")
    body = "".join(f"{pad}{line}\n" for line in new.rstrip("\n").split("\n"))
    assert out == before + "rules:\n" + body + after


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_around(), st.sampled_from(["|", "|-"]), st.integers(1, 30))
def test_splice_replaces_exactly_the_configmap_text(
    around: tuple[str, str], style: str, rate: int
) -> None:
    before, after = around
    nested = [f"  {line}" if line else "" for line in after.split("\n")]
    inner = (
        "RulesVersion: 2\nSamplers:\n  __default__:\n    DeterministicSampler:\n      SampleRate: 1"
    )
    head = "apiVersion: v1\nkind: ConfigMap\n" + before + "data:\n"
    body = "".join(f"    {line}\n" for line in inner.split("\n"))
    text = head + f"  rules.yaml: {style}\n" + body + "\n".join(nested)
    loaded = read_rules_text(text, "cm.yaml")
    assert loaded.container is not None and loaded.container.kind == "configmap"
    new = inner.replace("SampleRate: 1", f"SampleRate: {rate}") + "\n"
    out = splice_rules(text, loaded.container, new, "cm.yaml")
    replaced = "".join(f"    {line}\n" for line in new.rstrip("\n").split("\n"))
    assert out == head + f"  rules.yaml: {style}\n" + replaced + "\n".join(nested)


@pytest.mark.parametrize(
    ("v1", "why"),
    [
        (
            "Sampler: DynamicSampler\nSampleRate: 2\nFieldList: '[a, b]'\n",
            "json: cannot unmarshal string into Go struct field DynamicSamplerConfig.fieldlist "
            "of type []string",
        ),
        (
            "Sampler: EMADynamicSampler\nGoalSampleRate: 2\nAdjustmentInterval: soon\n",
            'EMADynamicSamplerConfig.adjustmentinterval: time: invalid duration "soon"',
        ),
        ("Sampler: EMAThroughputSampler\n", "__default__: EMAThroughputSampler: no sampler found"),
    ],
    ids=["wrong-type", "bad-duration", "not-convertible"],
)
def test_the_converter_refuses_what_refinerys_tool_refuses(v1: str, why: str) -> None:
    with pytest.raises(RulesError) as info:
        convert_v1(read_rules_text(v1, "v1.yaml"))
    assert info.value.message == (
        f"v1.yaml: Refinery's converter refuses this 1.x rules file: {why}; fix the 1.x file so "
        "that `refinery convert rules` accepts it"
    )


def test_a_configmap_syntax_error_is_located_in_the_configmap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cm = tmp_path / "cm.yaml"
    cm.write_text(
        "kind: ConfigMap\ndata:\n  rules.yaml: |\n    RulesVersion: 2\n    Samplers: [a\n"
    )
    assert main(["import", str(cm), "-o", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.startswith(f"{cm}:6:5: YAML syntax error: ")
    (tmp_path / "file").write_text("")
    assert main(["import", str(cm), "-o", str(tmp_path / "file")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"{tmp_path / 'file'}: -o must be a folder; policies go in a folder"
    )


def test_helm_values_with_1x_rules_convert_and_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(
        "replicaCount: 2\nrules:\n  Sampler: DeterministicSampler\n  SampleRate: 4\n"
        "  api:\n    Sampler: DeterministicSampler\n    SampleRate: 8\n"
    )
    assert main(["import", str(values), "-o", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == [
        "reading the rules from Refinery's Helm chart values (under rules:)",
        "converted a Refinery 1.x rules file as Refinery's `convert rules` tool does",
    ]
    assert (tmp_path / "out" / "api.toon").read_text().endswith("  deterministic(1/8)\n")
    assert (tmp_path / "out" / "__default__.toon").read_text().endswith("  deterministic(1/4)\n")


def test_helm_templates_in_rules_are_refused_with_their_position(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(
        "rules:\n  RulesVersion: 2\n  Samplers:\n    __default__:\n      DeterministicSampler:\n"
        '        SampleRate: "{{ .Values.rate }}"\n'
    )
    assert main(["validate", str(values)]) == 1
    assert capsys.readouterr().out.startswith(
        f"{values}:6:21: a Helm template in the rules: the chart renders it at install (tpl), "
        "so the rules Refinery gets are not known here; got '{{ .Values.rate }}'; render the "
        "chart (helm template) and import the rules ConfigMap it writes"
    )
