"""Proofs for all traces: a decision procedure over finite value classes, not an SMT solver.

Question: is there a trace on which every rule of ``positive`` matches and no rule of
``negative`` does?  (A counterexample to error preservation is an error trace whose first
matching rule does not keep; a rule is reachable iff it matches while no earlier one does.)

Why this method and not z3: Refinery's operators are Go functions (``%v`` text, ``Atoi``,
``ParseFloat``, truncation, untyped ``compare()`` with its type rules, first-present
``Fields``, ``root.`` lookups skipped without a root).  Encoding them in SMT would mean a
second, hand-written model of every matcher, which could disagree with the reference
evaluator.  Here the *reference matchers themselves* are evaluated on concrete candidate
values (:mod:`.domains`), so the procedure has exactly Refinery's semantics by
construction, needs no native dependency, and every counterexample is a real trace that
:func:`pytest_nectar.refinery.reference.decide` re-checks before it is shown.

The procedure, per choice of "has a root span" and per class of ``?.NUM_DESCENDANTS``:

* a positive trace-scope rule is one *obligation* per condition (some span satisfies it:
  conditions are existential independently); a positive span-scope rule is one obligation
  holding all its conditions; ``has-root-span`` and descendants are trace-level facts;
* a negative span-scope rule is a per-span clause (every span fails some condition); a
  negative trace-scope rule needs *one* of its conditions false on every span: each choice
  is a branch (enumerated, capped);
* obligations are independent given the root span (different spans may satisfy them), so
  the search is: enumerate the root's values of the ``root.`` fields, give each obligation
  its own non-root span when one exists (a per-span backtracking search over the field
  classes), and ask the root span to satisfy the rest.  Realism: a non-root span has a
  non-empty ``trace.parent_id``, a root span none (that is how Refinery finds roots).

Sound: a trace is only reported when found, and re-checked by the caller.  Complete when
every field is ``exact`` in :mod:`.domains` and no cap was hit; otherwise "not found" is
reported as not exact, and the caller answers ``unknown`` after a seeded random search.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from pytest_nectar.prover.domains import (
    MISSING,
    PARENT_KEYS,
    FieldDomain,
    build_domain,
    number_points,
)
from pytest_nectar.refinery.conditions import CompiledCondition
from pytest_nectar.refinery.metadata import ROOT, TRACE_ID, is_log
from pytest_nectar.refinery.reference import extract_value
from pytest_nectar.trace import Span, Trace

__all__ = ["COUNTEREXAMPLE_ID", "Outcome", "Shape", "Solver"]

COUNTEREXAMPLE_ID: Final = "nectar-counterexample"
_NODE_BUDGET: Final = 200_000
SIGNAL_TYPE: Final = "meta.signal_type"
_EXTRA: Final[dict[str, tuple[object, ...]]] = {
    **{k: ("parent-span",) for k in PARENT_KEYS},
    SIGNAL_TYPE: ("log", "trace"),
}
#: The keys the root/non-root realism literal reads (parent ids, and whether it is a log).
_REALISM_KEYS: Final = (PARENT_KEYS[0], SIGNAL_TYPE)
_CHOICE_CAP: Final = 4096
_ROOT_CAP: Final = 4096


@dataclass(frozen=True, slots=True)
class Shape:
    """A rule as the solver sees it: ``scope`` trace/span/always/never and its conditions."""

    name: str
    scope: str
    conditions: tuple[CompiledCondition, ...]

    @classmethod
    def of(cls, name: str, scope: str | None, conds: tuple[CompiledCondition, ...] | None) -> Shape:
        """The shape of a compiled rule, following the reference evaluator's dispatch."""
        if conds is None or not conds or (scope or "") not in ("", "trace", "span"):
            return cls(name, "always", ())
        if scope == "span" and any(c.is_has_root_span for c in conds):
            return cls(name, "never", conds)  # has-root-span never matches in span scope
        return cls(name, "span" if scope == "span" else "trace", conds)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A trace meeting the query (None: none found); ``exact``: "none" is a proof."""

    trace: Trace | None
    exact: bool


@dataclass(frozen=True, slots=True)
class _Lit:
    cond: CompiledCondition | None  # None: the root/non-root realism literal
    want: bool


def _keys(cond: CompiledCondition, on_root: bool) -> tuple[str, ...]:
    # meta.refinery.root is not assigned: it follows the root status and whether a log
    return tuple(
        SIGNAL_TYPE if k == ROOT else k for k, is_root, _ in cond.lookups if on_root or not is_root
    )


class Solver:
    """All-traces queries over the conditions of ``shapes`` (plus ``extra`` conditions)."""

    def __init__(
        self,
        shapes: Iterable[Shape],
        *,
        nested: bool = False,
        domain_cache: dict[tuple[object, ...], FieldDomain] | None = None,
    ) -> None:
        """``domain_cache``: domains by field and the identity of its conditions, shared by
        solvers built for many queries over the same (living) conditions."""
        conds = [c for s in shapes for c in s.conditions]
        by_key: dict[str, list[CompiledCondition]] = {k: [] for k in PARENT_KEYS[:1]}
        for c in conds:
            for key, _, _ in c.lookups:
                by_key.setdefault(key, []).append(c)
        # The router's metadata is not a span value to choose: meta.refinery.root is the
        # span's root status, meta.trace_id the trace's id, one non-empty string per trace.
        id_conds = by_key.pop(TRACE_ID, None)
        if by_key.pop(ROOT, None) is not None:
            by_key.setdefault(SIGNAL_TYPE, [])  # whether a span is a log decides its flag
        self.domains: dict[str, FieldDomain] = {}
        for k, v in sorted(by_key.items()):
            ident = (k, *map(id, v))
            found = domain_cache.get(ident) if domain_cache is not None else None
            if found is None:
                found = build_domain(k, v, _EXTRA.get(k, ()))
                if domain_cache is not None:
                    domain_cache[ident] = found
            self.domains[k] = found
        ids: list[str] = [COUNTEREXAMPLE_ID]
        self.ids_exact = True
        if id_conds is not None:
            id_domain = build_domain(TRACE_ID, id_conds, ())
            self.ids_exact = id_domain.exact
            ids += [v for v in id_domain.values if isinstance(v, str) and v]
        self.trace_ids = tuple(dict.fromkeys(ids))
        self._trace = Trace(COUNTEREXAMPLE_ID, ())
        computed = [c for c in conds if c.computed_descendants]
        self.uses_descendants = bool(computed)
        ints, _ = number_points(computed)
        sigs: dict[tuple[bool, ...], int] = {}
        for n in sorted(k for k in ints if k >= 1) or [1]:
            sigs.setdefault(tuple(c.evaluate(n, True) for c in computed), n)
        self.n_values = sorted(sigs.values()) if computed else [1]
        self._computed = computed
        self.nested = nested
        self.capped = False
        self._nodes = 0

    def exact_for(self, shapes: Iterable[Shape]) -> bool:
        if self.nested:
            return False
        for s in shapes:
            for c in s.conditions:
                for k, _, _ in c.lookups:
                    if k == TRACE_ID and not self.ids_exact:
                        return False
                    if k in self.domains and not self.domains[k].exact:
                        return False
        return True

    # --- the query ------------------------------------------------------------------------

    def find(self, positive: Sequence[Shape], negative: Sequence[Shape]) -> Outcome:
        self.capped = False
        exact = self.exact_for([*positive, *negative])
        if any(s.scope == "never" for s in positive):
            return Outcome(None, True)
        neg = [s for s in negative if s.scope != "never"]
        if any(s.scope == "always" for s in neg):
            return Outcome(None, True)
        pos = [s for s in positive if s.scope != "always"]
        for trace_id in self.trace_ids:
            self._trace = Trace(trace_id, ())
            for has_root in (False, True):
                for n in self.n_values:
                    trace = self._find_for(pos, neg, has_root, n)
                    if trace is not None:
                        return Outcome(trace, exact)
        return Outcome(None, exact and not self.capped)

    def _find_for(
        self, pos: Sequence[Shape], neg: Sequence[Shape], has_root: bool, n: int
    ) -> Trace | None:
        obligations: list[tuple[CompiledCondition, ...]] = []
        for s in pos:
            local = []
            for c in s.conditions:
                if c.is_has_root_span:
                    if has_root != c.root_span_wanted:
                        return None
                elif c.computed_descendants:
                    if not c.evaluate(n, True):
                        return None
                elif s.scope == "trace":
                    obligations.append((c,))
                else:
                    local.append(c)
            if s.scope == "span":
                obligations.append(tuple(local))
        clauses: list[tuple[_Lit, ...]] = []
        options: list[list[CompiledCondition]] = []
        for s in neg:
            lits: list[CompiledCondition] = []
            done = False
            for c in s.conditions:
                if c.is_has_root_span:
                    done = done or has_root != c.root_span_wanted
                elif c.computed_descendants:
                    done = done or not c.evaluate(n, True)
                else:
                    lits.append(c)
            if done:
                continue
            if not lits:
                return None
            if s.scope == "span":
                clauses.append(tuple(_Lit(c, False) for c in lits))
            else:
                options.append(lits)
        seen: set[frozenset[int]] = set()
        for count, choice in enumerate(itertools.product(*options)):
            if count >= _CHOICE_CAP:
                self.capped = True
                return None
            key = frozenset(id(c) for c in choice)
            if key in seen:
                continue
            seen.add(key)
            units = [(_Lit(c, False),) for c in dict.fromkeys(choice)]
            trace = self._build([*clauses, *units], obligations, has_root, n)
            if trace is not None:
                return trace
        return None

    def _build(
        self,
        universal: list[tuple[_Lit, ...]],
        obligations: list[tuple[CompiledCondition, ...]],
        has_root: bool,
        n: int,
    ) -> Trace | None:
        if not has_root:
            spans: list[dict[str, object]] = []
            for o in obligations or [()]:
                found = self._span([*universal, *((_Lit(c, True),) for c in o)], False, None, {})
                if found is None:
                    return None
                spans.append(found)
            return self._finish(None, spans, universal, n, None)
        conds = [lit.cond for cl in universal for lit in cl if lit.cond is not None]
        conds += [c for o in obligations for c in o]
        root_keys = sorted(
            {k for c in conds for k, is_root, _ in c.lookups if is_root and k in self.domains}
        )
        assignments = itertools.product(*(self.domains[k].values for k in root_keys))
        for count, values in enumerate(assignments):
            if count >= _ROOT_CAP:
                self.capped = True
                return None
            fixed = dict(zip(root_keys, values, strict=True))
            stub = Span({k: v for k, v in fixed.items() if v is not MISSING}, True)
            spans = []
            on_root: list[CompiledCondition] = []
            for o in obligations:
                found = self._span([*universal, *((_Lit(c, True),) for c in o)], False, stub, {})
                if found is None:
                    on_root.extend(o)
                else:
                    spans.append(found)
            wanted = [*universal, *((_Lit(c, True),) for c in on_root)]
            root = self._span(wanted, True, None, fixed)
            if root is not None:
                return self._finish(root, spans, universal, n, stub)
        return None

    def _finish(
        self,
        root: dict[str, object] | None,
        spans: list[dict[str, object]],
        universal: list[tuple[_Lit, ...]],
        n: int,
        stub: Span | None,
    ) -> Trace | None:
        total = len(spans) + (root is not None)
        if self.uses_descendants:
            same = [c.evaluate(total, True) for c in self._computed] == [
                c.evaluate(n, True) for c in self._computed
            ]
            if total > n and not same:
                self.capped = True  # fewer spans would need merging obligations
                return None
            if total < n:
                pad = self._span(list(universal), False, stub, {})
                if pad is None:
                    self.capped = True
                    return None
                spans = spans + [pad] * (n - total)
        out = [Span(self._realistic(d, False), False) for d in spans]
        if root is not None:
            out.append(Span(self._realistic(root, True), True))
        return Trace(self._trace.trace_id, tuple(out))

    # --- one span -------------------------------------------------------------------------

    def _holds(self, lit: _Lit, data: dict[str, object], is_root: bool, stub: Span | None) -> bool:
        if lit.cond is None:
            nonempty = any(isinstance(data.get(k), str) and data.get(k) for k in PARENT_KEYS)
            if lit.want and is_log(data):
                return False  # Refinery never takes a log for the root
            return nonempty != lit.want
        span = Span(data, is_root)
        root = span if is_root else stub
        value, exists, _ = extract_value(self._trace, span, lit.cond, self.nested, root)
        return lit.cond.evaluate(value, exists) == lit.want

    def _span(
        self,
        clauses: list[tuple[_Lit, ...]],
        is_root: bool,
        stub: Span | None,
        fixed: dict[str, object],
    ) -> dict[str, object] | None:
        """Values for one span meeting every clause (a disjunction of literals), or None."""
        clauses = [*clauses, (_Lit(None, is_root),)]
        keyed = []
        for clause in clauses:
            ks: set[str] = set()
            for lit in clause:
                ks.update(_REALISM_KEYS if lit.cond is None else _keys(lit.cond, is_root))
            keyed.append((clause, {k for k in ks if k in self.domains}))
        weight: dict[str, int] = dict.fromkeys(fixed, 0)  # the root keeps its root. values
        for _, ks in keyed:
            for k in ks:
                weight[k] = weight.get(k, 0) + 1
        order = sorted(weight, key=lambda k: (k not in fixed, -weight[k], k))
        depth_of = {k: i for i, k in enumerate(order)}
        checks: list[list[tuple[_Lit, ...]]] = [[] for _ in range(len(order) + 1)]
        for clause, ks in keyed:
            checks[max((depth_of[k] + 1 for k in ks), default=0)].append(clause)
        data: dict[str, object] = {}

        def ok(depth: int) -> bool:
            holds = self._holds
            return all(any(holds(lit, data, is_root, stub) for lit in cl) for cl in checks[depth])

        def search(depth: int) -> bool:
            if depth == len(order):
                return True
            key = order[depth]
            values = (fixed[key],) if key in fixed else self.domains[key].values
            for value in values:
                self._nodes += 1
                if self._nodes > _NODE_BUDGET:
                    self.capped = True
                    return False
                if value is MISSING:
                    data.pop(key, None)
                else:
                    data[key] = value
                if ok(depth + 1) and search(depth + 1):
                    return True
            data.pop(key, None)
            return False

        self._nodes = 0
        if not ok(0) or not search(0):
            return None
        return dict(data)

    def _realistic(self, data: dict[str, object], is_root: bool) -> dict[str, object]:
        """Make the span look like what Refinery would see (root iff no parent id)."""
        out = _realistic(data, is_root, False)
        if "trace.trace_id" not in self.domains:
            out["trace.trace_id"] = self._trace.trace_id
        return dict(sorted(out.items()))

    # --- bounded random search ------------------------------------------------------------

    def random_traces(self, seed: int, count: int) -> Iterable[Trace]:
        """``count`` random traces over the field classes and random extras (seeded)."""
        rng = random.Random(seed)
        keys = sorted(self.domains)
        for _ in range(count):
            self._trace = Trace(self.trace_ids[rng.randrange(len(self.trace_ids))], ())
            spans = []
            n_spans = rng.randint(1, 4)
            root_at = rng.randrange(n_spans + 1)  # == n_spans: no root
            for j in range(n_spans):
                data: dict[str, object] = {}
                for k in keys:
                    pool = self.domains[k].values
                    v = pool[rng.randrange(len(pool))] if rng.random() < 0.8 else _noise(rng)
                    if v is not MISSING:
                        data[k] = v
                spans.append(Span(self._realistic(data, j == root_at), j == root_at))
            yield Trace(self._trace.trace_id, tuple(spans))


def _noise(rng: random.Random) -> object:
    pick = rng.randrange(4)
    if pick == 0:
        return rng.randint(-1000, 1000)
    if pick == 1:
        return rng.uniform(-1000, 1000)
    if pick == 2:
        return "".join(rng.choice("ab/5.0-") for _ in range(rng.randint(0, 6)))
    return MISSING


def _realistic(data: dict[str, object], is_root: bool, add_id: bool) -> dict[str, object]:
    out = dict(data)
    if is_root:
        for k in PARENT_KEYS:
            if isinstance(out.get(k), str) and out[k]:
                del out[k]
    elif not any(isinstance(out.get(k), str) and out.get(k) for k in PARENT_KEYS):
        out["trace.parent_id"] = "parent-span"
    if add_id:
        out.setdefault("trace.trace_id", COUNTEREXAMPLE_ID)
    return dict(sorted(out.items()))


Check = Callable[[Trace], bool]
