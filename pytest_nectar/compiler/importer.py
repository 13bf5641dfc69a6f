"""Existing Refinery rules -> ``.toon`` policies that compile back to the same decisions.

One policy per environment (``Samplers`` key).  Conditions are written exactly as the file
has them: no ``Datatype`` becomes ``as untyped``, ``Fields`` becomes ``first(...)``, names
that are aliases or not plain are backquoted (never aliased), ``root.`` is kept, and
``CheckNestedFields`` becomes ``check_nested_fields``.  Rules keep their names and order
(priorities count down).  A rules-based environment whose rules never match everything
gets no extra rule: the compiler's explicit catch-all keeps at rate 1, as Refinery does.

Every other environment sampler imports as a policy whose ``sampler`` is exactly that sampler,
every parameter kept: ``DeterministicSampler`` as ``deterministic(1/N)``, ``DynamicSampler``
as ``avg_dynamic``, ``EMADynamicSampler`` as ``dynamic``, ``EMAThroughputSampler`` as
``throughput``, ``WindowedThroughputSampler`` as ``windowed_throughput`` and
``TotalThroughputSampler`` as ``total_throughput``.  A ``__default__`` of
``DeterministicSampler: {SampleRate: 1}`` is the compiler's own default and needs no policy.
Whatever the language cannot state exactly is reported as a :class:`Problem` (located), never
dropped or approximated: the environment is then not imported.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from pytest_nectar.compiler.compile import CATCH_ALL_NAME
from pytest_nectar.errors import Position
from pytest_nectar.policy.aliases import resolve_field
from pytest_nectar.policy.model import (
    DEFAULT_ENVIRONMENT,
    DURATION_UNITS,
    SAMPLER_PARAMETERS,
    SAMPLER_WORDS,
    Action,
    And,
    Condition,
    Datatype,
    Deterministic,
    Drop,
    Duration,
    EnvironmentSampler,
    Expr,
    FieldName,
    FieldRef,
    HasRootSpan,
    Keep,
    KeyedSampler,
    KeyField,
    ListLiteral,
    Literal,
    MatchAll,
    Operator,
    Policy,
    Rule,
    Sample,
    SamplerParam,
    SpanScope,
)
from pytest_nectar.refinery import rules_model as rm
from pytest_nectar.refinery.values import to_bool, to_float, to_int

__all__ = ["ImportResult", "Problem", "import_rules"]

_PLAIN: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)*\Z")
_PARAM_BY_KEY: Final = {spec.refinery_key: name for name, spec in SAMPLER_PARAMETERS.items()}
_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)")
_GOAL_KEYS: Final = ("GoalThroughputPerSec", "GoalSampleRate", "SampleRate")
_WORD_CLASSES: Final = {word: cls for cls, (word, _) in SAMPLER_WORDS.items()}
_ENV_WORDS: Final = tuple(w for w in _WORD_CLASSES if w != "deterministic")


@dataclass(frozen=True, slots=True)
class Problem:
    """Something the policy language cannot state exactly (the environment is skipped)."""

    environment: str
    what: str
    position: Position | None

    def render(self) -> str:
        where = f"{self.position}: " if self.position is not None else ""
        return f"{where}{self.environment}: {self.what}"


@dataclass(frozen=True, slots=True)
class ImportResult:
    """Policies by environment, and what could not be imported."""

    policies: Mapping[str, Policy]
    problems: tuple[Problem, ...]
    notes: tuple[str, ...]
    #: per environment, imported rule name -> the original's (renamed rules only)
    renamed: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)


class _Unrepresentable(Exception):
    def __init__(self, what: str, position: Position | None) -> None:
        super().__init__(what)
        self.what, self.position = what, position


def _field_name(name: str) -> FieldName:
    plain = bool(_PLAIN.match(name)) and resolve_field(name) == (name,)
    return FieldName(name, verbatim=not plain)


def _literal(value: object, where: Position | None) -> Literal:
    if isinstance(value, bool | int | float | str):
        return Literal(value)
    raise _Unrepresentable(f"value {value!r} has no literal form", where)


def _condition(cond: rm.Condition, scope: str) -> Condition | HasRootSpan:
    where = cond.position
    op = cond.operator or ""
    if op == "has-root-span":
        if scope == "span":
            raise _Unrepresentable("has-root-span never matches in a span-scope rule", where)
        return HasRootSpan(to_bool(cond.value))
    if cond.field and cond.fields:
        raise _Unrepresentable("Field and Fields together never match", where)
    names = cond.field_names
    if not names:
        raise _Unrepresentable("a condition without a field never matches", where)
    if cond.fields is not None and "?.NUM_DESCENDANTS" in names:
        raise _Unrepresentable("?.NUM_DESCENDANTS in Fields is read as a plain field", where)
    try:
        operator = Operator(op)
    except ValueError:
        raise _Unrepresentable(f"operator {op!r} is missing or unknown", where) from None
    ref = FieldRef(tuple(_field_name(n) for n in names))
    try:
        datatype = Datatype(cond.datatype) if cond.datatype else None
    except ValueError:
        raise _Unrepresentable(
            f"Datatype {cond.datatype!r} is unknown (Refinery refuses the file)", where
        ) from None
    if operator.is_existence:
        return Condition(ref, operator, None, None)
    if cond.value is None:
        raise _Unrepresentable(f"{op} without a Value", where)
    if operator.is_membership:
        items = cond.value if isinstance(cond.value, tuple) else (cond.value,)
        value: Literal | ListLiteral = ListLiteral(tuple(_literal(i, where) for i in items))
    elif isinstance(cond.value, tuple):
        raise _Unrepresentable(f"a list Value with {op}", where)
    else:
        value = _literal(cond.value, where)
    if operator.is_comparison and datatype is not None and not _typed_ok(cond, datatype, op):
        datatype = None  # Refinery falls back to the untyped compare: say so exactly
    return Condition(ref, operator, value, datatype)


def _typed_ok(cond: rm.Condition, datatype: Datatype, op: str) -> bool:
    """Whether Refinery builds the typed matcher (else it silently compares untyped)."""
    if datatype is Datatype.INT:
        return to_int(cond.value) is not None
    if datatype is Datatype.FLOAT:
        return to_float(cond.value) is not None
    if datatype is Datatype.BOOL:
        return op in ("=", "!=")
    return True


def _match(rule: rm.Rule) -> Expr:
    scope = rule.scope or "trace"
    if scope not in ("trace", "span"):
        raise _Unrepresentable(f"scope {scope!r} (Refinery: invalid scope)", rule.position)
    atoms = tuple(_condition(c, scope) for c in rule.conditions or ())
    if not atoms:
        return MatchAll()
    body: Expr = atoms[0] if len(atoms) == 1 else And(atoms)
    if scope == "span" and len(atoms) > 1:
        return SpanScope(body)
    return body


def _duration(text: str, where: Position | None) -> Duration:
    from pytest_nectar.refinery.rules_validate import parse_go_duration

    seconds = parse_go_duration(text)
    if seconds is None:
        raise _Unrepresentable(f"duration {text!r} does not parse", where)
    m = _DURATION.fullmatch(text)
    if m:
        return Duration(Decimal(m.group(1)).normalize(), m.group(2))
    nanos = Decimal(round(seconds * 1e9))  # e.g. "1m30s": the largest unit that divides it
    for unit in ("h", "m", "s", "ms", "us", "ns"):
        size = DURATION_UNITS[unit] * 1000000
        if nanos % size == 0:
            return Duration((nanos / size).normalize(), unit)
    raise AssertionError("every whole number of nanoseconds divides by 1ns")  # pragma: no cover


_SAMPLER_BY_KIND: Final = {kind: cls for cls, (_, kind) in SAMPLER_WORDS.items()}


def _keyed(config: rm.SamplerConfig, allowed: tuple[str, ...]) -> KeyedSampler:
    """A keyed Refinery sampler as the policy sampler of the same kind, every parameter kept."""
    where: Position | None = getattr(config, "position", None)
    cls = _SAMPLER_BY_KIND.get(config.KIND)
    if cls is None or SAMPLER_WORDS[cls][0] not in allowed:
        words = ", ".join(f"{w} is {SAMPLER_WORDS[_WORD_CLASSES[w]][1]}" for w in allowed)
        raise _Unrepresentable(f"{config.KIND} has no policy form here ({words})", where)
    word = SAMPLER_WORDS[cls][0]
    params: list[SamplerParam] = []
    keys: tuple[KeyField, ...] = ()
    goal: object = None
    for key, value in config.params().items():
        if key == "FieldList":
            keys = tuple(KeyField(str(v)) for v in value)  # type: ignore[attr-defined]
        elif key in _GOAL_KEYS:
            goal = value
        elif key in _PARAM_BY_KEY and word in SAMPLER_PARAMETERS[_PARAM_BY_KEY[key]].samplers:
            lit = _duration(value, where) if isinstance(value, str) else value
            params.append(SamplerParam(_PARAM_BY_KEY[key], Literal(lit)))  # type: ignore[arg-type]
        else:
            raise _Unrepresentable(f"{config.KIND} parameter {key} has no policy form", where)
    if not isinstance(goal, int) or isinstance(goal, bool) or goal < 1:
        raise _Unrepresentable(
            f"{config.KIND} without a whole goal >= 1 (Refinery then uses its default)", where
        )
    sampler: KeyedSampler = cls(goal, keys, tuple(params))
    return sampler


def _sampler_action(config: rm.SamplerConfig) -> Action:
    if isinstance(config, rm.DeterministicSamplerConfig):
        raise _Unrepresentable(
            "a rule's DeterministicSampler has no policy form (Refinery's validation refuses "
            "it in a rule)",
            config.position,
        )
    return _keyed(config, _ENV_WORDS)  # every keyed sampler is a rule action too


def _action(rule: rm.Rule) -> Action:
    if rule.sampler is not None:
        chosen = rule.downstream
        if chosen is None:
            raise _Unrepresentable("Sampler names no sampler", rule.position)
        return _sampler_action(chosen)
    rate = rule.effective_sample_rate
    if rule.drop or rate <= 0:
        if rate != 0:
            raise _Unrepresentable(
                f"a dropping rule reports rate {rate}; drop reports 0", rule.position
            )
        return Drop()
    return Keep() if rate == 1 else Sample(denominator=rate)


def _policy_name(name: str, index: int, seen: set[str]) -> str:
    """A name the policy language can hold: non-empty, trimmed, unique in the policy."""
    base = name.strip() or f"rule-{index + 1}"
    out, n = base, 2
    while out in seen:
        out, n = f"{base} ({n})", n + 1
    return out


def _is_compiled_catch_all(rule: rm.Rule) -> bool:
    return (
        rule.name == CATCH_ALL_NAME
        and not rule.conditions
        and rule.sampler is None
        and not rule.drop
        and rule.sample_rate == 1
        and (rule.scope or "trace") in ("trace", "span")
    )


def _rules_policy(
    env: str, config: rm.RulesBasedSamplerConfig, notes: list[str], renamed: dict[str, str]
) -> Policy:
    rules = config.rules or ()
    if rules and _is_compiled_catch_all(rules[-1]):
        rules = rules[:-1]  # Nectar's own catch-all: compiling the policy adds it back
        notes.append(f"{env}: the final rule {CATCH_ALL_NAME!r} is the compiler's own catch-all")
    seen: set[str] = {CATCH_ALL_NAME}  # reserved by the compiler
    out = []
    for i, rule in enumerate(rules):
        name = _policy_name(rule.name, i, seen)
        if name != rule.name:
            renamed[name] = rule.name
            notes.append(
                f"{env}: rule {i + 1} named {rule.name!r} is imported as {name!r} (policy rule "
                f"names are unique, trimmed and non-empty); Refinery's reason text then reads "
                f"rules/trace/{name} where it read rules/trace/{rule.name}"
            )
        seen.add(name)
        priority = (len(rules) - i) * 10
        out.append(Rule(name, None, _match(rule), _action(rule), priority))
    return Policy(
        1,
        env,
        tuple(out),
        environment=None if env == DEFAULT_ENVIRONMENT else env,
        check_nested_fields=config.check_nested_fields,
    )


def _entry_policy(
    env: str, entry: rm.SamplerEntry, notes: list[str], renamed: dict[str, str]
) -> Policy | None:
    chosen = entry.select()
    if chosen is None:
        raise _Unrepresentable("the entry names no known sampler", entry.position)
    if len(entry.samplers) > 1:
        ignored = ", ".join(s.KIND for s in entry.samplers if s is not chosen)
        notes.append(f"{env}: Refinery uses {chosen.KIND} and ignores {ignored}")
    if isinstance(chosen, rm.RulesBasedSamplerConfig):
        return _rules_policy(env, chosen, notes, renamed)
    environment = None if env == DEFAULT_ENVIRONMENT else env
    if isinstance(chosen, rm.DeterministicSamplerConfig):
        rate = chosen.sample_rate or 0
        if rate == 1 and env == DEFAULT_ENVIRONMENT:
            return None  # exactly the compiler's default
        if rate & 0xFFFFFFFF == 0:  # Refinery divides MaxUint32 by uint32(SampleRate)
            raise _Unrepresentable(
                f"DeterministicSampler SampleRate {rate} makes Refinery panic "
                "(integer divide by zero)",
                chosen.position,
            )
        if rate < 0:
            notes.append(
                f"{env}: DeterministicSampler SampleRate {rate} behaves like 1 (keeps every "
                "trace, reports rate 1); imported as deterministic(1/1)"
            )
        sampler: EnvironmentSampler = Deterministic(max(rate, 1))
    else:
        sampler = _keyed(chosen, _ENV_WORDS)
    return Policy(1, env, (), environment=environment, sampler=sampler)


def import_rules(rules_file: rm.RulesFile) -> ImportResult:
    """One policy per importable environment, and a :class:`Problem` for each that is not."""
    policies: dict[str, Policy] = {}
    problems: list[Problem] = []
    notes: list[str] = []
    renamed: dict[str, dict[str, str]] = {}
    for env in sorted(rules_file.samplers):
        try:
            policy = _entry_policy(
                env, rules_file.samplers[env], notes, renamed.setdefault(env, {})
            )
        except _Unrepresentable as err:
            problems.append(Problem(env, err.what, err.position))
            continue
        if policy is None:
            notes.append(f"{env}: DeterministicSampler SampleRate 1 is Nectar's compiled default")
        else:
            policies[env] = policy
    kept = {env: names for env, names in renamed.items() if names and env in policies}
    return ImportResult(policies, tuple(problems), tuple(notes), kept)
