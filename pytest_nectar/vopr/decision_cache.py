"""Stateless verdicts by decision input: the exact shortcut of the simulated Refinery.

A decision reads only the fields of the conditions, the error and must-keep expressions and
the samplers' ``FieldList`` (plus row count and root flags), so traces equal on those (as
:func:`content_key` reads them) get the same verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from pytest_nectar.refinery.reference import Decision
from pytest_nectar.trace import Span, Trace

__all__ = ["CachedDecision", "DecisionCache", "content_key"]

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
