"""Validation: Refinery's load-time errors verbatim and located, and the silent-trap warnings."""

# ruff: noqa: E501  (verbatim messages and inline rules files)
from __future__ import annotations

from pathlib import Path

import pytest

from pytest_nectar.errors import RulesError
from pytest_nectar.refinery.rules_reader import read_rules_text
from pytest_nectar.refinery.rules_validate import (
    ValidationReport,
    closest_names,
    parse_go_duration,
    validate_loaded,
    validate_path,
)
from tests.realdata import REALDATA, files, or_absent

RULES_DIR = REALDATA / "refinery-rules"
SUFFIX = "; Refinery refuses to load this file"


def check(text: str, fmt: str = "yaml") -> ValidationReport:
    return validate_loaded(read_rules_text(text, f"r.{fmt}", fmt))


def errors(text: str, fmt: str = "yaml") -> list[str]:
    return [d.message for d in check(text, fmt).errors]


def warnings(text: str) -> list[tuple[str, int]]:
    return [(d.code, d.position.line if d.position else 0) for d in check(text).warnings]


# What Refinery says about every real file (its own ValidateRules messages).
EXPECTED_ERRORS: dict[str, list[str]] = {
    # helmcharts-ci-rules-values.yaml is Helm chart values: its rules (under rules:) are valid
    "helmcharts-sample-configs-rules_complete.v1.yaml": [
        "7:1: RulesVersion is required",
        "7:1: Samplers is required",
        "7:1: unknown top-level key DryRun",
        "15:1: unknown top-level key Sampler",
        "22:1: unknown top-level key SampleRate",
        "39:1: unknown top-level key dataset1",
        "103:1: unknown top-level key dataset2",
        "216:1: unknown top-level key dataset3",
        "220:1: unknown top-level key dataset4",
        "270:1: unknown top-level key dataset5",
    ],
    "hpsf-04-specify-environment-refinery.yaml": [
        "1:1: RulesVersion is required",
        "2:3: Samplers must include a __default__ sampler",
    ],
    "hpsf-translator-fieldexistscondition_all.yaml": [
        "11:33: Within sampler __default__: Within field RulesBasedSampler.Rules[0]: "
        "Within field Rules.Conditions[0]: field Conditions.Operator (does-not-exist) must be "
        "one of [= != > < >= <= starts-with contains does-not-contain exists not-exists "
        "has-root-span matches in not-in]"
    ],
    "refinery-rules.json": [": RulesVersion must be an int, but 2 is float64"],
    "refinery-rules.toml": [": RulesVersion is required", ": Samplers is required"],
    "refinery-rules_complete.1.x.toml": [
        ": RulesVersion is required",
        ": Samplers is required",
        ": unknown top-level key SampleRate",
        ": unknown top-level key Sampler",
        ": unknown top-level key dataset1",
        ": unknown top-level key dataset2",
        ": unknown top-level key dataset3",
        ": unknown top-level key dataset4",
        ": unknown top-level key dataset5",
    ],
}
EXPECTED_WARNINGS: dict[str, list[str]] = {
    "hpsf-01-simple-refinery.yaml": ["rules.several-samplers"]
}
RULE_FILES = [
    p.name for p in files("*", "refinery-rules") if p.suffix in (".yaml", ".json", ".toml")
]


def test_every_real_file_is_covered(realdata: Path) -> None:
    assert len(RULE_FILES) == 38
    assert set(EXPECTED_ERRORS) <= set(RULE_FILES)


@pytest.mark.parametrize("name", or_absent(RULE_FILES))
def test_real_rules_file_validates_as_refinery_would(name: str, realdata: Path) -> None:
    path = RULES_DIR / name
    report = validate_path(path)
    prefix = str(path)
    got = [
        d.message.removeprefix(prefix).removeprefix(":").removesuffix(SUFFIX) for d in report.errors
    ]
    want = [w.removeprefix(":") for w in EXPECTED_ERRORS.get(name, [])]
    assert got == want
    assert report.ok is (name not in EXPECTED_ERRORS)
    assert [d.code for d in report.warnings] == EXPECTED_WARNINGS.get(name, [])


def test_empty_file() -> None:
    assert errors("") == [
        "r.yaml:1:1: RulesVersion is required" + SUFFIX,
        "r.yaml:1:1: Samplers is required" + SUFFIX,
    ]


def test_nested_errors_verbatim() -> None:
    text = """\
RulesVersion: 2
Samplers:
  __default__:
    RulesBasedSampler:
      Rules:
        - Name: r
          SampleRate: '1'
          Conditions: {Field: a, Operator: exists}
        - Name: s
          Scope: both
          Sampler: {DeterministicSampler: {SampleRate: 1}}
          Conditions:
            - Field: a
              Fields: [b]
              Operator: nope
              Value: [1, '2']
              Datatype: blah
"""
    w = "Within sampler __default__: Within field RulesBasedSampler.Rules"
    c = "Within field Rules.Conditions[0]:"
    assert [m.removesuffix(SUFFIX) for m in errors(text)] == [
        f"r.yaml:7:23: {w}[0]: field Rules.SampleRate must be an int",
        f"r.yaml:8:23: {w}[0]: field Rules.Conditions must be an array of objects",
        f"r.yaml:10:18: {w}[1]: field Rules.Scope (both) must be one of [trace span]",
        f"r.yaml:11:21: {w}[1]: field Rules.Sampler contains unknown key DeterministicSampler",
        f"r.yaml:13:15: {w}[1]: {c} the group Conditions includes Fields, which conflicts with Field",
        f"r.yaml:14:15: {w}[1]: {c} the group Conditions includes Field, which conflicts with Fields",
        f"r.yaml:15:25: {w}[1]: {c} field Conditions.Operator (nope) must be one of "
        "[= != > < >= <= starts-with contains does-not-contain exists not-exists has-root-span "
        "matches in not-in]",
        f"r.yaml:16:22: {w}[1]: {c} field Conditions.Value must be a slice of all the same type, "
        "but element 1 is string",
        f"r.yaml:17:25: {w}[1]: {c} field Conditions.Datatype (blah) must be one of "
        "[string int float bool]",
    ]


def test_sampler_field_errors() -> None:
    text = """\
RulesVersion: 2
Samplers:
  __default__:
    EMAThroughputSampler:
      GoalThroughputPerSec: 0
      Weight: 1.5
      AdjustmentInterval: 10
      FieldList: a
      Sampel: 3
    Foo: {a: 1}
    DynamicSampler: {}
"""
    w = "Within sampler __default__:"
    assert [m.removesuffix(SUFFIX) for m in errors(text)] == [
        f"r.yaml:5:29: {w} field EMAThroughputSampler.GoalThroughputPerSec (0) must be at least 1",
        f"r.yaml:6:15: {w} field EMAThroughputSampler.Weight (1.5) must be at most 1",
        f"r.yaml:7:27: {w} field EMAThroughputSampler.AdjustmentInterval (10) must be a valid "
        "duration like '3m30s' or '100ms'",
        f"r.yaml:8:18: {w} field EMAThroughputSampler.FieldList must be a string array but a is string",
        f"r.yaml:9:7: {w} unknown field EMAThroughputSampler.Sampel; did you mean Sampler?",
        f"r.yaml:10:5: {w} unknown group Foo; did you mean Drop?",
        f"r.yaml:10:11: {w} unknown field Foo.a; did you mean Name?",
        f"r.yaml:11:21: {w} the group DynamicSampler is missing its required field FieldList",
        f"r.yaml:11:21: {w} the group DynamicSampler is missing its required field SampleRate",
    ]


def test_top_level_errors() -> None:
    text = "RulesVersion: 3\nSamplers:\n  __default__: {DeterministicSampler: {SampleRate: 1}}\n  x: 5\nExtra: 1\n"
    assert [m.removesuffix(SUFFIX) for m in errors(text)] == [
        "r.yaml:1:15: RulesVersion must be 2, but it is 3",
        "r.yaml:4:6: Sampler x must be a map, but 5 is int",
        "r.yaml:5:1: unknown top-level key Extra",
    ]
    toml = "RulesVersion = 2\n[Samplers.__default__.DeterministicSampler]\nSampleRate = 1\n"
    assert errors(toml, "toml") == ["r.toml: RulesVersion must be an int, but 2 is int64" + SUFFIX]


def test_bad_input_is_a_located_rules_error() -> None:
    cases = [
        ("RulesVersion: 2\nSamplers:\n  a: 1\n  a: 2\n", "yaml", 'r.yaml:4:3: mapping key "a" already defined at line 3; remove one of the two'),
        ("RulesVersion: 2\nSamplers:\n  __default__: [\n", "yaml", "r.yaml:4:1: YAML syntax error: expected the node content, but found '<stream end>'; fix the YAML syntax (quote values that start with special characters)"),
        ('{"RulesVersion": 2,', "json", "r.json:1:20: JSON syntax error: Expecting property name enclosed in double quotes"),
        ("RulesVersion = \n", "toml", "r.toml:1:16: TOML syntax error: Invalid value"),
        ("- a\n", "yaml", "r.yaml:1:1: the rules file must be a map at the top level; got 'seq'; start with 'RulesVersion: 2' and 'Samplers:'"),
    ]  # fmt: skip
    for text, fmt, message in cases:
        with pytest.raises(RulesError) as info:
            read_rules_text(text, f"r.{fmt}", fmt)
        assert info.value.message == message


def test_file_level_errors(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (8 * 1024 * 1024 + 1))
    assert [d.message for d in validate_path(big).errors] == [
        f"{big}: rules file is too large; got 8388609; the limit is 8388608 bytes; a rules file is normally a few KiB"
    ]
    odd = tmp_path / "rules.txt"
    odd.write_text("RulesVersion: 2\n")
    assert [d.message for d in validate_path(odd).errors] == [
        f"{odd}: unable to determine data format; got '.txt'; Refinery picks the format from the "
        "extension: use .yaml, .yml, .toml or .json"
    ]


TRAPS = """\
RulesVersion: 2
Samplers:
  __default__:
    DeterministicSampler:
      SampleRate: 0
  env:
    RulesBasedSampler:
      Rules:
        - Name: r
          Conditions:
            - Field: 'http.status '
              Operator: '>'
              Value: abc
              Datatype: int
            - Operator: has-root-span
              Value: true
            - Field: x
              Value: 1
            - Field: y
              Operator: matches
              Value: '[a-z+'
            - Field: z
              Operator: '<'
              Value: true
              Datatype: bool
            - Field: root.service.name
              Operator: not-exists
            - Field: s
              Operator: in
              Value: [a]
              Datatype: bool
            - Field: code
              Operator: '='
              Value: 500
          Scope: span
        - Name: zero
          SampleRate: 0
        - Name: after
          SampleRate: 1
"""


def test_warnings_for_silent_traps() -> None:
    report = check(TRAPS)
    assert report.ok
    assert [(d.code, d.position.line if d.position else 0) for d in report.warnings] == [
        ("rules.deterministic-crash", 5),
        ("rules.missing-sample-rate", 9),
        ("rules.odd-field-name", 11),
        ("rules.value-not-numeric", 13),
        ("rules.has-root-span-in-span-scope", 15),
        ("rules.missing-operator", 17),
        ("rules.invalid-regex", 21),
        ("rules.bool-ordering", 23),
        ("rules.in-with-bool", 29),
        ("rules.untyped-compare", 33),
        ("rules.non-positive-sample-rate", 37),
        ("rules.unreachable-rule", 38),
    ]
    by_code = {d.code: d.message for d in report.warnings}
    assert by_code["rules.missing-sample-rate"] == (
        "r.yaml:9:11: rule 'r' has no SampleRate, Drop or Sampler: Refinery drops every trace it "
        "matches (rate 0); add 'SampleRate: 1' to keep matching traces, or 'Drop: true' to drop them"
    )
    assert by_code["rules.deterministic-crash"] == (
        "r.yaml:5:19: DeterministicSampler SampleRate 0 crashes Refinery at startup (integer "
        "divide by zero); use SampleRate: 1 to keep everything"
    )
    assert by_code["rules.invalid-regex"] == (
        "r.yaml:21:22: 'matches' pattern is not a valid Go regexp (missing ]: [a-z+): the "
        "condition never matches; got '[a-z+'"
    )
    assert by_code["rules.odd-field-name"] == (
        "r.yaml:11:22: field name 'http.status ' contains whitespace or punctuation: it will "
        "almost never exist; check for a stray character or space"
    )


def test_root_not_exists_without_guard() -> None:
    text = (
        "RulesVersion: 2\nSamplers:\n  __default__:\n    RulesBasedSampler:\n      Rules:\n"
        "        - Name: r\n          SampleRate: 1\n          Conditions:\n"
        "            - Field: root.service.name\n              Operator: not-exists\n"
    )
    assert warnings(text) == [("rules.root-not-exists", 9)]


def test_misspelt_key_did_you_mean() -> None:
    text = "RulesVersion: 2\nSamplers:\n  __default__:\n    RulesBasedSampler:\n      Rules:\n        - Name: r\n          Sample:\n            EMADynamicSampler: {GoalSampleRate: 2, FieldList: [a]}\n"
    assert errors(text) == [
        "r.yaml:7:11: Within sampler __default__: Within field RulesBasedSampler.Rules[0]: "
        "unknown field Rules.Sample; did you mean Sampler?" + SUFFIX
    ]
    assert closest_names("Datatyp") == ["Datatype"]
    assert closest_names("x.FieldLst") == ["FieldList"]


def test_go_durations() -> None:
    assert parse_go_duration("1m30s") == 90.0
    assert parse_go_duration("500ms") == 0.5
    assert parse_go_duration("0") == 0.0
    assert parse_go_duration("1.5h") == 5400.0
    for bad in ("30", "1d", "", "s", "1m 30s"):
        assert parse_go_duration(bad) is None
