"""Stateless verdicts by decision input: the exact shortcuts of the simulated Refinery.

A decision reads only the fields of the conditions, the error and must-keep expressions and
the samplers' ``FieldList`` (plus row count and root flags), so traces equal on those (as
:func:`content_key` reads them) get the same verdict.  A verdict the cache does not hold yet
is decided by :class:`RuleMatcher`: the reference evaluator's rule matching with the
simulator's speed-ups, which the reference itself leaves out to stay a plain transcription
of Refinery's code path (tests hold the two to the same decisions).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from pytest_nectar.refinery.conditions import CompiledCondition
from pytest_nectar.refinery.reference import NO_RULE_MATCHED, Decision, Evaluator, extract_value
from pytest_nectar.refinery.rules_model import RulesBasedSamplerConfig
from pytest_nectar.trace import Span, Trace

__all__ = ["CachedDecision", "DecisionCache", "RuleMatcher", "content_key"]

_FROZEN_MAX = 1 << 16


@dataclass(frozen=True, slots=True)
class CachedDecision:
    """What a trace's decision input fixes, whatever its arrival time."""

    rule: int
    decision: Decision | None  # stateless outcome, None when a downstream sampler decides
    key: str
    error: bool
    must: bool


class DecisionCache:
    """Stateless verdicts by decision input, shared by every Refinery of one set-up.

    Keys are corpus shape indexes (untouched traces) or :meth:`content_key` values; a verdict
    (rule, stateless decision, sampler key, error, must-keep) is a pure function of its key's
    content, so sharing it between simulations changes no result, only how often the
    reference evaluator runs.  Content keys are built from per-row codes: a row's code is
    interned from its root flag and its decision fields (as :func:`content_key` reads them)
    and memoised for the corpus rows, which generated traces share.
    """

    def __init__(self, fields: tuple[str, ...], shapes: Sequence[Sequence[Span]] = ()) -> None:
        self.fields = fields
        self.entries: dict[object, CachedDecision] = {}
        self._codes: dict[tuple[object, ...], int] = {}
        self._alive = tuple(tuple(spans) for spans in shapes)  # keeps the memoised ids theirs
        self._rows: dict[int, int] = {}
        self._frozen: dict[int, tuple[Mapping[str, object], int]] = {}
        #: yes/no verdicts keyed like ``entries`` (used by :meth:`part` caches)
        self.flags: dict[object, bool] = {}
        self._parts: dict[tuple[str, ...], DecisionCache] = {}
        for spans in self._alive:
            for span in spans:
                code = self._code(span.data)
                if code is not None:
                    self._rows[id(span.data)] = code

    def sibling(self) -> DecisionCache:
        """A cache with no verdicts that shares this one's row codes (immutable once made:
        a code is a pure function of the row's decision fields): a second Refinery keyed
        the same way whose verdicts are all computed anew."""
        other = DecisionCache.__new__(DecisionCache)
        other.fields = self.fields
        other.entries = {}
        other._codes = self._codes
        other._alive = self._alive
        other._rows = self._rows
        other._frozen = self._frozen
        other.flags = {}
        other._parts = {f: p.sibling() for f, p in self._parts.items()}
        return other

    def part(self, fields: tuple[str, ...]) -> DecisionCache:
        """The cache keyed by a subset of the fields, for a verdict that reads only those
        (the error or must-keep expression): one per subset, kept with this cache."""
        found = self._parts.get(fields)
        if found is None:
            found = self._parts[fields] = DecisionCache(fields, self._alive)
        return found

    def _code(self, data: Mapping[str, object]) -> int | None:
        get = data.get
        values = tuple([get(k, _GAP) for k in self.fields])
        classes = tuple([v.__class__ for v in values])
        if _PLAIN.issuperset(classes):
            # no float, nothing unhashable: the values with their classes say the same as
            # the parts below (a tag keeps the two kinds of table key apart)
            fast = (_GAP, classes, values)
            code = self._codes.get(fast)
            if code is None:
                code = self._codes[fast] = len(self._codes)
            return code
        parts: list[object] = []
        for k in self.fields:
            v = data.get(k, _ABSENT)
            if v is _ABSENT:
                parts.append(_ABSENT)
            elif v.__class__ is float:
                parts.append(v.hex())
            elif v.__class__ in (str, int, bool) or v is None:
                parts.append((v.__class__, v))
            else:
                return None
        t = tuple(parts)
        code = self._codes.get(t)
        if code is None:
            code = self._codes[t] = len(self._codes)
        return code

    def content_key(self, trace: Trace) -> tuple[int, ...] | None:
        """Equal exactly when :func:`content_key` is (None in the same cases)."""
        rows = self._rows
        out = []
        for span in trace.spans:
            data = span.data
            code = rows.get(id(data))
            if code is None:
                code = self._frozen_code(data)
                if code is None:
                    return None
            out.append(code + code + span.is_root)
        return tuple(out)

    def _frozen_code(self, data: Mapping[str, object]) -> int | None:
        """The code of a row outside the corpus, memoised when the row is read-only (rows
        that evolutions rewrite once per shape and share); the memo holds the row."""
        if data.__class__ is not MappingProxyType:
            return self._code(data)
        found = self._frozen.get(id(data))
        if found is not None and found[0] is data:
            return found[1]
        code = self._code(data)
        if code is not None:
            if len(self._frozen) >= _FROZEN_MAX:
                self._frozen.clear()
            self._frozen[id(data)] = (data, code)
        return code


def content_key(trace: Trace, fields: tuple[str, ...]) -> tuple[object, ...] | None:
    """A hashable key equal only for traces whose decision inputs are equal: per row its root
    flag and the value *and type* of each field in ``fields`` (``True``, ``1`` and ``1.0``
    hash alike, ``-0.0`` and ``0.0`` too, hence the type and ``float.hex``).  None when such
    a value is not hashable (Honeycomb lists and maps)."""
    parts: list[object] = []
    for span in trace.spans:
        data = span.data
        parts.append(span.is_root)
        for k in fields:
            v = data.get(k, _ABSENT)
            if v is _ABSENT:
                parts.append(_ABSENT)
            elif isinstance(v, float) and v.__class__ is float:
                parts.append(v.hex())
            elif v.__class__ in (str, int, bool) or v is None:
                parts.append((v.__class__, v))
            else:
                return None
    return tuple(parts)


_ABSENT = ("absent",)


class _Gap:
    """A field missing from a row (the fast path of ``DecisionCache._code``)."""

    __slots__ = ()


_GAP = _Gap()
_PLAIN = frozenset({str, int, bool, type(None), _Gap})


# --- the first matching rule, fast --------------------------------------------------------

_MISSING = object()
_UNSET = Span({})


def _plain_keys(cond: CompiledCondition) -> tuple[str, ...] | None:
    """The keys ``extract_value`` reads for a condition of plain span fields (no ``root.``,
    no ``meta.``, no descendant count, not has-root-span), None for any other condition: on
    such a condition (nested lookups off) it returns the first key present, never
    ``checked_only_root``."""
    if cond.computed_descendants or not cond.lookups or cond.is_has_root_span:
        return None
    if any(is_root or is_meta for _, is_root, is_meta in cond.lookups):
        return None
    return tuple(key for key, _, _ in cond.lookups)


def _any_span_plain(
    spans: tuple[Span, ...], keys: tuple[str, ...], cond: CompiledCondition
) -> bool:
    """``rule_matches_trace``'s span loop for a :func:`_plain_keys` condition."""
    matches = cond.matches
    for span in spans:
        data = span.data
        value: object = None
        exists = False
        for key in keys:
            found = data.get(key, _MISSING)
            if found is not _MISSING:
                value, exists = found, True
                break
        if matches(value, exists) if matches is not None else cond.evaluate(value, exists):
            return True
    return False


_Conds = tuple[CompiledCondition, ...]
_Plain = tuple[tuple[str, ...] | None, ...]
_Test = Callable[[Trace, _Conds, _Plain, bool], bool]


def _trace_matches(trace: Trace, conds: _Conds, plain: _Plain, nested: bool) -> bool:
    """``rule_matches_trace``: plain conditions read their keys directly, the root is
    looked up once, and the first condition no span meets ends the rule."""
    root: Span | None = _UNSET
    for cond, keys in zip(conds, plain, strict=True):
        if keys is not None:
            if not _any_span_plain(trace.spans, keys, cond):
                return False
            continue
        if root is _UNSET:
            root = trace.root
        if cond.is_has_root_span:
            if (root is not None) != cond.root_span_wanted:
                return False
            continue
        for span in trace.spans:
            value, exists, only_root = extract_value(trace, span, cond, nested, root)
            if cond.evaluate(value, exists):
                break
            if only_root:
                return False
        else:
            return False
    return True


def _span_matches(trace: Trace, conds: _Conds, plain: _Plain, nested: bool) -> bool:
    """``rule_matches_span`` with ``extract_value``'s plain case inlined."""
    root = trace.root
    pairs = tuple(zip(conds, plain, strict=True))
    for span in trace.spans:
        matched = True
        for cond, keys in pairs:
            if keys is not None:
                data = span.data
                value: object = None
                exists = False
                for key in keys:
                    found = data.get(key, _MISSING)
                    if found is not _MISSING:
                        value, exists = found, True
                        break
                only_root = False
            else:
                value, exists, only_root = extract_value(trace, span, cond, nested, root)
            if not cond.evaluate(value, exists):
                matched = False
                if only_root:
                    return False
                break
        if matched:
            return True
    return False


class RuleMatcher:
    """The reference evaluator's decisions with a faster rule match, for the simulator.

    :meth:`decide` is ``evaluator.decide``: the first matching rule is found here (plain
    conditions, with ``CheckNestedFields`` off, read their keys straight from each row;
    every other condition goes through the reference's ``extract_value``), and what that
    rule decides comes from :meth:`Evaluator.rule_decision`.  Decisions are identical: a
    differential test holds them to the reference's, and VOPR's agreement invariant checks
    the reference against the vectorised evaluator on simulated traffic.
    """

    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator
        self.nested = evaluator.check_nested_fields
        rules: list[tuple[int, _Test | None, _Conds, _Plain]] = []
        for index, (rule, conds) in enumerate(evaluator.compiled_rules):
            scope = rule.scope or ""
            test: _Test = _span_matches if scope == "span" else _trace_matches
            if conds is None or scope not in ("span", "trace", ""):
                rules.append((index, None, (), ()))  # matches every trace
                continue
            plain = tuple(None if self.nested else _plain_keys(c) for c in conds)
            rules.append((index, test, conds, plain))
        self._rules = tuple(rules)

    def first_match(self, trace: Trace) -> int | None:
        """The index of the first rule that matches ``trace``, None when none does."""
        nested = self.nested
        for index, test, conds, plain in self._rules:
            if test is None or test(trace, conds, plain, nested):
                return index
        return None

    def decide(self, trace: Trace, now: float = 0.0) -> Decision:
        """``self.evaluator.decide(trace, now)``."""
        if not isinstance(self.evaluator.sampler, RulesBasedSamplerConfig):
            return self.evaluator.decide(trace, now)
        index = self.first_match(trace)
        if index is None:
            return NO_RULE_MATCHED
        return self.evaluator.rule_decision(index, trace, now)
