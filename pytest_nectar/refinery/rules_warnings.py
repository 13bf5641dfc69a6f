"""Warnings for what Refinery loads but silently mishandles (refinery-semantics.md section 14).

Each check reads the decoded node tree, so every warning points at the line that causes it.
Parts of the file that are ill-typed are skipped here: :mod:`.rules_validate` reports them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from pytest_nectar.errors import Position
from pytest_nectar.refinery.gjson import validate_path
from pytest_nectar.refinery.regex import GoRegexError, compile_go_regex
from pytest_nectar.refinery.rules_model import NUM_DESCENDANTS, OPERATORS, SAMPLER_ORDER
from pytest_nectar.refinery.rules_reader import LoadedRules
from pytest_nectar.refinery.values import go_v, to_float, to_int
from pytest_nectar.refinery.yaml_loader import Node

__all__ = ["collect_warnings"]

Warn = Callable[..., None]

_COMPARE: Final = frozenset({"=", "!=", ">", "<", ">=", "<="})
_ORDERING: Final = frozenset({">", "<", ">=", "<="})
_ODD_FIELD_CHARS: Final = re.compile(r"[\s\"'`:,;=<>(){}\[\]]")


def collect_warnings(loaded: LoadedRules, warn: Warn) -> None:
    """Call ``warn(code, what, position, hint="", got=None)`` for each trap in the file."""
    root = loaded.root
    if root is None or root.kind != "map":
        return
    samplers = root.get("Samplers")
    if samplers is None or samplers.kind != "map":
        return
    for name, _, entry in samplers.entries:
        if entry.kind != "map":
            continue
        present = [k for k, _, _ in entry.entries if k in SAMPLER_ORDER]
        if len(present) > 1:
            chosen = next(k for k in SAMPLER_ORDER if k in present)
            warn(
                "several-samplers",
                f"destination {name} names {len(present)} samplers; Refinery uses only {chosen}",
                entry.position,
                hint="keep exactly one sampler per destination",
            )
        for kind, _, cfg in entry.entries:
            if kind == "DeterministicSampler" and cfg.kind == "map":
                _deterministic(cfg, warn)
            elif kind == "RulesBasedSampler" and cfg.kind == "map":
                _rules_based(cfg, warn)
            elif kind in SAMPLER_ORDER and cfg.kind == "map":
                _field_list(kind, cfg, warn)


def _int_value(node: Node | None) -> int | None:
    if node is None or node.kind != "scalar":
        return None
    v = node.value
    return int(v) if isinstance(v, int) and not isinstance(v, bool) else None


def _deterministic(cfg: Node, warn: Warn) -> None:
    node = cfg.get("SampleRate")
    rate = _int_value(node)
    if rate is not None and node is not None and rate & 0xFFFFFFFF == 0:
        warn(
            "deterministic-crash",
            f"DeterministicSampler SampleRate {rate} crashes Refinery at startup "
            "(integer divide by zero)",
            node.position,
            hint="use SampleRate: 1 to keep everything",
        )
    elif rate is not None and node is not None and rate < 0:
        warn(
            "deterministic-negative",
            f"DeterministicSampler SampleRate {rate} behaves like 1 (keeps everything)",
            node.position,
            hint="use SampleRate: 1",
        )


def _field_list(kind: str, cfg: Node, warn: Warn) -> None:
    node = cfg.get("FieldList")
    if node is not None and node.kind == "seq" and not node.items:
        warn(
            "empty-field-list",
            f"{kind} FieldList is empty: every trace gets the same key",
            node.position,
            hint="list the fields that make traces different",
        )


def _rules_based(cfg: Node, warn: Warn) -> None:
    rules = cfg.get("Rules")
    nested_node = cfg.get("CheckNestedFields")
    nested = nested_node is not None and nested_node.value is True
    if rules is None or rules.kind != "seq":
        return
    names: dict[str, int] = {}
    catch_all: str | None = None
    for rule in rules.items:
        if rule.kind != "map":
            continue
        name_node = rule.get("Name")
        name = name_node.value if name_node is not None and isinstance(name_node.value, str) else ""
        if catch_all is not None:
            warn(
                "unreachable-rule",
                f"rule {name!r} is never reached: rule {catch_all!r} before it has no conditions",
                rule.position,
                hint="move catch-all rules to the end",
            )
        if name in names and name:
            warn(
                "duplicate-rule-name",
                f"rule name {name!r} is also used at line {names[name]}",
                rule.position,
                hint="reasons in Refinery's telemetry will be ambiguous",
            )
        names.setdefault(name, rule.position.line)
        _rule(rule, name, nested, warn)
        conds = rule.get("Conditions")
        if conds is None or (conds.kind == "seq" and not conds.items):
            catch_all = name


def _rule(rule: Node, name: str, nested: bool, warn: Warn) -> None:
    sampler = rule.get("Sampler")
    drop = rule.get("Drop")
    rate_node = rule.get("SampleRate")
    rate = _int_value(rate_node)
    is_drop = drop is not None and drop.value is True
    if sampler is not None:
        if sampler.kind == "map" and not any(
            k in ("DynamicSampler", "EMADynamicSampler", "EMAThroughputSampler",
                  "WindowedThroughputSampler", "TotalThroughputSampler", "DeterministicSampler")
            for k, _, _ in sampler.entries
        ):  # fmt: skip
            warn(
                "sampler-missing",
                f"rule {name!r} has a Sampler with no sampler type: Refinery exits at startup",
                sampler.position,
                hint="name one of the downstream samplers, e.g. EMADynamicSampler",
            )
        if drop is not None or rate_node is not None:
            warn(
                "ignored-with-sampler",
                f"rule {name!r} has a Sampler, so its Drop and SampleRate are ignored",
                (rate_node or drop or sampler).position,
            )
    elif not is_drop:
        if rate_node is None:
            warn(
                "missing-sample-rate",
                f"rule {name!r} has no SampleRate, Drop or Sampler: "
                "Refinery drops every trace it matches (rate 0)",
                rule.position,
                hint="add 'SampleRate: 1' to keep matching traces, or 'Drop: true' to drop them",
            )
        elif rate is not None and rate <= 0:
            warn(
                "non-positive-sample-rate",
                f"rule {name!r} has SampleRate {rate}: Refinery drops every trace it matches",
                rate_node.position,
                hint="use 'Drop: true' to drop, or a SampleRate of at least 1",
            )
    elif rate is not None and rate_node is not None and rate > 0:
        warn(
            "ignored-sample-rate",
            f"rule {name!r} drops (Drop: true), so its SampleRate {rate} is only the reported rate",
            rate_node.position,
        )
    scope_node = rule.get("Scope")
    scope = scope_node.value if scope_node is not None else None
    conds = rule.get("Conditions")
    if conds is None or conds.kind != "seq":
        return
    has_root_guard = False
    for cond in conds.items:
        if cond.kind != "map":
            continue
        op_node = cond.get("Operator")
        if op_node is not None and op_node.value == "has-root-span":
            has_root_guard = has_root_guard or _bool_text(cond.get("Value")) is True
    for cond in conds.items:
        if cond.kind == "map":
            _condition(cond, name, scope, has_root_guard, nested, warn)


def _bool_text(node: Node | None) -> bool | None:
    from pytest_nectar.refinery.values import to_bool

    if node is None:
        return False
    return to_bool(node.to_python())


def _fields_of(cond: Node) -> list[tuple[str, Position]]:
    out: list[tuple[str, Position]] = []
    f = cond.get("Field")
    if f is not None and isinstance(f.value, str):
        out.append((f.value, f.position))
    fs = cond.get("Fields")
    if fs is not None and fs.kind == "seq":
        out.extend((i.value, i.position) for i in fs.items if isinstance(i.value, str))
    return out


def _condition(
    cond: Node, rule: str, scope: object, has_root_guard: bool, nested: bool, warn: Warn
) -> None:
    op_node = cond.get("Operator")
    op = op_node.value if op_node is not None else None
    vnode = cond.get("Value")
    value = vnode.to_python() if vnode is not None else None
    dt_node = cond.get("Datatype")
    dt = dt_node.value if dt_node is not None else None
    where = op_node.position if op_node is not None else cond.position
    if op_node is None:
        warn(
            "missing-operator",
            f"condition in rule {rule!r} has no Operator: it never matches",
            cond.position,
            hint="add an Operator such as '=' or 'exists'",
        )
        return
    if op not in OPERATORS:
        return  # a validation error already
    fields = _fields_of(cond)
    for fname, fpos in fields:
        if fname != fname.strip() or _ODD_FIELD_CHARS.search(fname):
            warn(
                "odd-field-name",
                f"field name {fname!r} contains whitespace or punctuation: "
                "it will almost never exist",
                fpos,
                hint="check for a stray character or space",
            )
        if fname.startswith("?.") and fname != NUM_DESCENDANTS:
            warn(
                "unknown-computed-field",
                f"{fname!r} is not a computed field: it is looked up literally",
                fpos,
            )
        why = validate_path(fname) if nested and op != "has-root-span" else None
        if why is not None:
            warn(
                "nested-path-unsupported",
                f"CheckNestedFields: Nectar does not evaluate this gjson path ({why}); "
                "nectar decide, replay and prove refuse this file",
                fpos,
                got=fname,
                hint="write the field as a plain dotted path, or turn CheckNestedFields off",
            )
        if fname.removeprefix("root.") == "meta.refinery.incoming_user_agent":
            warn(
                "user-agent-field",
                "meta.refinery.incoming_user_agent is the User-Agent header of the request "
                "that carried the span; nectar decide, replay and prove refuse events that "
                "do not carry it themselves",
                fpos,
            )
    fs = cond.get("Fields")
    if fs is not None and fs.kind == "seq" and any(i.value == NUM_DESCENDANTS for i in fs.items):
        warn(
            "computed-in-fields",
            "?.NUM_DESCENDANTS is computed only when given as Field; "
            "in Fields it is looked up literally",
            fs.position,
            hint="use 'Field: ?.NUM_DESCENDANTS'",
        )
    if op == "has-root-span" and scope == "span":
        warn(
            "has-root-span-in-span-scope",
            f"has-root-span never matches in a Scope: span rule, so rule {rule!r} never matches",
            where,
            hint="move the has-root-span condition to a trace-scope rule",
        )
    if op in _COMPARE:
        _compare_condition(op, value, vnode, dt, rule, where, warn)
    if op in ("in", "not-in"):
        _in_condition(op, value, vnode, dt, rule, where, warn)
    if op == "matches":
        try:
            compile_go_regex(go_v(value))
        except GoRegexError as err:
            warn(
                "invalid-regex",
                f"'matches' pattern is not a valid Go regexp ({err}): the condition never matches",
                vnode.position if vnode is not None else where,
                got=go_v(value),
            )
    if op == "not-exists" and not has_root_guard:
        for fname, fpos in fields:
            if fname.startswith("root."):
                warn(
                    "root-not-exists",
                    f"{fname} not-exists is true for traces without a root span",
                    fpos,
                    hint="add '- Operator: has-root-span, Value: true' to the rule",
                )


def _compare_condition(
    op: str, value: object, vnode: Node | None, dt: object, rule: str, where: Position, warn: Warn
) -> None:
    pos = vnode.position if vnode is not None else where
    if (dt == "int" and to_int(value) is None) or (dt == "float" and to_float(value) is None):
        warn(
            "value-not-numeric",
            f"Value {go_v(value)} does not convert to {dt}: "
            "Refinery silently compares untyped instead",
            pos,
            hint="give a numeric Value",
            got=value,
        )
    if dt == "bool" and op in _ORDERING:
        warn(
            "bool-ordering",
            f"Datatype bool has no {op!r}: Refinery silently compares untyped instead",
            where,
            hint="use '=' or '!=' with Datatype bool",
        )
    if dt is None and vnode is None:
        warn(
            "compare-without-value",
            f"{op!r} without a Value compares against nil: '>' and '!=' match any non-null value",
            where,
        )
    if dt is None and vnode is not None and not isinstance(value, str):
        warn(
            "untyped-compare",
            f'{op!r} without Datatype compares Go types exactly: a string "{go_v(value)}" '
            f"in the data never equals {go_v(value)}",
            where,
            hint=f"add 'Datatype: {_datatype_for(value)}'",
        )


def _datatype_for(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    return "float"


def _in_condition(
    op: str, value: object, vnode: Node | None, dt: object, rule: str, where: Position, warn: Warn
) -> None:
    if dt == "bool":
        warn(
            "in-with-bool",
            f"{op!r} with Datatype bool fails at load: the condition never matches",
            where,
            hint="use Datatype string",
        )
        return
    items = value if isinstance(value, list) else [value]
    if isinstance(value, bool) or (vnode is not None and vnode.kind == "scalar" and value is None):
        warn("in-scalar", f"{op!r} needs a list Value: the condition never matches", where)
        return
    if dt in ("int", "float"):
        convert = to_int if dt == "int" else to_float
        dropped = [go_v(x) for x in items if convert(x) is None]
        if dropped:
            warn(
                "in-value-dropped",
                f"{op!r} values {dropped} do not convert to {dt} and are silently ignored",
                vnode.position if vnode is not None else where,
            )
