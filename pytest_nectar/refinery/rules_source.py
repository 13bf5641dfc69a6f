"""Where Refinery rules live in practice, and what only looks like a rules file.

A rules file is read from one of three places, told apart by content (never by name):

* a plain rules file (``RulesVersion``/``Samplers`` at the top);
* Refinery's Helm chart values (``charts/refinery/values.yaml``): the rules are the map under
  the top-level ``rules:`` key (a ``{{ ... }}`` template in them is refused: the chart renders
  the rules with ``tpl`` at install).  The chart renders them into the rules ConfigMap after adding
  ``__default__: {DeterministicSampler: {SampleRate: 1}}`` when ``Samplers`` has none
  (``refinery.rules`` in the chart's ``_helpers.tpl``), so that default is added here too and
  reported;
* a Kubernetes ConfigMap (``kind: ConfigMap``) holding a rules file as a string under
  ``data`` (the chart's own key is ``rules.yaml``; ``rules.yml``, ``rules.json`` and
  ``rules.toml`` are read in their formats).  Positions are those of the ConfigMap file.

An OpenTelemetry Collector configuration with a ``tail_sampling`` processor is recognised and
refused with one message saying what it is.  Everything else is left to validation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final, TypeAlias

from pytest_nectar.errors import Position, RulesError
from pytest_nectar.refinery.yaml_loader import Node

__all__ = ["CONFIGMAP_KEYS", "Container", "find_tail_sampling", "unwrap"]

#: ConfigMap ``data`` keys read as a rules file, and their formats (chart's key first).
CONFIGMAP_KEYS: Final = {
    "rules.yaml": "yaml",
    "rules.yml": "yaml",
    "rules.json": "json",
    "rules.toml": "toml",
}
_RULES_KEYS: Final = ("RulesVersion", "Samplers")


@dataclass(frozen=True, slots=True)
class Container:
    """A rules file held inside another file: where, and what reading it added.

    ``kind`` is ``helm`` (``key`` is ``rules``) or ``configmap`` (``key`` is the ``data`` key).
    """

    kind: str
    key: str
    position: Position
    added_default: bool = False

    def describe(self) -> str:
        if self.kind == "helm":
            return "Refinery's Helm chart values (under rules:)"
        return f"a Kubernetes ConfigMap (under data: {self.key})"


def _is_rules(node: Node | None) -> bool:
    return node is not None and node.kind == "map" and any(node.get(k) for k in _RULES_KEYS)


def _is_v1_rules(node: Node) -> bool:
    """Refinery 1.x rules under ``rules:`` (the chart's values before Refinery 2)."""
    return any(k.lower() in ("sampler", "samplerate") for k, _, _ in node.entries)


def _shift(node: Node, lines: int, columns: int) -> None:
    """Move positions of text embedded in a block scalar to where they are in the file."""
    p = node.position
    if p.line:
        node.position = Position(p.path, p.line + lines, p.column + columns if p.column else 0)
    for _, key, value in node.entries:
        _shift(key, lines, columns)
        _shift(value, lines, columns)
    for item in node.items:
        _shift(item, lines, columns)


def _with_default(rules: Node) -> bool:
    """Add the chart's ``__default__`` when ``Samplers`` is a map without one (True if added)."""
    samplers = rules.get("Samplers")
    if samplers is None or samplers.kind != "map" or samplers.get("__default__") is not None:
        return False
    where = samplers.position
    rate = Node("map", where)
    rate.entries.append(
        ("SampleRate", Node("scalar", where, "SampleRate"), Node("scalar", where, 1))
    )
    entry = Node("map", where)
    entry.entries.append(
        ("DeterministicSampler", Node("scalar", where, "DeterministicSampler"), rate)
    )
    samplers.entries.append(("__default__", Node("scalar", where, "__default__"), entry))
    return True


#: Decodes an embedded rules file: (text, path, format) -> its root (the reader's own decoder,
#: passed in so that this module does not import the reader back).
Decode: TypeAlias = Callable[[str, str, str], "Node | None"]


def _configmap(
    root: Node, text: str, path: str, decode: Decode
) -> tuple[Node | None, str, Container] | None:
    kind = root.get("kind")
    data = root.get("data")
    if kind is None or kind.value != "ConfigMap" or data is None or data.kind != "map":
        return None
    for key, fmt in CONFIGMAP_KEYS.items():
        value = data.get(key)
        if value is None:
            continue
        if value.kind != "scalar" or not isinstance(value.value, str):
            raise RulesError(
                f"ConfigMap data {key} must be the rules file as a string",
                position=value.position,
                got=value.kind,
                hint=f"write it as a block: {key}: |-",
            )
        lines = text.splitlines()
        at = value.position.line  # the line of the | indicator; the block starts below
        block = at < len(lines) and lines[at - 1].rstrip().endswith(("|", "|-", "|+"))
        body = next((ln for ln in lines[at:] if ln.strip()), "")
        indent = len(body) - len(body.lstrip(" "))
        try:
            inner = decode(value.value, path, fmt)
        except RulesError as err:
            d, p = err.diagnostic, err.position
            if not block or p is None or not p.line:
                raise
            moved = Position(p.path, p.line + at, p.column + indent if p.column else 0)
            raise RulesError(
                d.what, position=moved, got=d.got, hint=d.hint, source_line=d.source_line
            ) from None
        if inner is not None and block:
            _shift(inner, at, indent)
        return inner, fmt, Container("configmap", key, value.position)
    keys = ", ".join(k for k, _, _ in data.entries) or "none"
    raise RulesError(
        "ConfigMap holds no rules file",
        position=data.position,
        got=keys,
        hint="Refinery's chart mounts the rules from data key rules.yaml",
    )


def unwrap(
    root: Node | None, text: str, path: str, decode: Decode
) -> tuple[Node | None, str, Container | None]:
    """The rules node inside ``root``, its format and its container (None: a plain file);
    ``decode`` reads the rules file a ConfigMap holds.

    Raises:
        RulesError: a ConfigMap without rules, or a collector ``tail_sampling`` config.
    """
    if root is None or root.kind != "map" or _is_rules(root):
        return root, "yaml", None
    found = _configmap(root, text, path, decode)
    if found is not None:
        return found
    rules = root.get("rules")
    if rules is not None and rules.kind == "map" and (_is_rules(rules) or _is_v1_rules(rules)):
        _no_templates(rules)
        added = _with_default(rules)
        return rules, "yaml", Container("helm", "rules", rules.position, added)
    if rules is not None and (rules.value is None and not rules.entries and not rules.items):
        # `rules: {}` or `rules:` in Helm values: no rules yet (validation says what is missing)
        empty = Node("map", rules.position)
        return empty, "yaml", Container("helm", "rules", rules.position)
    tail = find_tail_sampling(root)
    if tail is not None:
        raise RulesError(
            "this is an OpenTelemetry Collector configuration with a tail_sampling processor, "
            "not a Refinery rules file",
            position=tail,
            got="tail_sampling",
            hint="Nectar reads Refinery rules (RulesVersion: 2, Samplers: ...), plain, in "
            "Refinery's Helm values (rules:) or in a ConfigMap (data: rules.yaml); the "
            "collector's policies are a different sampler and are not converted",
        )
    return root, "yaml", None


def _no_templates(rules: Node) -> None:
    """The chart renders its rules with ``tpl``: a ``{{ ... }}`` is only known at install."""
    for node in _scalars(rules, 0):
        if isinstance(node.value, str) and "{{" in node.value:
            raise RulesError(
                "a Helm template in the rules: the chart renders it at install (tpl), so the "
                "rules Refinery gets are not known here",
                position=node.position,
                got=node.value,
                hint="render the chart (helm template) and import the rules ConfigMap it writes",
            )


def _scalars(node: Node, depth: int) -> Iterator[Node]:
    if depth > 64:
        return
    if node.kind == "scalar":
        yield node
    for _, key, value in node.entries:
        yield key
        yield from _scalars(value, depth + 1)
    for item in node.items:
        yield from _scalars(item, depth + 1)


def _walk(node: Node, depth: int) -> Iterator[tuple[str, Node, Node]]:
    if depth > 8:
        return
    for key, knode, value in node.entries:
        yield key, knode, value
        yield from _walk(value, depth + 1)
    for item in node.items:
        yield from _walk(item, depth + 1)


def find_tail_sampling(root: Node) -> Position | None:
    """Where a collector ``tail_sampling`` processor is configured (``tail_sampling[/name]``)."""
    for key, knode, _ in _walk(root, 0):
        if key == "tail_sampling" or key.startswith("tail_sampling/"):
            return knode.position
    return None
