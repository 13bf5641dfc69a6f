"""Environment samplers in the policy language: `sampler` instead of a rules table.

Parsed, printed canonically (round trip), checked, interpreted, compiled to exactly that
Refinery sampler with every parameter, and handled by the prover (a witness when errors may
be dropped) and the budget property.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from pytest_nectar.compiler.compile import compile_policies
from pytest_nectar.errors import CompileError, PolicyError
from pytest_nectar.policy.check import check_policy
from pytest_nectar.policy.interpreter import interpret as policy_decide
from pytest_nectar.policy.parser import parse_policy
from pytest_nectar.policy.printer import format_policy
from pytest_nectar.prover import prove
from pytest_nectar.refinery import rules_model as rm
from pytest_nectar.refinery.reference import Evaluator
from pytest_nectar.trace import Span, Trace
from tests.policy_strategies import sampler_policies
from tests.realdata import REALDATA


def _policy(sampler: str, extra: str = "") -> str:
    return f"nectar_policy:\n  version: 1\n  name: p\n{extra}  sampler: {sampler}\n"


CANONICAL = {
    "deterministic(1/100)": rm.DeterministicSamplerConfig(sample_rate=100),
    "avg_dynamic(20 by a, b, clear=1m, max_keys=50, use_trace_length=true)": (
        rm.DynamicSamplerConfig(
            sample_rate=20,
            clear_frequency="1m",
            field_list=("a", "b"),
            max_keys=50,
            use_trace_length=True,
        )
    ),
    "dynamic(6 by error, url, adjust=2s, weight=0.5, age_out=0.5, burst_multiple=200.0, "
    "burst_delay=30, max_keys=2000, use_trace_length=false)": rm.EMADynamicSamplerConfig(
        goal_sample_rate=6,
        adjustment_interval="2s",
        weight=0.5,
        age_out_value=0.5,
        burst_multiple=200.0,
        burst_detection_delay=30,
        field_list=("error", "url"),
        max_keys=2000,
        use_trace_length=False,
    ),
    "throughput(25/s by service.name, initial_rate=5, use_cluster_size=true)": (
        rm.EMAThroughputSamplerConfig(
            goal_throughput_per_sec=25,
            initial_sample_rate=5,
            use_cluster_size=True,
            field_list=("service.name",),
        )
    ),
    "windowed_throughput(100/s by x, update=1s, lookback=30s, use_cluster_size=true)": (
        rm.WindowedThroughputSamplerConfig(
            goal_throughput_per_sec=100,
            update_frequency="1s",
            lookback_frequency="30s",
            use_cluster_size=True,
            field_list=("x",),
        )
    ),
    "total_throughput(5/s, clear=30s, max_keys=10)": rm.TotalThroughputSamplerConfig(
        goal_throughput_per_sec=5, clear_frequency="30s", field_list=(), max_keys=10
    ),
}


@pytest.mark.parametrize("written", sorted(CANONICAL))
def test_each_sampler_compiles_to_exactly_that_sampler(written: str) -> None:
    policy = parse_policy(_policy(written, "  environment: prod\n"))
    assert not [d for d in check_policy(policy) if d.severity == "error"]
    text = format_policy(policy)
    assert text.splitlines()[0] == "nectar_policy{version,name,environment,sampler}:"
    assert text.splitlines()[-1] == f"  {written}"
    compiled = compile_policies([policy]).rules_file
    (chosen,) = compiled.samplers["prod"].samplers
    assert chosen == CANONICAL[written]
    assert chosen.params() == CANONICAL[written].params()  # every parameter, none added


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sampler_policies())
def test_sampler_policy_round_trip(policy: object) -> None:
    text = format_policy(policy)  # type: ignore[arg-type]
    again = parse_policy(text)
    assert again == policy
    assert format_policy(again) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            _policy("deterministic(1/10)")
            + "  rules[1]{name,match,action,priority}:\n    a,true,keep,1\n",
            "p.toon:4:3: a policy has rules or a sampler, not both; got 'sampler'; an "
            "environment uses either a RulesBasedSampler (rules) or one sampler",
        ),
        (
            "nectar_policy:\n  version: 1\n  name: p\n",
            "p.toon:1:1: missing required policy field; got 'rules'; a policy needs version, "
            "name and rules (or a sampler, e.g. deterministic(1/10))",
        ),
        (
            _policy("deterministic(2/10)"),
            "p.toon:4:26: deterministic(A/N) needs 1 as the numerator; got '2'; write "
            "deterministic(1/N) to keep 1 trace in N, chosen by trace id",
        ),
        (
            _policy("keep"),
            "p.toon:4:12: invalid sampler; got 'keep'; expected deterministic(1/N), "
            "dynamic(N by FIELD, ...), throughput(N/s by FIELD, ...), avg_dynamic(N by FIELD, "
            "...), windowed_throughput(N/s by FIELD, ...) or total_throughput(N/s by FIELD, ...)",
        ),
        (
            _policy("deterministic(1/10)", "  check_nested_fields: true\n"),
            "p.toon:4:3: check_nested_fields needs rules; got 'check_nested_fields'; only a "
            "RulesBasedSampler reads CheckNestedFields; remove it",
        ),
    ],
)
def test_sampler_syntax_errors(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, path="p.toon")
    assert info.value.message == message


def test_parameters_belong_to_their_sampler() -> None:
    policy = parse_policy(_policy("total_throughput(5/s by a, adjust=15s)"), path="p.toon")
    (d,) = check_policy(policy)
    assert d.render() == (
        "p.toon:4:39: unknown total_throughput parameter; got 'adjust'; known: max_keys, "
        "use_trace_length, use_cluster_size, clear"
    )
    with pytest.raises(CompileError):
        compile_policies([policy])
    crash = parse_policy(_policy(f"deterministic(1/{2**32})"), path="p.toon")
    assert [d.what for d in check_policy(crash)] == ["deterministic rate makes Refinery panic"]


def _trace(tid: str, **data: object) -> Trace:
    return Trace(tid, (Span({"trace.trace_id": tid, **data}, is_root=True),))


@pytest.mark.parametrize("written", sorted(CANONICAL))
def test_interpreter_decides_as_the_compiled_sampler(written: str) -> None:
    policy = parse_policy(_policy(written))
    evaluator = Evaluator(compile_policies([policy]).rules_file)
    for n in range(40):
        trace = _trace(f"{n:032x}", a="x", b=n % 3, x=n, error=n % 2 == 0, url="/u")
        mine, refinery = policy_decide(policy, trace), evaluator.decide(trace)
        assert (mine.rate, mine.keep, mine.keep_probability, mine.key) == (
            refinery.rate,
            refinery.keep,
            refinery.keep_probability,
            refinery.key,
        )


def _write(tmp_path: Path, sampler: str, extra: str = "") -> Path:
    path = tmp_path / "p.toon"
    path.write_text(_policy(sampler, extra))
    return path


def test_error_preservation_on_a_sampler_fails_with_a_witness(tmp_path: Path) -> None:
    report = prove(_write(tmp_path, "deterministic(1/20)"), properties=["error-preservation-all"])
    (result,) = report.results.values()
    assert result.verdict.value == "fail"
    (witness,) = result.witnesses
    assert witness.rule == "the environment's DeterministicSampler"
    assert witness.decision == "drop (rate 20)"
    spans = witness.spans or ()
    assert spans  # the constructed error trace itself, re-checked by the reference evaluator
    kept = prove(_write(tmp_path, "deterministic(1/1)"), properties=["error-preservation-all"])
    assert [r.verdict.value for r in kept.results.values()] == ["pass"]


CORPUS = REALDATA / "otlp" / "oteltui-test_data.json"


@pytest.mark.usefixtures("realdata")
def test_budget_bound_and_simulation_apply_to_environment_samplers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_nectar.cli import main

    throughput = _write(
        tmp_path, "windowed_throughput(2/s by service.name)", "  budget_per_second: 5\n"
    )
    report = prove(throughput, corpus=CORPUS, properties=["budget"])
    (budget,) = report.results.values()
    assert budget.verdict.value == "pass"
    assert budget.summary.startswith("within 5 events/s: mean 2 events/s")  # the goal bounds it
    args = ["vopr", "--corpus", str(CORPUS), "--campaign", "chaos", "--step", "50"]
    assert main([args[0], str(throughput), *args[1:]]) == 0
    assert "0 violation(s)" in capsys.readouterr().out
    sampled = tmp_path / "d.toon"
    sampled.write_text(_policy("deterministic(1/20)"))
    assert main([args[0], str(sampled), *args[1:]]) == 1  # error traces dropped by trace id
    out = capsys.readouterr().out
    assert "VIOLATION error-kept" in out and "replay: nectar vopr" in out


def test_an_environment_sampler_in_a_rule_says_where_it_belongs() -> None:
    text = (
        "nectar_policy:\n  version: 1\n  name: p\n"
        "  rules[1]{name,match,action,priority}:\n    a,true,deterministic(1/10),1\n"
    )
    with pytest.raises(PolicyError) as info:
        parse_policy(text, path="p.toon")
    assert info.value.message == (
        "p.toon:5:12: invalid action; got 'deterministic(1/10)'; deterministic(...) is an "
        "environment sampler, not a rule action: write it as the policy's sampler setting "
        "instead of a rules table"
    )


def test_keyed_samplers_are_rule_actions_too() -> None:
    text = (
        "nectar_policy:\n  version: 1\n  name: p\n"
        "  rules[3]{name,match,action,priority}:\n"
        '    a,service.name = "a","windowed_throughput(50/s by x, update=2s)",3\n'
        '    b,service.name = "b","total_throughput(5/s, clear=10s)",2\n'
        '    c,true,"avg_dynamic(10 by http.route, max_keys=9)",1\n'
    )
    policy = parse_policy(text)
    assert format_policy(parse_policy(format_policy(policy))) == format_policy(policy)
    rules = compile_policies([policy]).rules_file.samplers["__default__"].samplers[0].rules  # type: ignore[attr-defined]
    assert [r.downstream for r in rules] == [
        rm.WindowedThroughputSamplerConfig(
            goal_throughput_per_sec=50, update_frequency="2s", field_list=("x",)
        ),
        rm.TotalThroughputSamplerConfig(
            goal_throughput_per_sec=5, clear_frequency="10s", field_list=()
        ),
        rm.DynamicSamplerConfig(sample_rate=10, field_list=("http.route",), max_keys=9),
    ]


def test_rules_with_any_downstream_sampler_import_and_are_proven(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_nectar.cli import main

    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "RulesVersion: 2\nSamplers:\n  __default__:\n    RulesBasedSampler:\n      Rules:\n"
        "        - Name: w\n          Conditions: [{Field: a, Operator: exists}]\n"
        "          Sampler:\n            WindowedThroughputSampler:\n"
        "              {GoalThroughputPerSec: 9, LookbackFrequency: 1m0s, FieldList: [a]}\n"
        "        - Name: d\n          Sampler:\n"
        "            DynamicSampler: {SampleRate: 4, ClearFrequency: 15s, FieldList: [b]}\n"
    )
    assert main(["import", str(rules), "-o", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "__default__: all traces: pass: proven for all traces (2 rules against 2" in out
    policy = (tmp_path / "out" / "__default__.toon").read_text()
    assert '"windowed_throughput(9/s by a, lookback=1m)"' in policy
    assert '"avg_dynamic(4 by b, clear=15s)"' in policy


def test_avg_dynamic_rules_share_a_sampler_only_with_the_same_rate() -> None:
    rows = (
        '    a,service.name = "a","avg_dynamic(10 by x, max_keys=5)",2\n'
        '    b,true,"avg_dynamic(20 by x, max_keys=9)",1\n'
    )
    text = "nectar_policy:\n  version: 1\n  name: p\n  rules[2]{name,match,action,priority}:\n"
    compile_policies([parse_policy(text + rows)])  # different rates: two samplers
    same = rows.replace("avg_dynamic(20", "avg_dynamic(10")
    with pytest.raises(CompileError) as info:
        compile_policies([parse_policy(text + same, path="p.toon")])
    assert "Refinery would share one sampler with an earlier rule" in info.value.message


def test_determinism_campaign_mutates_an_environment_sampler() -> None:
    import numpy as np

    from pytest_nectar.vopr.replays import mutate_policy

    policy = parse_policy(_policy("windowed_throughput(20/s by a)"))
    seen = set()
    for seed in range(12):
        mutated = mutate_policy(policy, np.random.default_rng(seed))
        assert mutated.rules == () and mutated.sampler is not None
        compile_policies([mutated])  # every variant compiles
        seen.add(type(mutated.sampler).__name__)
    assert seen == {"Deterministic", "WindowedThroughput"}
