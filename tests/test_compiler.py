"""The compiler: golden output, determinism, validity, rule shapes and located errors."""

# ruff: noqa: E501  (verbatim messages)
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings

from pytest_nectar.compiler.compile import CATCH_ALL_NAME, compile_policies, compile_policy
from pytest_nectar.errors import CompileError, Position
from pytest_nectar.policy.model import (
    Condition,
    FieldName,
    FieldRef,
    Keep,
    Literal,
    Operator,
    Policy,
    Rule,
)
from pytest_nectar.policy.parser import load_policy, parse_policy
from pytest_nectar.refinery.rules_reader import read_rules_text
from pytest_nectar.refinery.rules_validate import validate_loaded
from tests.compile_strategies import policies

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
EXAMPLE_DIRS = sorted(p for p in (ROOT / "examples").iterdir() if (p / "policies").is_dir())
EXAMPLES = sorted((ROOT / "examples").glob("*/policies/*.toon"))
SEED = ROOT / "examples" / "quickstart" / "policies" / "production.toon"


def policy(rows: str, head: str = "", n: int | None = None) -> Policy:
    count = n if n is not None else rows.count("\n")
    fields = "version,name" + ("," + head.split("=")[0] if head else "") + ",rules"
    value = f"  {head.split('=')[1]}\n" if head else ""
    rows = "".join(f"    {line}\n" for line in rows.splitlines())
    text = (
        f"nectar_policy{{{fields}}}:\n  1\n  p\n{value}"
        f"  rules[{count}]{{name,description,match,action,priority}}:\n{rows}"
    )
    return parse_policy(text, path="p.toon")


def validate(text: str) -> tuple[list[str], list[str]]:
    report = validate_loaded(read_rules_text(text, "rules.yaml"))
    return [d.message for d in report.errors], [d.message for d in report.warnings]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_golden_per_policy(path: Path) -> None:
    text = compile_policies([load_policy(path)]).text
    golden = GOLDEN / f"{path.parent.parent.name}-{path.stem}.yaml"
    assert text.encode() == golden.read_bytes()


@pytest.mark.parametrize("folder", EXAMPLE_DIRS, ids=lambda p: p.name)
def test_golden_per_example_and_valid(folder: Path) -> None:
    paths = sorted((folder / "policies").glob("*.toon"))
    text = compile_policies([load_policy(p) for p in paths]).text
    assert text.encode() == (GOLDEN / f"{folder.name}.yaml").read_bytes()
    assert validate(text) == ([], [])


def test_seed_policy_is_valid_typed_and_ends_with_a_catch_all() -> None:
    compiled = compile_policies([load_policy(SEED)])
    assert validate(compiled.text) == ([], [])
    (entry,) = compiled.rules_file.samplers.values()
    rules = entry.samplers[0].rules  # type: ignore[attr-defined]
    for rule in rules:
        for cond in rule.conditions or ():
            if cond.operator in ("=", "!=", ">", ">=", "<", "<="):
                assert cond.datatype is not None
    assert rules[-1].conditions is None and rules[-1].sample_rate == 100


@pytest.mark.parametrize("folder", EXAMPLE_DIRS, ids=lambda p: p.name)
def test_same_bytes_twice_and_in_a_fresh_interpreter_with_another_hash_seed(folder: Path) -> None:
    paths = [str(p) for p in sorted((folder / "policies").glob("*.toon"))]
    first = compile_policies([load_policy(p) for p in paths]).text
    assert compile_policies([load_policy(p) for p in paths]).text == first
    code = (
        "import sys;from pytest_nectar.compiler.compile import compile_policies;"
        "from pytest_nectar.policy.parser import load_policy;"
        "sys.stdout.write(compile_policies([load_policy(p) for p in sys.argv[1:]]).text)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *paths],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
        cwd=ROOT,
    ).stdout
    assert out == first


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(p=policies())
def test_random_policies_compile_to_valid_rules(p: Policy) -> None:
    try:
        compiled = compile_policies([p])
    except CompileError:
        assume(False)
        raise
    errors, _ = validate(compiled.text)
    assert errors == []
    assert compile_policies([p]).text == compiled.text


def test_or_splits_into_named_rules_in_order_and_and_stays_one_rule() -> None:
    env = compile_policy(
        policy('a,,x = 1 or (y = "b" and span(z exists) and w exists),keep,1\nz,,true,drop,0\n')
    )
    rules = env.entry.samplers[0].rules  # type: ignore[attr-defined]
    assert [r.name for r in rules] == ["a", "a#2", "z"]
    assert env.origins == ("a", "a", "z")
    assert rules[0].scope is None and rules[1].scope is None
    # a span(...) of one condition is that condition in trace scope (normal_form lists it
    # after the others; order does not matter in trace scope)
    assert [c.field for c in rules[1].conditions] == ["y", "w", "z"]
    span_env = compile_policy(policy('a,,span(z exists and w != "q"),keep,1\n'))
    first = span_env.entry.samplers[0].rules[0]  # type: ignore[attr-defined]
    assert first.scope == "span" and len(first.conditions) == 2


def test_catch_all_added_when_no_rule_matches_everything() -> None:
    env = compile_policy(policy("a,,x exists,drop,1\n"))
    rules = env.entry.samplers[0].rules  # type: ignore[attr-defined]
    assert rules[-1].name == CATCH_ALL_NAME and rules[-1].sample_rate == 1
    assert env.origins[-1] is None
    assert "added final rule 'nectar-default-keep-unmatched'" in env.notes[-1]


def test_actions() -> None:
    text = compile_policies(
        [
            policy(
                "a,,x = 1,sample(1/20),4\nb,,x = 2,drop,3\n"
                'c,,x = 3,"throughput(50/s by a, root.b, weight=1, use_cluster_size=true)",2\n'
                "d,,true,dynamic(7),1\n"
            )
        ]
    ).text
    assert "        - Name: a\n          SampleRate: 20\n" in text
    assert "        - Name: b\n          Drop: true\n" in text
    assert (
        "          Sampler:\n            EMAThroughputSampler:\n              GoalThroughputPerSec: 50\n"
        "              UseClusterSize: true\n              Weight: 1.0\n              FieldList:\n"
        "                - a\n                - root.b\n"
    ) in text
    assert (
        "            EMADynamicSampler:\n              GoalSampleRate: 7\n              FieldList: []\n"
        in text
    )
    assert validate(text) == ([], [])


def test_no_default_policy_gets_the_documented_default() -> None:
    compiled = compile_policies([policy("a,,true,keep,0\n", head="environment=prod")])
    assert compiled.text.startswith(
        "RulesVersion: 2\nSamplers:\n  __default__:\n    DeterministicSampler:\n      SampleRate: 1\n  prod:\n"
    )
    assert any("no policy targets __default__" in n for n in compiled.notes)


# --- located errors, verbatim ---------------------------------------------------------------


def error(*ps: Policy) -> str:
    with pytest.raises(CompileError) as info:
        compile_policies(list(ps))
    return info.value.message


def test_error_two_policies_one_environment() -> None:
    a = policy("a,,true,keep,0\n", head="environment=prod")
    assert error(a, a) == (
        "p.toon:4:3: two policies compile into the same environment; got 'prod'; "
        "p.toon ('p') targets it too; a rules file has one sampler per environment"
    )


def test_error_compiled_name_clash() -> None:
    p = policy("a,,x = 1 or y = 2,keep,2\na#2,,true,keep,1\n")
    assert error(p) == (
        "p.toon:6:5: compiled rule name is not unique; got 'a#2'; rule 'a' expands to it too; "
        "rename one so decisions can be traced back to their rule"
    )


def test_error_shared_sampler_with_other_parameters() -> None:
    p = policy(
        'a,,x = 1,"dynamic(5 by k, weight=0.2)",2\nb,,true,"dynamic(5 by k, weight=0.9)",1\n'
    )
    assert error(p) == (
        "p.toon:6:14: Refinery would share one sampler with an earlier rule but ignore this "
        "rule's parameters; got 'b'; rule 'a' has the same sampler, goal and key fields; "
        "Refinery keeps the first parameters (refinery-semantics.md 9.7): use the same "
        "parameters or a different goal"
    )


def test_error_inexact_not_is_a_compile_error_at_the_not() -> None:
    p = policy("a,,not x > 5,keep,1\n")
    assert error(p) == (
        "p.toon:5:8: 'not' around a trace-scope condition cannot be compiled exactly; got 'not x > 5'; "
        "Refinery would need 'no span has it'; to act on traces where no span has it, add an earlier "
        "rule that matches it with the opposite action, and let this rule catch the rest; to mean "
        "'some span lacks it' write the negative operator (!=, does-not-contain, not in, not exists) "
        "or span(not ...)"
    )


def test_error_integer_outside_int64() -> None:
    # the parser refuses such a literal too; a policy built in code (or imported) reaches here
    cond = Condition(
        FieldRef((FieldName("x"),)), Operator.EQ, Literal(2**63, Position("p.toon", 5, 9)), None
    )
    p = Policy(1, "p", (Rule("a", None, cond, Keep(), 1),))
    assert error(p) == (
        "p.toon:5:9: integer does not fit Refinery's int64; got 9223372036854775808; "
        "Refinery reads integer values as 64-bit; use a float or a string"
    )


def test_split_sampler_rules_share_one_refinery_sampler() -> None:
    """`or` over a throughput action: both Refinery rules draw on one dynsampler (9.7)."""
    from pytest_nectar.refinery.reference import Evaluator
    from pytest_nectar.trace import Span, Trace

    compiled = compile_policies([policy('a,,x = 1 or y = 2,"throughput(5/s by k)",1\n')])
    evaluator = Evaluator(compiled.rules_file, stateful=True)
    first = evaluator.decide(Trace("t1", (Span({"x": 1, "k": "v"}),)), now=0.0)
    second = evaluator.decide(Trace("t2", (Span({"y": 2, "k": "v"}),)), now=1.0)
    assert (first.rule_name, second.rule_name) == ("a", "a#2")
    assert len(evaluator._pool.cores) == 1  # one shared instance, one budget


def test_error_environment_name_longer_than_a_yaml_key() -> None:
    # Before: compile wrote a rules file its own validate (and Refinery) could not parse.
    p = policy("a,,true,keep,0\n", head="environment=" + "e" * 1025)
    assert error(p) == (
        "p.toon:4:3: environment name is too long to be a YAML map key; "
        "got '1025 characters as written'; "
        "YAML, and so Refinery's yaml.v3, reads a key of at most 1024 characters"
    )
    at_limit = policy("a,,true,keep,0\n", head="environment=" + "e" * 1024)
    text = compile_policies([at_limit]).text
    assert not validate_loaded(read_rules_text(text, "r.yaml")).errors
