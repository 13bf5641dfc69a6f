"""Write compiled rules back into the Helm values or ConfigMap they were read from.

Only the rules' own text is replaced; every other byte of the file (comments, key order,
quoting, blank lines, the rest of the values or manifest) is kept exactly.  ruamel.yaml's
YAML 1.2 composer says where the rules are (its marks); the splice is done on the text, so
nothing outside that span is re-serialised.  The result is read back with ruamel.yaml and
must hold exactly the new rules and, everything else, what the old file held.

* Helm values: the block under ``rules:`` is replaced by the rules file's YAML, indented as
  the block was (a flow or empty value such as ``rules: {}`` becomes a block two spaces
  deeper than the key);
* ConfigMap: the text of the ``data`` key is replaced, kept as a literal block (``|``/``|-``
  stay as written; another style becomes ``|-``).
"""

from __future__ import annotations

from typing import Any

from pytest_nectar.errors import Position, RulesError
from pytest_nectar.refinery.rules_source import Container

__all__ = ["splice_rules"]


def _compose(text: str, path: str) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="rt").compose(text)
    except YAMLError as err:
        raise RulesError(f"cannot read {path} as YAML: {err}", position=Position(path)) from None


def _value(mapping: Any, key: str) -> tuple[Any, Any] | None:
    for knode, vnode in getattr(mapping, "value", ()):
        if getattr(knode, "value", None) == key:
            return knode, vnode
    return None


def _leaf_end(node: Any) -> int:
    """Where the last character of a block node's content is (trailing comments excluded)."""
    children = node.value if isinstance(node.value, list) else None
    if not children or getattr(node, "flow_style", False):
        return int(node.end_mark.index)
    last = children[-1]
    return _leaf_end(last[1] if isinstance(last, tuple) else last)


def _with_comment(text: str, end: int) -> int:
    """Past a ``# comment`` that ends the rules' last line (it described the old rules)."""
    stop = text.find("\n", end)
    stop = len(text) if stop < 0 else stop
    return stop if text[end:stop].strip().startswith("#") else end


def _indented(body: str, indent: int) -> str:
    pad = " " * indent
    return "\n".join(pad + line if line else "" for line in body.rstrip("\n").split("\n"))


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _helm(text: str, root: Any, rules_text: str, path: str) -> str:
    found = _value(root, "rules")
    if found is None:
        raise RulesError("no rules: key in the Helm values", position=Position(path))
    key, value = found
    block = type(value).__name__ == "MappingNode" and not value.flow_style and value.value
    if block:
        start = _line_start(text, value.start_mark.index)
        end = _with_comment(text, _leaf_end(value))
        return text[:start] + _indented(rules_text, value.start_mark.column) + text[end:]
    colon = text.index(":", key.end_mark.index) + 1
    body = _indented(rules_text, key.start_mark.column + 2)
    end = value.end_mark.index
    if type(value).__name__ == "ScalarNode" and value.value == "":
        end = _with_comment(text, colon)  # `rules:` with nothing (or a comment) after it
    return text[:colon] + "\n" + body + text[end:]


def _configmap(text: str, root: Any, key: str, rules_text: str, path: str) -> str:
    data = _value(root, "data")
    found = _value(data[1], key) if data is not None else None
    if found is None:
        raise RulesError(f"no data: {key} in the ConfigMap", position=Position(path))
    knode, value = found
    if value.style == "|":
        lines = text[value.start_mark.index :].split("\n")
        header = len(lines[0]) + 1  # the indicator line
        first = _line_start(text, value.start_mark.index + header)
        body_lines = text[first:].split("\n")
        indent = next((len(ln) - len(ln.lstrip(" ")) for ln in body_lines if ln.strip()), 0)
        if indent == 0:
            indent = knode.start_mark.column + 2
        end, offset = first, first
        for ln in body_lines:
            if ln.strip() and len(ln) - len(ln.lstrip(" ")) < indent:
                break
            offset += len(ln) + 1
            if ln.strip():
                end = offset - 1
        return text[:first] + _indented(rules_text, indent) + text[end:]
    body = _indented(rules_text, knode.start_mark.column + 2)
    return text[: value.start_mark.index] + "|-\n" + body + text[value.end_mark.index :]


def _load(text: str) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe", pure=True).load(text)  # plain dicts and lists
    except YAMLError as err:  # pragma: no cover - a splice bug, never a user error
        raise RulesError(f"writing the rules would break the file's YAML: {err}") from None


def splice_rules(text: str, container: Container, rules_text: str, path: str) -> str:
    """``text`` (the Helm values or ConfigMap) with its rules replaced by ``rules_text``.

    Raises:
        RulesError: the file no longer has the rules where they were read from, or the
            result would not read back as exactly the new rules and the old rest.
    """
    root = _compose(text, path)
    if container.kind == "helm":
        out = _helm(text, root, rules_text, path)
    else:
        out = _configmap(text, root, container.key, rules_text, path)
    old, new = _load(text), _load(out)
    if container.kind == "helm":
        held, expected = new.pop("rules", None), _load(rules_text)
        old.pop("rules", None)
    else:
        held = new["data"].pop(container.key).rstrip("\n")
        expected = rules_text.rstrip("\n")
        old["data"].pop(container.key)
    if held != expected or old != new:
        raise RulesError(  # pragma: no cover - a splice bug, never a user error
            "writing the rules into this file would change more than the rules",
            position=Position(path),
            hint="write a plain rules file with -o rules.yaml instead",
        )
    return out
