"""Existing Refinery rules -> ``.toon`` policies that compile back to the same decisions.

One policy per environment (``Samplers`` key).  Conditions are written exactly as the file
has them: no ``Datatype`` becomes ``as untyped``, ``Fields`` becomes ``first(...)``, names
that are aliases or not plain are backquoted (never aliased), ``root.`` is kept, and
``CheckNestedFields`` becomes ``check_nested_fields``.  Rules keep their names and order
(priorities count down).  A rules-based environment whose rules never match everything
gets no extra rule: the compiler's explicit catch-all keeps at rate 1, as Refinery does.

Non-rules samplers import as the corresponding action (one ``true`` rule): ``EMADynamicSampler``
as ``dynamic``, ``EMAThroughputSampler`` as ``throughput``, ``DeterministicSampler`` with
``SampleRate <= 1`` as ``keep``; a ``__default__`` of ``DeterministicSampler: {SampleRate: 1}``
is the compiler's own default and needs no policy.  Whatever the language cannot state
exactly is reported as a :class:`Problem` (located), never dropped or approximated: the
environment is then not imported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from pytest_nectar.errors import Position
from pytest_nectar.policy.aliases import resolve_field
from pytest_nectar.policy.model import (
    DEFAULT_ENVIRONMENT,
    SAMPLER_PARAMETERS,
    Action,
    And,
    Condition,
    Datatype,
    Drop,
    Duration,
    Dynamic,
    Expr,
    FieldName,
    FieldRef,
    HasRootSpan,
    Keep,
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
    Throughput,
)
from pytest_nectar.refinery import rules_model as rm
from pytest_nectar.refinery.values import to_bool, to_float, to_int

__all__ = ["ImportResult", "Problem", "import_rules"]

_PLAIN: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)*\Z")
_PARAM_BY_KEY: Final = {spec.refinery_key: name for name, spec in SAMPLER_PARAMETERS.items()}
_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)")


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
    millis = Decimal(repr(seconds * 1000)).normalize()
    return Duration(millis, "ms")


def _sampler_action(config: rm.SamplerConfig) -> Action:
    where: Position | None = getattr(config, "position", None)
    if not isinstance(config, rm.EMAThroughputSamplerConfig | rm.EMADynamicSamplerConfig):
        raise _Unrepresentable(
            f"{config.KIND} has no policy action (throughput is EMAThroughputSampler, "
            "dynamic is EMADynamicSampler)",
            where,
        )
    params: list[SamplerParam] = []
    keys: tuple[KeyField, ...] = ()
    for key, value in config.params().items():
        if key == "FieldList":
            keys = tuple(KeyField(str(v)) for v in value)  # type: ignore[attr-defined]
        elif key in ("GoalThroughputPerSec", "GoalSampleRate"):
            continue
        elif key in _PARAM_BY_KEY:
            lit = _duration(value, where) if isinstance(value, str) else value
            params.append(SamplerParam(_PARAM_BY_KEY[key], Literal(lit)))  # type: ignore[arg-type]
        else:
            raise _Unrepresentable(f"{config.KIND} parameter {key} has no policy form", where)
    if isinstance(config, rm.EMAThroughputSamplerConfig) and config.goal_throughput_per_sec:
        return Throughput(config.goal_throughput_per_sec, keys, tuple(params))
    if isinstance(config, rm.EMADynamicSamplerConfig) and config.goal_sample_rate:
        return Dynamic(config.goal_sample_rate, keys, tuple(params))
    raise _Unrepresentable(f"{config.KIND} without a goal >= 1 (Refinery uses 10)", where)


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


def _rules_policy(env: str, config: rm.RulesBasedSamplerConfig) -> Policy:
    rules = config.rules or ()
    seen: set[str] = set()
    out = []
    for i, rule in enumerate(rules):
        if not rule.name.strip() or rule.name != rule.name.strip():
            raise _Unrepresentable(
                f"rule name {rule.name!r} cannot be a policy rule name", rule.position
            )
        if rule.name in seen:
            raise _Unrepresentable(f"duplicate rule name {rule.name!r}", rule.position)
        seen.add(rule.name)
        priority = (len(rules) - i) * 10
        out.append(Rule(rule.name, None, _match(rule), _action(rule), priority))
    return Policy(
        1,
        env,
        tuple(out),
        environment=None if env == DEFAULT_ENVIRONMENT else env,
        check_nested_fields=config.check_nested_fields,
    )


def _entry_policy(env: str, entry: rm.SamplerEntry, notes: list[str]) -> Policy | None:
    chosen = entry.select()
    if chosen is None:
        raise _Unrepresentable("the entry names no known sampler", entry.position)
    if len(entry.samplers) > 1:
        ignored = ", ".join(s.KIND for s in entry.samplers if s is not chosen)
        notes.append(f"{env}: Refinery uses {chosen.KIND} and ignores {ignored}")
    if isinstance(chosen, rm.RulesBasedSamplerConfig):
        return _rules_policy(env, chosen)
    if isinstance(chosen, rm.DeterministicSamplerConfig):
        rate = chosen.sample_rate or 0
        if rate == 1 and env == DEFAULT_ENVIRONMENT:
            return None  # exactly the compiler's default
        if not 0 < rate <= 1:
            raise _Unrepresentable(
                f"DeterministicSampler SampleRate {rate} keeps by trace-id hash; the policy "
                "language has no deterministic action",
                chosen.position,
            )
        action: Action = Keep()
    else:
        action = _sampler_action(chosen)
    environment = None if env == DEFAULT_ENVIRONMENT else env
    rule = Rule(f"{env}-{chosen.KIND}", None, MatchAll(), action, 0)
    return Policy(1, env, (rule,), environment=environment)


def import_rules(rules_file: rm.RulesFile) -> ImportResult:
    """One policy per importable environment, and a :class:`Problem` for each that is not."""
    policies: dict[str, Policy] = {}
    problems: list[Problem] = []
    notes: list[str] = []
    for env in sorted(rules_file.samplers):
        try:
            policy = _entry_policy(env, rules_file.samplers[env], notes)
        except _Unrepresentable as err:
            problems.append(Problem(env, err.what, err.position))
            continue
        if policy is None:
            notes.append(f"{env}: DeterministicSampler SampleRate 1 is Nectar's compiled default")
        else:
            policies[env] = policy
    return ImportResult(policies, tuple(problems), tuple(notes))
