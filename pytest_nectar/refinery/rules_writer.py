"""Write a :class:`RulesFile` as YAML text, deterministically and in Refinery's own style.

Layout follows Refinery's examples (``rules_complete.yaml``, the section 11 template):
``RulesVersion`` then ``Samplers``; ``__default__`` first, then the other destinations sorted;
sampler parameters in Refinery's order; a rule's keys as ``Name``, ``Drop``, ``SampleRate``,
``Sampler``, ``Scope``, ``Conditions``; conditions as block maps ``Field``/``Fields``,
``Operator`` (always quoted), ``Value``, ``Datatype``.  Two-space indentation, LF line ends.
Every scalar is written so that yaml.v3 decodes it back to the same Go value, hence a written
file reads back equal (:func:`read_rules_text`).
"""

from __future__ import annotations

import math
import re
from typing import Final

from pytest_nectar.refinery.rules_model import (
    Condition,
    Rule,
    RulesBasedSamplerConfig,
    RulesFile,
    SamplerConfig,
    SamplerEntry,
)
from pytest_nectar.refinery.values import GoMap
from pytest_nectar.refinery.yaml_loader import resolve_plain

__all__ = ["format_scalar", "write_rules"]

_PLAIN_SAFE: Final = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9_ ./()\-]*", re.ASCII)
_INDENT: Final = "  "


def _quote(text: str) -> str:
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x20 or 0x7F <= code <= 0x9F:
            out.append(f"\\x{code:02x}")
        elif code in (0x2028, 0x2029, 0xFEFF) or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def format_scalar(value: object) -> str:
    """YAML text for a scalar that yaml.v3 decodes back to the same Go value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    if value is None:
        return "null"
    text = str(value)
    if (
        _PLAIN_SAFE.fullmatch(text)
        and not text.endswith((" ", "."))
        and " #" not in text
        and resolve_plain(text) == text
        and isinstance(resolve_plain(text), str)
    ):
        return text
    return _quote(text)


def format_value(value: object) -> str:
    """YAML flow text for a Value list element: a scalar, or a nested list or map."""
    if isinstance(value, GoMap):
        return "{" + ", ".join(f"{format_scalar(k)}: {format_value(v)}" for k, v in value) + "}"
    if isinstance(value, tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return format_scalar(value)


def _operator(op: str) -> str:
    return "'" + op.replace("'", "''") + "'"


def _emit_list(
    lines: list[str], indent: str, key: str, items: list[object] | tuple[object, ...]
) -> None:
    if not items:
        lines.append(f"{indent}{key}: []")
        return
    lines.append(f"{indent}{key}:")
    lines.extend(f"{indent}{_INDENT}- {format_value(i)}" for i in items)


def _emit_sampler(lines: list[str], indent: str, config: SamplerConfig) -> None:
    if isinstance(config, RulesBasedSamplerConfig):
        _emit_rules_based(lines, indent, config)
        return
    params = config.params()
    if not params:
        lines.append(f"{indent}{config.KIND}: {{}}")
        return
    lines.append(f"{indent}{config.KIND}:")
    inner = indent + _INDENT
    for key, value in params.items():
        if isinstance(value, list):
            _emit_list(lines, inner, key, value)
        else:
            lines.append(f"{inner}{key}: {format_scalar(value)}")


def _emit_entry(lines: list[str], indent: str, entry: SamplerEntry) -> None:
    for config in entry.samplers:
        _emit_sampler(lines, indent, config)


def _emit_rules_based(lines: list[str], indent: str, config: RulesBasedSamplerConfig) -> None:
    if config.rules is None and config.check_nested_fields is None:
        lines.append(f"{indent}RulesBasedSampler: {{}}")
        return
    lines.append(f"{indent}RulesBasedSampler:")
    inner = indent + _INDENT
    if config.rules is not None:
        if not config.rules:
            lines.append(f"{inner}Rules: []")
        else:
            lines.append(f"{inner}Rules:")
            for rule in config.rules:
                _emit_rule(lines, inner + _INDENT, rule)
    if config.check_nested_fields is not None:
        lines.append(f"{inner}CheckNestedFields: {format_scalar(config.check_nested_fields)}")


def _emit_rule(lines: list[str], indent: str, rule: Rule) -> None:
    body = indent + _INDENT
    lines.append(f"{indent}- Name: {format_scalar(rule.name)}")
    if rule.drop is not None:
        lines.append(f"{body}Drop: {format_scalar(rule.drop)}")
    if rule.sample_rate is not None:
        lines.append(f"{body}SampleRate: {format_scalar(rule.sample_rate)}")
    if rule.sampler is not None:
        if rule.sampler.samplers:
            lines.append(f"{body}Sampler:")
            _emit_entry(lines, body + _INDENT, rule.sampler)
        else:
            lines.append(f"{body}Sampler: {{}}")
    if rule.scope is not None:
        lines.append(f"{body}Scope: {format_scalar(rule.scope)}")
    if rule.conditions is not None:
        if not rule.conditions:
            lines.append(f"{body}Conditions: []")
        else:
            lines.append(f"{body}Conditions:")
            for cond in rule.conditions:
                _emit_condition(lines, body + _INDENT, cond)


def _emit_condition(lines: list[str], indent: str, cond: Condition) -> None:
    parts: list[tuple[str, str | tuple[object, ...]]] = []
    if cond.field is not None:
        parts.append(("Field", format_scalar(cond.field)))
    if cond.fields is not None:
        parts.append(("Fields", cond.fields))
    if cond.operator is not None:
        parts.append(("Operator", _operator(cond.operator)))
    if cond.value is not None:
        parts.append(
            ("Value", cond.value if isinstance(cond.value, tuple) else format_scalar(cond.value))
        )
    if cond.datatype is not None:
        parts.append(("Datatype", format_scalar(cond.datatype)))
    if not parts:
        lines.append(f"{indent}- {{}}")
        return
    body = indent + _INDENT
    for i, (key, text) in enumerate(parts):
        lead = f"{indent}- " if i == 0 else body
        if isinstance(text, tuple):
            sub: list[str] = []
            _emit_list(sub, "", key, text)
            lines.append(lead + sub[0])
            lines.extend(body + line for line in sub[1:])
        else:
            lines.append(f"{lead}{key}: {text}")


def write_rules(rules_file: RulesFile) -> str:
    """The rules file as YAML text (same model, same bytes)."""
    lines: list[str] = []
    if rules_file.rules_version is not None:
        lines.append(f"RulesVersion: {format_scalar(rules_file.rules_version)}")
    names = sorted(rules_file.samplers)
    if "__default__" in names:
        names.remove("__default__")
        names.insert(0, "__default__")
    if not names:
        lines.append("Samplers: {}")
    else:
        lines.append("Samplers:")
        for name in names:
            entry = rules_file.samplers[name]
            if entry.samplers:
                lines.append(f"{_INDENT}{format_scalar(name)}:")
                _emit_entry(lines, _INDENT * 2, entry)
            else:
                lines.append(f"{_INDENT}{format_scalar(name)}: {{}}")
    return "\n".join(lines) + "\n"
