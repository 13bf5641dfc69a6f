from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_nectar.errors import Diagnostic, PolicyError, Position
from pytest_nectar.github.annotations import (
    Annotation,
    annotations_from_json,
    annotations_from_prove,
    annotations_from_text,
    escape_data,
    escape_property,
    format_command,
    main,
    rebase_path,
    render_findings,
    select_for_display,
)


def test_escape_data_follows_github_rules() -> None:
    assert escape_data("100% sure\r\nnext: a,b") == "100%25 sure%0D%0Anext: a,b"


def test_escape_property_also_escapes_colon_and_comma() -> None:
    assert escape_property("C:\\x,y%\n") == "C%3A\\x%2Cy%25%0A"


def test_percent_is_escaped_first_so_escapes_are_not_doubled() -> None:
    assert escape_data("%0A") == "%250A"


def test_format_command_full() -> None:
    a = Annotation("error", "dropped: 3 traces", "policies/p,1.toon", 4, 7, "nectar: fallback")
    assert format_command(a) == (
        "::error file=policies/p%2C1.toon,line=4,col=7,title=nectar%3A fallback::dropped: 3 traces"
    )


def test_format_command_without_location() -> None:
    assert format_command(Annotation("notice", "2 more")) == "::notice::2 more"


def test_column_without_line_is_not_emitted() -> None:
    assert format_command(Annotation("warning", "m", "f.toon", None, 3)) == (
        "::warning file=f.toon::m"
    )


def test_injected_newline_cannot_start_a_second_command() -> None:
    evil = "got 'x'\n::add-mask::secret\n::set-env name=A::b"
    line = format_command(Annotation("error", evil, "p.toon", 1))
    # One line: the runner only reads commands at the start of a line.
    assert "\n" not in line and "\r" not in line
    assert line.endswith("::got 'x'%0A::add-mask::secret%0A::set-env name=A::b")


def test_from_check_json_uses_diagnostic_shape() -> None:
    err = PolicyError(
        "row has 4 cells, the header has 5",
        position=Position("policies/p.toon", 6, 5),
        got="keep-errors,x,y,keep",
        hint="add the missing cell",
    )
    doc = [err.diagnostic.to_json()]
    (a,) = annotations_from_json(json.loads(json.dumps(doc)))
    assert a == Annotation(
        "error",
        "row has 4 cells, the header has 5; got 'keep-errors,x,y,keep'; add the missing cell",
        "policies/p.toon",
        6,
        5,
        "nectar: policy",
    )


def test_from_nested_diagnostics_arrays() -> None:
    warn = Diagnostic("warning", "unreachable", "rule never matches", Position("a.toon", 9))
    doc = {
        "verdict": "fail",
        "policies": [
            {"path": "a.toon", "diagnostics": [warn.to_json()]},
            {"path": "b.toon", "diagnostics": []},
        ],
        "diagnostics": [{"severity": "error", "message": "error traces dropped", "path": None}],
    }
    found = annotations_from_json(doc)
    assert Annotation(
        "warning", "rule never matches", "a.toon", 9, None, "nectar: unreachable"
    ) in (found)
    assert Annotation("error", "error traces dropped", None, None, None, "nectar") in found
    assert len(found) == 2


def test_json_without_diagnostics_gives_nothing() -> None:
    assert annotations_from_json({"verdict": "pass", "properties": [{"message": "x"}]}) == []


def test_from_text_reads_the_one_error_format_and_skips_carets() -> None:
    text = (
        "policies/p.toon:3:12: unknown operator; got '=>'; use >=\n"
        "    keep-slow,Retain slow,duration => 5s,keep,90\n"
        "                                   ^\n"
        "warning: policies/p.toon:8: rule 'x' is shadowed by 'y'\n"
        "nectar: 2 errors\n"
    )
    assert annotations_from_text(text) == [
        Annotation(
            "error", "unknown operator; got '=>'; use >=", "policies/p.toon", 3, 12, "nectar"
        ),
        Annotation("warning", "rule 'x' is shadowed by 'y'", "policies/p.toon", 8, None, "nectar"),
    ]


def test_rebase_path_prefixes_working_directory() -> None:
    a = Annotation("error", "m", "policies/p.toon", 1)
    assert rebase_path(a, "deploy/nectar").file == "deploy/nectar/policies/p.toon"
    assert rebase_path(a, "./x/../y").file == "y/policies/p.toon"
    assert rebase_path(a, ".") is a


def test_select_for_display_caps_each_level() -> None:
    items = [Annotation("error", f"e{i}") for i in range(3)] + [Annotation("warning", "w")]
    shown, cut = select_for_display(items, 2)
    assert [a.message for a in shown] == ["e0", "e1", "w"]
    assert cut == 1


def test_render_findings_escapes_table_cells() -> None:
    table = render_findings([Annotation("error", "a | b\nc", "p.toon", 2, 1)])
    assert "| error | `p.toon:2:1` | a \\| b c |" in table
    assert render_findings([]) == ""


def test_main_writes_commands_copy_and_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    prove = tmp_path / "prove.json"
    diag = Diagnostic("error", "error-preservation", "5xx dropped", Position("p.toon", 4, 1))
    prove.write_text(json.dumps({"diagnostics": [diag.to_json()]}))
    stderr = tmp_path / "prove.err"
    stderr.write_text("p.toon:4:1: 5xx dropped\nsomething else\n")
    findings = tmp_path / "report.md"
    copy = tmp_path / "annotations.txt"
    monkeypatch.setenv("NECTAR_ANNOTATIONS_FILE", str(copy))
    rc = main(
        [
            "--json",
            str(prove),
            "--text",
            str(stderr),
            "--text",
            str(tmp_path / "missing.err"),
            "--path-prefix",
            "sub",
            "--error",
            "compile --check failed: stale lock",
            "--findings",
            str(findings),
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        # The same finding from JSON and from stderr is shown once, with the JSON's code.
        "::error file=sub/p.toon,line=4,col=1,title=nectar%3A error-preservation::5xx dropped",
        "::error title=nectar::compile --check failed: stale lock",
    ]
    assert copy.read_text() == out
    assert "| error | `sub/p.toon:4:1` | 5xx dropped |" in findings.read_text()


def test_main_reads_non_json_output_as_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "prove.json"
    bad.write_text("p.toon:2:3: cannot parse\n")
    assert main(["--json", str(bad), "--per-level", "0"]) == 0
    assert capsys.readouterr().out == "::notice::1 more findings in the step summary\n"


PROVE_POLICY = """\
nectar_policy{version,name,budget_per_second,rules}:
  1
  production-sampling
  10000
  rules[3]{name,description,match,action,priority}:
    keep-errors,Retain all HTTP 5xx errors,http.status >= 500,drop,100
    keep-slow,Retain slow requests,duration > 5s,keep,90
    sample-rest,Sample remaining traffic,true,sample(0.01),0
"""


def _prove_doc(target: str) -> dict[str, object]:
    def prop(pid: str, verdict: str, rules: list[str | None]) -> dict[str, object]:
        witnesses = [{"trace_id": "t", "rule": r, "decision": "drop"} for r in rules]
        return {"id": pid, "verdict": verdict, "summary": f"{pid} says so", "witnesses": witnesses}

    return {
        "failed": True,
        "reports": [
            {
                "target": target,
                "properties": [
                    prop("error-preservation", "fail", ["keep-errors", "keep-errors#2"]),
                    prop("budget", "fail", []),
                    prop("must-keep", "fail", [None]),  # no rule: the field's line
                    prop("mixed-types", "warn", []),
                    prop("fallback", "pass", []),
                    prop("shadowed-rules", "unknown", []),
                ],
            }
        ],
    }


def test_from_prove_json_places_failures_at_policy_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.toon").write_text(PROVE_POLICY)
    monkeypatch.chdir(tmp_path)
    # An absolute target below the working folder is shown relative to it.
    found = annotations_from_prove(_prove_doc(str(tmp_path / "policies" / "p.toon")))
    path = "policies/p.toon"
    assert found == [
        # The row of the rule that decided the witnesses (split parts `#2` map back to it).
        Annotation(
            "error", "error-preservation: error-preservation says so", path, 6, None,
            "nectar: error-preservation",
        ),
        Annotation("error", "budget: budget says so", path, 4, None, "nectar: budget"),
        # No must_keep field: the rules table's line.
        Annotation("error", "must-keep: must-keep says so", path, 5, None, "nectar: must-keep"),
        Annotation(
            "warning", "mixed-types: mixed-types says so", path, 5, None, "nectar: mixed-types"
        ),
    ]  # fmt: skip


def test_from_prove_json_without_a_readable_policy_gives_the_file_only() -> None:
    (a, *_) = annotations_from_prove(_prove_doc("rules.yaml"))
    assert (a.file, a.line, a.level) == ("rules.yaml", None, "error")
    assert annotations_from_prove({"reports": "nope"}) == []


def test_main_reads_prove_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "p.toon").write_text(PROVE_POLICY)
    monkeypatch.chdir(tmp_path)
    prove = tmp_path / "prove.json"
    prove.write_text(json.dumps(_prove_doc("p.toon")))
    assert main(["--json", str(prove), "--path-prefix", "deploy", "--per-level", "1"]) == 0
    # Errors first, then by file line; the rest are counted.
    assert capsys.readouterr().out.splitlines() == [
        "::error file=deploy/p.toon,line=4,title=nectar%3A budget::budget: budget says so",
        "::warning file=deploy/p.toon,line=5,title=nectar%3A mixed-types::"
        "mixed-types: mixed-types says so",
        "::notice::2 more findings in the step summary",
    ]
