from __future__ import annotations

from pathlib import Path

from pytest_nectar.errors import Diagnostic, PolicyError, Position


def test_message_has_position_value_and_hint() -> None:
    err = PolicyError(
        "unknown column",
        position=Position("p.toon", 3, 7),
        got="nmae",
        hint="did you mean 'name'?",
    )
    assert err.message == "p.toon:3:7: unknown column; got 'nmae'; did you mean 'name'?"


def test_render_puts_a_caret_under_the_column() -> None:
    err = PolicyError("bad", position=Position("p.toon", 1, 5), source_line="abc def\n")
    assert err.render() == "p.toon:1:5: bad\n    abc def\n        ^"


def test_position_without_column_or_line() -> None:
    assert str(Position("f")) == "f"
    assert str(Position("f", 2)) == "f:2"


def test_warning_render_and_json() -> None:
    d = Diagnostic("warning", "lint", "rule never reached", position=Position("r.yaml", 4, 3))
    assert d.render() == "warning: r.yaml:4:3: rule never reached"
    assert d.to_json()["line"] == 4


def test_from_diagnostic_keeps_everything_but_the_severity() -> None:
    d = Diagnostic(
        "error",
        "bad-rule",
        "rule is wrong",
        position=Position("p.toon", 2, 3),
        got=7,
        hint="fix it",
        source_line="  x\n",
    )
    err = PolicyError.from_diagnostic(d)
    assert isinstance(err, PolicyError)
    assert err.diagnostic == d
    assert str(err) == "p.toon:2:3: rule is wrong; got 7; fix it"


def test_caret_context_of_a_long_line_is_a_window() -> None:
    line = "a" * 100_000 + "X" + "b" * 100_000
    d = PolicyError("bad", position=Position("p.toon", 1, 100_001), source_line=line)
    _, src, caret = d.render().splitlines()
    assert src == "    ..." + "a" * 60 + "X" + "b" * 59 + "..."
    assert caret.index("^") == src.index("X")
    start = PolicyError("bad", position=Position("p.toon", 1, 2), source_line=line)
    _, src, caret = start.render().splitlines()
    assert src == "    " + "a" * 120 + "..." and caret == "     ^"


def test_a_huge_one_line_policy_is_not_echoed(tmp_path: Path) -> None:
    import subprocess
    import sys

    policy = tmp_path / "big.toon"
    policy.write_text("nectar_policy{version,name,rules}: " + "x" * 5_000_000 + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest_nectar", "check", str(policy)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert len(done.stderr) < 2_000, done.stderr[:500]
