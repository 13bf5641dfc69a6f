"""Settings declared once: the README, the declaration, the plugin and the CLI agree; one
precedence; every value says where it came from; bad values are located at their key."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_nectar.cli import main
from pytest_nectar.errors import PolicyError, UsageError
from pytest_nectar.project.settings import (
    KNOWN_KEYS,
    SETTINGS,
    Source,
    default_settings,
    key_positions,
    load_settings,
    plugin_options,
    resolve_error,
)

ROOT = Path(__file__).resolve().parents[1]

#: A policy whose second rule can never decide: every trace it matches, the first keeps.
SHADOWED = """nectar_policy{version,name,rules}:
  1
  shadowed
  rules[3]{name,match,action,priority}:
    errors,http.status >= 500,keep,30
    worse-errors,http.status >= 600,drop,20
    rest,true,keep,10
"""


def _project(tmp_path: Path, nectar: str, policy: str = SHADOWED) -> Path:
    (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "x"\n\n[tool.nectar]\n{nectar}')
    (tmp_path / "p.toon").write_text(policy)
    return tmp_path


def test_readme_keys_equal_declared_keys() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    para = readme[readme.index("Settings come from `[tool.nectar]`") :].split("\n\n", 1)[0]
    documented = set(re.findall(r"`([a-z_]+)`", para)) - {"pyproject", "nectar"}
    assert documented == set(KNOWN_KEYS)


def test_declared_plugin_options_are_the_registered_ones() -> None:
    from pytest_nectar.pytest_plugin.hooks import pytest_addoption

    names: list[str] = []

    class Group:
        def addoption(self, *opts: str, **_: object) -> None:
            names.extend(opts)

    class Parser:
        def getgroup(self, *_: object) -> Group:
            return Group()

    pytest_addoption(Parser())  # type: ignore[arg-type]
    declared = {name for name, _ in plugin_options()}
    assert declared <= set(names)
    # The rest are options of one run, not project settings.
    assert set(names) - declared == {"--nectar-seed", "--nectar-witnesses"}


def test_declared_cli_options_are_accepted() -> None:
    from pytest_nectar.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    accepted = {
        opt
        for command in sub.choices.values()
        for action in command._actions
        for opt in action.option_strings
    }
    for spec in SETTINGS:
        if spec.option is not None and spec.option.startswith("-"):
            assert spec.option in accepted, spec.key


def test_every_value_says_where_it_came_from(tmp_path: Path) -> None:
    _project(tmp_path, 'window_s = 30\nerror = "http.status >= 502"\n')
    settings = load_settings(tmp_path)
    where = settings.to_json()
    assert where["window_s"] == {
        "value": 30.0,
        "from": {"source": "[tool.nectar]", "where": f"{tmp_path / 'pyproject.toml'}:5:1"},
    }
    assert where["seeds"]["from"] == {"source": "default", "where": None}
    cli = settings.with_options(window_s=10.0, error=None)
    assert cli.window_s == 10.0 and cli.origin("window_s").source is Source.COMMAND_LINE


def test_one_precedence_for_the_error_expression(tmp_path: Path) -> None:
    from pytest_nectar.policy.parser import parse_policy
    from pytest_nectar.policy.printer import format_match

    _project(tmp_path, 'error = "http.status >= 502"\n')
    settings = load_settings(tmp_path)
    own = parse_policy(
        "nectar_policy{version,name,error,rules}:\n  1\n  own\n  http.status >= 501\n"
        "  rules[1]{name,match,action,priority}:\n    rest,true,keep,1\n",
        path="own.toon",
    )
    plain = parse_policy(
        "nectar_policy{version,name,rules}:\n  1\n  plain\n"
        "  rules[1]{name,match,action,priority}:\n    rest,true,keep,1\n",
        path="plain.toon",
    )
    # The policy's own field beats [tool.nectar]; [tool.nectar] beats the default.
    expr, origin = resolve_error(settings, own)
    assert format_match(expr) == "http.status >= 501" and origin.source is Source.POLICY
    assert str(origin) == "own.toon:4:3"
    expr, origin = resolve_error(settings, plain)
    assert format_match(expr) == "http.status >= 502" and origin.source is Source.CONFIG
    # The command line beats both.
    cli = settings.with_options(error="http.status >= 503")
    for policy in (own, plain, None):
        expr, origin = resolve_error(cli, policy)
        assert format_match(expr) == "http.status >= 503"
        assert origin.source is Source.COMMAND_LINE
    expr, origin = resolve_error(default_settings(tmp_path), None)
    assert format_match(expr) == "default_errors" and origin.source is Source.DEFAULT


def test_a_bad_config_error_is_located_in_pyproject(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(tmp_path, 'corpus = "c"\nerror   = "http.status >="\n')
    with pytest.raises(PolicyError) as raised:
        load_settings(tmp_path)
    where = raised.value.position
    assert where is not None
    assert (Path(where.path).name, where.line) == ("pyproject.toml", 6)
    monkeypatch.chdir(tmp_path)
    assert main(["prove", "p.toon"]) == 2
    err = capsys.readouterr().err
    # Just past the last character of the string, with the file's line and a caret under it.
    assert err.startswith(f"{tmp_path / 'pyproject.toml'}:6:26: the match expression ends")
    assert '    error   = "http.status >="\n' in err
    assert "--error" not in err


def test_a_bad_option_value_names_the_option(tmp_path: Path) -> None:
    _project(tmp_path, "")
    with pytest.raises(UsageError, match="--window has a wrong value; got -1"):
        load_settings(tmp_path).with_options(window_s=-1)
    with pytest.raises(UsageError, match="--nectar-seeds has a wrong value"):
        load_settings(tmp_path).with_options(plugin=True, seeds=-2)


def test_strict_in_config_is_honoured_by_prove(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(_project(tmp_path, ""))
    args = ["prove", "p.toon", "--property", "shadowed-rules", "--json"]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["reports"][0]["properties"][0]["verdict"] == "warn"
    assert doc["settings"]["strict"]["from"]["source"] == "default"
    _project(tmp_path, "strict = true\n")
    assert main(args) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["settings"]["strict"] == {
        "value": True,
        "from": {"source": "[tool.nectar]", "where": f"{tmp_path / 'pyproject.toml'}:5:1"},
    }


def test_key_positions_skip_multiline_values_and_other_tables() -> None:
    text = (
        '[tool.other]\nerror = "x"\n[tool.nectar]\npolicies = [\n  "a",\n  "b",\n]\n'
        "  seeds=2 # two\n[tool.nectar.sub]\nerror = 1\n[[tool.nectar.list]]\nlock = 1\n"
    )
    assert key_positions(text, ("tool", "nectar")) == {"policies": (4, 1, 12), "seeds": (8, 3, 9)}
    dotted = "[tool]\nnectar.window_s = 5\n"
    assert key_positions(dotted, ("tool", "nectar")) == {"window_s": (2, 1, 19)}


def test_nectar_toml_model_and_cache_are_real_settings(tmp_path: Path) -> None:
    (tmp_path / "nectar.toml").write_text('model = "claude-x"\ncache = "cache-here"\n')
    settings = load_settings(tmp_path)
    assert settings.model == "claude-x"
    assert settings.cache == tmp_path / "cache-here"
    assert str(settings.origin("cache")) == f"{tmp_path / 'nectar.toml'}:2:1"
    (tmp_path / "nectar.toml").write_text("model = 3\n")
    with pytest.raises(UsageError) as raised:
        load_settings(tmp_path)
    assert raised.value.render().startswith(
        f"{tmp_path / 'nectar.toml'}:1:9: [tool.nectar] model has the wrong type; got 3"
    )


_VALUES = st.one_of(
    st.integers(-5, 5).map(str),
    st.text("abc/ .=#[]", max_size=6).map(lambda t: json.dumps(t)),
    st.lists(st.text("ab[]", max_size=3).map(json.dumps), max_size=3).map(
        lambda items: "[\n  " + ",\n  ".join(items) + "\n]" if items else "[]"
    ),
    st.just('"""two\nlines = 1\n"""'),
)


@given(
    st.lists(st.sampled_from(KNOWN_KEYS), unique=True, max_size=6),
    st.data(),
)
@settings(max_examples=60, deadline=None)
def test_key_positions_find_every_key_tomllib_reads(keys: list[str], data: st.DataObject) -> None:
    """Differential: the scanner finds exactly the keys tomllib parses, at their text."""
    import tomllib

    lines = ["[tool.other]", 'error = "decoy"', "[tool.nectar]"]
    for key in keys:
        pad = data.draw(st.sampled_from(["", " ", "  "]))
        lines.append(f"{pad}{key} = {data.draw(_VALUES)}")
    lines += ["[[tool.after]]", 'lock = "x"']
    text = "\n".join(lines) + "\n"
    table = tomllib.loads(text)["tool"]["nectar"]
    found = key_positions(text, ("tool", "nectar"))
    assert set(found) == set(table)
    rows = text.splitlines()
    for key, (line, column, value_column) in found.items():
        assert rows[line - 1][column - 1 :].startswith(key)
        assert rows[line - 1][value_column - 2] in " ="


def test_expressions_are_parsed_only_where_they_are_read() -> None:
    """A policy's own expressions in the policy parser, the others in the settings (and the
    default error criteria where their table is declared)."""
    import ast

    package = ROOT / "pytest_nectar"
    callers = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "parse_match":
                callers.add(path.relative_to(package).as_posix())
    # the parser itself parses the default error criteria (policy/error_table.py) once
    assert callers == {"policy/parser.py", "project/settings.py", "policy/match_parser.py"}
