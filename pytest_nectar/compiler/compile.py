"""Policies -> one Refinery rules file, exactly and deterministically.

Each policy becomes the ``RulesBasedSampler`` of its environment (``Samplers.<env>``):

* a rule's match goes through :func:`pytest_nectar.policy.check.normal_form`: every ``or``
  alternative becomes its own Refinery rule, in order, with the rule's action.  The first is
  named like the policy rule, the next ``<name>#2``, ``<name>#3``...  Under first match this
  is exactly ``a or b``.  For throughput/dynamic actions the split rules carry identical
  downstream configs, which Refinery shares as one dynsampler instance
  (refinery-semantics.md 6 and 9.7: same destination, type, goal and sorted FieldList), so
  the split rules draw on one budget, exactly like the unsplit rule;
* ``and`` becomes one rule's ``Conditions``, a ``span(...)`` group a ``Scope: span`` rule,
  an alias a ``Fields`` list, a duration literal a ``duration_ms`` number of milliseconds;
  every condition keeps the model's ``Datatype`` (inferred from the literal unless ``as``);
* a policy with ``sampler`` instead of rules becomes exactly that sampler (no
  RulesBasedSampler): ``deterministic(1/N)`` a ``DeterministicSampler``, ``avg_dynamic``,
  ``dynamic``, ``throughput``, ``windowed_throughput``, ``total_throughput`` the Dynamic,
  EMADynamic, EMAThroughput, WindowedThroughput and TotalThroughput samplers, every parameter
  written;
* ``keep`` is ``SampleRate: 1``, ``drop`` is ``Drop: true``, ``sample(1/N)`` is
  ``SampleRate: N``, ``throughput``/``dynamic`` are downstream ``EMAThroughputSampler`` /
  ``EMADynamicSampler`` with ``FieldList`` and parameters;
* unless some rule already matches every trace, a final rule :data:`CATCH_ALL_NAME` with
  ``SampleRate: 1`` states Refinery's keep-unmatched default explicitly (reported in notes).

``__default__`` is always present: when no policy targets it, it is
``DeterministicSampler: {SampleRate: 1}`` (keep everything, Refinery's own example default).
Whatever Refinery cannot express exactly raises :class:`CompileError` at the policy's line
and column; nothing is approximated and no condition is ever dropped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from pytest_nectar.errors import CompileError, Position, RulesError
from pytest_nectar.policy.check import check_policy, normal_form
from pytest_nectar.policy.model import (
    DEFAULT_ENVIRONMENT,
    SAMPLER_PARAMETERS,
    SAMPLER_WORDS,
    Action,
    AvgDynamic,
    Clause,
    Condition,
    Deterministic,
    Drop,
    Duration,
    Dynamic,
    EnvironmentSampler,
    HasRootSpan,
    Keep,
    KeyedSampler,
    ListLiteral,
    Literal,
    Policy,
    Rule,
    Sample,
    SamplerParam,
    Scope,
    refinery_value,
    sampler_goal,
    sampler_word,
)
from pytest_nectar.refinery import rules_model as rm
from pytest_nectar.refinery.rules_writer import format_scalar, write_rules

__all__ = [
    "CATCH_ALL_NAME",
    "DEFAULT_SAMPLER",
    "Compilation",
    "CompiledEnvironment",
    "compile_file",
    "compile_policies",
    "compile_policy",
    "environment_sampler",
    "load_rules_or_policy",
    "split_name",
    "to_refinery_condition",
]

#: Name of the explicit catch-all the compiler appends when no rule matches every trace.
CATCH_ALL_NAME: Final = "nectar-default-keep-unmatched"
#: ``__default__`` when no policy targets it: keep everything (DeterministicSampler rate 1).
DEFAULT_SAMPLER: Final = rm.SamplerEntry((rm.DeterministicSamplerConfig(sample_rate=1),))
_INT64: Final = 2**63


def split_name(name: str, index: int) -> str:
    """The Refinery name of the ``index``-th (0-based) rule a policy rule expands into."""
    return name if index == 0 else f"{name}#{index + 1}"


@dataclass(frozen=True, slots=True)
class CompiledEnvironment:
    """One policy compiled: its destination's sampler entry and where each rule came from.

    ``origins[i]`` is the policy rule name behind Refinery rule ``i`` (None for the
    synthetic catch-all).  ``digest`` is the sha256 of this entry's YAML alone.
    """

    environment: str
    policy: Policy | None
    entry: rm.SamplerEntry
    origins: tuple[str | None, ...]
    notes: tuple[str, ...]

    @property
    def digest(self) -> str:
        text = write_rules(rm.RulesFile(2, {self.environment: self.entry}))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def origin(self, rule_index: int | None) -> str | None:
        """The policy rule behind a reference ``Decision.rule_index`` (None: none/catch-all)."""
        return None if rule_index is None else self.origins[rule_index]


@dataclass(frozen=True, slots=True)
class Compilation:
    """Every policy compiled into one rules file."""

    rules_file: rm.RulesFile
    environments: Mapping[str, CompiledEnvironment]
    notes: tuple[str, ...]

    @property
    def text(self) -> str:
        """The rules file's YAML (same policies, same bytes)."""
        return write_rules(self.rules_file)


def _fail(what: str, position: Position, got: object, hint: str, code: str) -> CompileError:
    return CompileError(what, position=position, got=got, hint=hint, code=code)


# --- conditions -----------------------------------------------------------------------------


def _check_literal(lit: Literal) -> None:
    v = lit.value
    if isinstance(v, int) and not isinstance(v, bool) and not -_INT64 <= v < _INT64:
        raise _fail(
            "integer does not fit Refinery's int64",
            lit.position,
            v,
            "Refinery reads integer values as 64-bit; use a float or a string",
            "int-range",
        )


def _value(value: Literal | ListLiteral | None) -> rm.ConditionValue:
    if value is None:
        return None
    items = value.items if isinstance(value, ListLiteral) else (value,)
    for item in items:
        _check_literal(item)
    raw = refinery_value(value)
    if isinstance(raw, list):
        return tuple(raw)
    assert isinstance(raw, str | int | float | bool)
    return raw


def to_refinery_condition(atom: Condition | HasRootSpan) -> rm.Condition:
    """One policy atom as one Refinery condition map (aliases resolved, Datatype kept)."""
    if isinstance(atom, HasRootSpan):
        return rm.Condition(operator="has-root-span", value=atom.value)
    names = atom.field.names
    one = len(names) == 1
    return rm.Condition(
        field=names[0] if one else None,
        fields=None if one else names,
        operator=atom.operator.value,
        value=_value(atom.value),
        datatype=atom.datatype.value if atom.datatype is not None else None,
    )


# --- actions --------------------------------------------------------------------------------


def _param_value(param: SamplerParam) -> object:
    v = param.value.value
    return v.go_string() if isinstance(v, Duration) else v


def _keyed_config(action: KeyedSampler) -> rm.SamplerConfig:
    """A keyed sampler as its Refinery config: goal, ``FieldList`` and every parameter."""
    kind = sampler_word(action)
    goal = sampler_goal(action)
    if goal < 1:
        raise _fail(
            f"{kind} goal must be at least 1",
            action.position,
            goal,
            "Refinery replaces a goal of 0 by its default, so the policy would not mean it",
            "sampler-goal",
        )
    settings: dict[str, object] = {"field_list": tuple(k.name for k in action.keys)}
    for param in action.params:
        spec = SAMPLER_PARAMETERS[param.name]
        value = _param_value(param)
        if spec.kind.value == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        settings[_SNAKE[spec.refinery_key]] = value
    cls = rm.SAMPLER_CLASSES[SAMPLER_WORDS[type(action)][1]]
    goal_field = (
        "sample_rate"
        if isinstance(action, AvgDynamic)
        else ("goal_sample_rate" if isinstance(action, Dynamic) else "goal_throughput_per_sec")
    )
    return cls(**{goal_field: goal}, **settings)


def environment_sampler(sampler: EnvironmentSampler) -> rm.SamplerConfig:
    """A policy's ``sampler`` as exactly that Refinery sampler, with every parameter."""
    if isinstance(sampler, Deterministic):
        return rm.DeterministicSamplerConfig(sample_rate=sampler.sample_rate)
    return _keyed_config(sampler)


_SNAKE: Final = {
    "AdjustmentInterval": "adjustment_interval",
    "Weight": "weight",
    "AgeOutValue": "age_out_value",
    "BurstMultiple": "burst_multiple",
    "BurstDetectionDelay": "burst_detection_delay",
    "MaxKeys": "max_keys",
    "UseTraceLength": "use_trace_length",
    "UseClusterSize": "use_cluster_size",
    "InitialSampleRate": "initial_sample_rate",
    "ClearFrequency": "clear_frequency",
    "UpdateFrequency": "update_frequency",
    "LookbackFrequency": "lookback_frequency",
}


def _rule(name: str, action: Action, clause: Clause) -> rm.Rule:
    conditions = tuple(to_refinery_condition(a) for a in clause.conditions) or None
    scope = "span" if clause.scope is Scope.SPAN else None
    if isinstance(action, Keep):
        return rm.Rule(name, sample_rate=1, scope=scope, conditions=conditions)
    if isinstance(action, Drop):
        return rm.Rule(name, drop=True, scope=scope, conditions=conditions)
    if isinstance(action, Sample):
        return rm.Rule(name, sample_rate=action.sample_rate, scope=scope, conditions=conditions)
    entry = rm.SamplerEntry((_keyed_config(action),))
    return rm.Rule(name, sampler=entry, scope=scope, conditions=conditions)


def _sharing_key(config: rm.SamplerConfig) -> str:
    from pytest_nectar.refinery.samplers.settings import sharing_key

    return sharing_key(config.KIND, config.params())


# --- policies -------------------------------------------------------------------------------


def _validated(policy: Policy, source: str | None) -> list[str]:
    warnings: list[str] = []
    for d in check_policy(policy, source=source):
        if d.severity == "error":
            raise CompileError.from_diagnostic(d)
        warnings.append(d.render())
    return warnings


def _ordered(rules: Sequence[Rule]) -> list[Rule]:
    return sorted(rules, key=lambda r: -r.priority)  # stable: ties keep file order


#: The longest simple key a YAML parser reads (libyaml and yaml.v3: 1,024 characters).
MAX_YAML_KEY: Final = 1024


def compile_policy(policy: Policy, *, source: str | None = None) -> CompiledEnvironment:
    """One policy -> its environment's ``RulesBasedSampler`` entry (or its one sampler).

    Raises:
        CompileError: the policy has an error, or something Refinery cannot express exactly.
    """
    notes = _validated(policy, source)
    if policy.sampler is not None:
        entry = rm.SamplerEntry((environment_sampler(policy.sampler),))
        return CompiledEnvironment(policy.effective_environment, policy, entry, (), tuple(notes))
    rules: list[rm.Rule] = []
    origins: list[str | None] = []
    taken: dict[str, Rule] = {}
    shared: dict[str, tuple[rm.SamplerConfig, Rule]] = {}
    match_all = False
    for rule in _ordered(policy.rules):
        for i, clause in enumerate(normal_form(rule.match)):
            name = split_name(rule.name, i)
            if name in taken or name == CATCH_ALL_NAME:
                other = taken.get(name)
                raise _fail(
                    "compiled rule name is not unique",
                    rule.name_position,
                    name,
                    (f"rule {other.name!r} expands to it too; " if other else "it is reserved; ")
                    + "rename one so decisions can be traced back to their rule",
                    "name-clash",
                )
            taken[name] = rule
            compiled = _rule(name, rule.action, clause)
            if compiled.downstream is not None:
                key = _sharing_key(compiled.downstream)
                first = shared.setdefault(key, (compiled.downstream, rule))
                if first[0] != compiled.downstream:
                    raise _fail(
                        "Refinery would share one sampler with an earlier rule but ignore "
                        "this rule's parameters",
                        rule.action.position,
                        rule.name,
                        f"rule {first[1].name!r} has the same sampler, goal and key fields; "
                        "Refinery keeps the first parameters (refinery-semantics.md 9.7): "
                        "use the same parameters or a different goal",
                        "shared-sampler",
                    )
            rules.append(compiled)
            origins.append(rule.name)
            match_all = match_all or not clause.conditions
    env = policy.effective_environment
    key_length = len(format_scalar(env))
    if key_length > MAX_YAML_KEY:
        raise _fail(
            "environment name is too long to be a YAML map key",
            policy.position_of("environment"),
            f"{key_length} characters as written",
            f"YAML, and so Refinery's yaml.v3, reads a key of at most {MAX_YAML_KEY} characters",
            "environment-too-long",
        )
    if not match_all:
        rules.append(rm.Rule(CATCH_ALL_NAME, sample_rate=1))
        origins.append(None)
        notes.append(
            f"{policy.position}: {env}: no rule matches every trace; added final rule "
            f"{CATCH_ALL_NAME!r} (SampleRate 1), Refinery's keep-unmatched default made explicit"
        )
    config = rm.RulesBasedSamplerConfig(
        rules=tuple(rules), check_nested_fields=policy.check_nested_fields
    )
    return CompiledEnvironment(
        env, policy, rm.SamplerEntry((config,)), tuple(origins), tuple(notes)
    )


def compile_policies(
    policies: Sequence[Policy], *, sources: Sequence[str | None] | None = None
) -> Compilation:
    """Several policies (one per environment) -> one rules file with ``__default__``.

    ``sources`` (the policies' texts, same order) only adds source lines to messages.

    Raises:
        CompileError: two policies target one environment, or a policy does not compile.
    """
    envs: dict[str, CompiledEnvironment] = {}
    notes: list[str] = []
    for i, policy in enumerate(policies):
        source = sources[i] if sources is not None else None
        env = policy.effective_environment
        if env in envs:
            earlier = envs[env].policy
            assert earlier is not None
            raise _fail(
                "two policies compile into the same environment",
                policy.position_of("environment"),
                env,
                f"{earlier.position.path} ({earlier.name!r}) targets it too; a rules file has "
                "one sampler per environment",
                "duplicate-environment",
            )
        compiled = compile_policy(policy, source=source)
        envs[env] = compiled
        notes.extend(compiled.notes)
    if DEFAULT_ENVIRONMENT not in envs:
        envs[DEFAULT_ENVIRONMENT] = CompiledEnvironment(
            DEFAULT_ENVIRONMENT, None, DEFAULT_SAMPLER, (), ()
        )
        notes.append(
            "no policy targets __default__; emitted __default__: DeterministicSampler "
            "SampleRate 1 (keep every trace of other environments)"
        )
    samplers = {name: envs[name].entry for name in sorted(envs)}
    return Compilation(rm.RulesFile(2, samplers), dict(sorted(envs.items())), tuple(notes))


def compile_file(path: str) -> Compilation:
    """Read, parse and compile one policy file (``nectar decide``/``replay`` with a ``.toon``).

    Raises:
        PolicyError: the file cannot be read or parsed.
        CompileError: the policy cannot be expressed exactly.
    """
    from pytest_nectar.policy.parser import load_policy

    policy = load_policy(path)
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            source: str | None = fh.read()
    except (OSError, UnicodeDecodeError):
        source = None
    return compile_policies([policy], sources=[source])


def load_rules_or_policy(path: str, *, validate: bool = True) -> rm.RulesFile:
    """The rules to evaluate for ``path``: a rules file, validated as Refinery would.

    A ``.toon`` policy is compiled on the fly, exactly as ``nectar compile`` would.  Lives
    here, below the prover and the commands, because both decide what to evaluate this way.
    ``validate=False`` loads the file as Refinery started with ``--no-validate`` does
    (:mod:`pytest_nectar.refinery.rules_decode`).

    Raises:
        RulesError: Refinery would refuse the rules file (the first error; all are counted).
    """
    if path.endswith(".toon"):
        return compile_file(path).rules_file
    from pytest_nectar.refinery.rules_reader import build_rules_file, read_rules
    from pytest_nectar.refinery.rules_validate import validate_loaded

    loaded = read_rules(path)
    if not validate:
        from pytest_nectar.refinery.rules_decode import go_decode
        from pytest_nectar.refinery.rules_decode_json import go_decode_json

        if loaded.format == "json":
            return build_rules_file(go_decode_json(loaded.text, path), path)
        return build_rules_file(go_decode(loaded.root, path, loaded.format), path)
    report = validate_loaded(loaded)
    if report.errors:
        first = report.errors[0]
        raise RulesError(
            first.what,
            position=first.position,
            hint=f"Refinery would refuse this file ({len(report.errors)} error(s)); "
            "run 'nectar validate' for all of them",
            source_line=first.source_line,
        )
    return loaded.rules_file
