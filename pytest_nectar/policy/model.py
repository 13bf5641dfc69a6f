"""The policy model: frozen, typed data built by the parsers and read by everything else.

Two layers of nodes:

* the **policy** (:class:`Policy`, :class:`Rule`, the actions :class:`Keep`,
  :class:`Drop`, :class:`Sample`, :class:`Throughput`, :class:`Dynamic`);
* the **match expression** tree (:data:`Expr`): atoms :class:`Condition`,
  :class:`HasRootSpan`, :class:`MatchAll`, combined by :class:`And`, :class:`Or`,
  :class:`Not` and the span-scope group :class:`SpanScope`.

Atoms are deliberately close to Refinery conditions: a :class:`Condition` is one Refinery
condition map (``Field``/``Fields``, ``Operator``, ``Value``, ``Datatype``), already with
aliases resolved (:attr:`FieldRef.names`) and an explicit datatype (``None`` = no
``Datatype`` key).  The boolean tree is kept as written; ``check.normal_form`` turns it
into Refinery rule shapes (or explains why it cannot).

Every node carries a :class:`~pytest_nectar.errors.Position`.  Positions are excluded from
equality, so the same policy written in the positional or the keyed TOON form, or printed and
parsed again, compares equal.  So are the file's ``#`` comments (:class:`CommentLine`), which
ride along on :class:`Rule` and :class:`Policy` only so that ``nectar fmt`` loses nothing.
Standard library only.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dc_field
from decimal import Decimal
from typing import Final, TypeAlias

from pytest_nectar.errors import Position
from pytest_nectar.policy.aliases import resolve_field

__all__ = [
    "DEFAULT_ENVIRONMENT",
    "DURATION_UNITS",
    "KEYWORD_NAMES",
    "SAMPLER_PARAMETERS",
    "SAMPLER_WORDS",
    "Action",
    "And",
    "Atom",
    "AvgDynamic",
    "Clause",
    "CommentLine",
    "Commentary",
    "Condition",
    "Datatype",
    "Deterministic",
    "Drop",
    "Duration",
    "Dynamic",
    "EnvironmentSampler",
    "Expr",
    "FieldName",
    "FieldRef",
    "HasRootSpan",
    "Keep",
    "KeyField",
    "KeyedSampler",
    "ListLiteral",
    "Literal",
    "MatchAll",
    "Not",
    "Operator",
    "Or",
    "ParamKind",
    "Policy",
    "PolicyComments",
    "Rule",
    "Sample",
    "SamplerParam",
    "SamplerParamSpec",
    "Scalar",
    "Scope",
    "SpanScope",
    "Throughput",
    "TotalThroughput",
    "WindowedThroughput",
    "conditions",
    "infer_datatype",
    "refinery_value",
    "sampler_goal",
    "sampler_word",
]

#: The Refinery ``Samplers`` key a policy compiles into unless ``environment`` says otherwise.
DEFAULT_ENVIRONMENT: Final = "__default__"

_NOWHERE: Final = Position("<model>")


# --- literals ---------------------------------------------------------------------------

#: Duration units and their length in milliseconds; all are Go ``time.ParseDuration`` units.
#: Words of the match language that are field names only where unambiguous; the canonical
#: spelling backquotes them, and none is an alias, so a plain one reads as verbatim too.
KEYWORD_NAMES: Final = frozenset(
    {"true", "false", "not", "span", "has_root", "first", "default_errors"}
)

DURATION_UNITS: Final[dict[str, Decimal]] = {
    "ns": Decimal("0.000001"),
    "us": Decimal("0.001"),
    "ms": Decimal(1),
    "s": Decimal(1000),
    "m": Decimal(60000),
    "h": Decimal(3600000),
}


@dataclass(frozen=True, slots=True)
class Duration:
    """A duration literal as written (``1.5s`` is amount 1.5, unit ``s``)."""

    amount: Decimal
    unit: str  # a key of DURATION_UNITS

    @property
    def milliseconds(self) -> float:
        """The value Refinery compares: float milliseconds (``duration_ms`` is a float64)."""
        return float(self.amount * DURATION_UNITS[self.unit])

    def go_string(self) -> str:
        """The Go ``time.ParseDuration`` spelling, e.g. ``15s`` (sampler parameters)."""
        return f"{format(self.amount.normalize(), 'f')}{self.unit}"


Scalar: TypeAlias = str | int | float | bool | Duration


class Datatype(enum.Enum):
    """Refinery condition ``Datatype``; a condition without one has ``datatype=None``."""

    STRING = "string"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"


@dataclass(frozen=True, slots=True, eq=False)
class Literal:
    """A scalar literal.  ``value`` keeps its Python type: str, int, float, bool or Duration.

    Equality is by (type, value), so ``1``, ``1.0`` and ``true`` are three different literals.
    """

    value: Scalar
    position: Position = dc_field(default=_NOWHERE, compare=False)

    def _key(self) -> tuple[type, Scalar]:
        return (type(self.value), self.value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Literal):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


@dataclass(frozen=True, slots=True)
class ListLiteral:
    """``[a, b, c]``, the value of ``in`` / ``not in``."""

    items: tuple[Literal, ...]
    position: Position = dc_field(default=_NOWHERE, compare=False)


def refinery_value(value: Literal | ListLiteral) -> object:
    """The YAML ``Value`` Refinery gets: durations become float milliseconds, lists lists."""
    if isinstance(value, ListLiteral):
        return [refinery_value(item) for item in value.items]
    v = value.value
    return v.milliseconds if isinstance(v, Duration) else v


# --- fields -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldName:
    """One field name as written.  ``verbatim`` is true for a backquoted name (no aliasing)."""

    text: str
    verbatim: bool = False
    position: Position = dc_field(default=_NOWHERE, compare=False)

    @property
    def names(self) -> tuple[str, ...]:
        """The Refinery field names this stands for (see :mod:`pytest_nectar.policy.aliases`)."""
        return (self.text,) if self.verbatim else resolve_field(self.text)


@dataclass(frozen=True, slots=True)
class FieldRef:
    """The field(s) a condition reads.

    ``parts`` has one element for a plain or backquoted name and two or more for
    ``first(a, b, ...)``.  :attr:`names` is the Refinery view: one name compiles to
    ``Field``, several to ``Fields`` (the first *present* one is used, Refinery 5.1).
    """

    parts: tuple[FieldName, ...]
    position: Position = dc_field(default=_NOWHERE, compare=False)

    @property
    def names(self) -> tuple[str, ...]:
        out: list[str] = []
        for part in self.parts:
            out.extend(part.names)
        return tuple(out)

    @property
    def is_duration(self) -> bool:
        """True when every name is ``duration_ms`` (optionally ``root.``)."""
        return all(n.removeprefix("root.") == "duration_ms" for n in self.names)


# --- match expressions ------------------------------------------------------------------


class Operator(enum.Enum):
    """Refinery condition operators; the value is Refinery's spelling."""

    EQ = "="
    NE = "!="
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    CONTAINS = "contains"
    DOES_NOT_CONTAIN = "does-not-contain"
    STARTS_WITH = "starts-with"
    MATCHES = "matches"
    IN = "in"
    NOT_IN = "not-in"
    EXISTS = "exists"
    NOT_EXISTS = "not-exists"

    @property
    def is_comparison(self) -> bool:
        return self in _COMPARISONS

    @property
    def is_membership(self) -> bool:
        return self in (Operator.IN, Operator.NOT_IN)

    @property
    def is_existence(self) -> bool:
        return self in (Operator.EXISTS, Operator.NOT_EXISTS)

    @property
    def is_string_match(self) -> bool:
        return self in _STRING_MATCHES


_COMPARISONS: Final = frozenset(
    {Operator.EQ, Operator.NE, Operator.GT, Operator.GE, Operator.LT, Operator.LE}
)
_STRING_MATCHES: Final = frozenset(
    {Operator.CONTAINS, Operator.DOES_NOT_CONTAIN, Operator.STARTS_WITH, Operator.MATCHES}
)


def infer_datatype(operator: Operator, value: Literal | ListLiteral | None) -> Datatype | None:
    """The datatype a condition gets when the policy does not say ``as ...``.

    Comparisons take the literal's type (a duration is a float); ``in`` lists take their
    first element's type; string matches and existence tests get none (Refinery ignores it).
    """
    if value is None or not (operator.is_comparison or operator.is_membership):
        return None
    if isinstance(value, ListLiteral):
        if not value.items:
            return Datatype.STRING
        value = value.items[0]
    v = value.value
    if isinstance(v, bool):
        return Datatype.BOOL
    if isinstance(v, int):
        return Datatype.INT
    if isinstance(v, float | Duration):
        return Datatype.FLOAT
    return Datatype.STRING


@dataclass(frozen=True, slots=True)
class Condition:
    """One Refinery condition.

    * comparisons (``= != > >= < <=``): ``value`` is a :class:`Literal`;
    * ``contains``, ``does-not-contain``, ``starts-with``, ``matches``: a :class:`Literal`;
    * ``in`` / ``not-in``: a :class:`ListLiteral`;
    * ``exists`` / ``not-exists``: ``value`` is ``None``.

    ``datatype`` is the Refinery ``Datatype`` exactly (``None``: no ``Datatype`` key, untyped
    compare).  It is :func:`infer_datatype` unless the policy overrode it with ``as``.
    """

    field: FieldRef
    operator: Operator
    value: Literal | ListLiteral | None
    datatype: Datatype | None
    position: Position = dc_field(default=_NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class HasRootSpan:
    """Refinery ``has-root-span`` with ``Value: <value>`` (``has_root`` / ``has_root = false``)."""

    value: bool = True
    position: Position = dc_field(default=_NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class MatchAll:
    """``true``: matches every trace (a Refinery rule without conditions)."""

    position: Position = dc_field(default=_NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class Not:
    """``not x`` / ``!x``: only valid where ``check`` finds an exact Refinery dual."""

    operand: Expr
    position: Position = dc_field(default=_NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class And:
    """``a and b and ...`` (two or more operands, as written; no flattening across parens)."""

    operands: tuple[Expr, ...]
    position: Position = dc_field(default=_NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class Or:
    """``a or b or ...``: compiles to one Refinery rule per alternative, same action.

    ``label`` names an expression that was written as a keyword (``default_errors``: the
    default error criteria, see ``error_criteria``); the printer writes the keyword back.
    It is not compared: a label changes the spelling, never the meaning.
    """

    operands: tuple[Expr, ...]
    position: Position = dc_field(default=_NOWHERE, compare=False)
    label: str | None = dc_field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class SpanScope:
    """``span(...)``: every condition inside must hold on one and the same span (Scope: span)."""

    body: Expr
    position: Position = dc_field(default=_NOWHERE, compare=False)


Atom: TypeAlias = Condition | HasRootSpan | MatchAll
Expr: TypeAlias = Condition | HasRootSpan | MatchAll | Not | And | Or | SpanScope


def conditions(expr: Expr, *, labelled: bool = True) -> Iterator[Condition]:
    """Every :class:`Condition` of ``expr``, in the order written.  ``labelled=False`` skips
    what a keyword stands for (``default_errors``: the default error criteria, whose
    fields are OpenTelemetry's own names)."""
    if isinstance(expr, Condition):
        yield expr
    elif isinstance(expr, Not):
        yield from conditions(expr.operand, labelled=labelled)
    elif isinstance(expr, SpanScope):
        yield from conditions(expr.body, labelled=labelled)
    elif isinstance(expr, And | Or):
        if isinstance(expr, Or) and expr.label is not None and not labelled:
            return
        for operand in expr.operands:
            yield from conditions(operand, labelled=labelled)


class Scope(enum.Enum):
    """Refinery rule ``Scope``."""

    TRACE = "trace"
    SPAN = "span"


@dataclass(frozen=True, slots=True)
class Clause:
    """One Refinery rule's worth of conditions: the normal form of a match expression.

    ``check.normal_form(expr)`` returns a tuple of clauses: the expression matches a
    trace iff one clause does, so a rule compiles to one Refinery rule per clause, in order,
    all with the rule's action.  ``not`` has been pushed into the atoms (every
    :class:`Not` is gone); ``conditions`` is empty for a clause that matches every trace.
    Under ``Scope.SPAN`` all conditions must hold on one span (never has-root-span there).
    """

    scope: Scope
    conditions: tuple[Condition | HasRootSpan, ...]
    position: Position = dc_field(default=_NOWHERE, compare=False)


# --- actions ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Keep:
    """Keep every matching trace (Refinery ``SampleRate: 1``)."""

    position: Position = dc_field(default=_NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class Drop:
    """Drop every matching trace (Refinery ``Drop: true``)."""

    position: Position = dc_field(default=_NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class Sample:
    """``sample(P)`` (``probability`` set) or ``sample(1/N)`` (``denominator`` set).

    Refinery keeps 1 in ``SampleRate`` traces with a whole ``SampleRate``;
    :attr:`sample_rate` is that number.  ``check`` rejects a ``P`` more than 1% away
    from ``1/sample_rate``.
    """

    probability: Decimal | None = None
    denominator: int | None = None
    position: Position = dc_field(default=_NOWHERE, compare=False)

    @property
    def sample_rate(self) -> int:
        if self.denominator is not None:
            return self.denominator
        assert self.probability is not None and self.probability > 0
        return max(1, int((1 / self.probability).to_integral_value()))

    @property
    def rate(self) -> float:
        """The keep probability Refinery actually applies: ``1 / sample_rate``."""
        return 1.0 / self.sample_rate


@dataclass(frozen=True, slots=True)
class KeyField:
    """One Refinery ``FieldList`` entry, written as is (no aliases)."""

    name: str
    position: Position = dc_field(default=_NOWHERE, compare=False)


class ParamKind(enum.Enum):
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    DURATION = "duration"


@dataclass(frozen=True, slots=True)
class SamplerParamSpec:
    """A named sampler parameter: the policy name, the Refinery key, its type and range."""

    name: str
    refinery_key: str
    kind: ParamKind
    samplers: frozenset[str]  # the sampler words that take it: "throughput", "dynamic", ...
    minimum: float | None = None
    maximum: float | None = None


_EMA: Final = frozenset({"throughput", "dynamic"})
_THROUGHPUTS: Final = frozenset({"throughput", "windowed_throughput", "total_throughput"})
_KEYED: Final = frozenset({*_EMA, *_THROUGHPUTS, "avg_dynamic"})

#: Named parameters of the keyed samplers (``throughput(...)``, ``dynamic(...)`` and the
#: environment-only ``avg_dynamic``, ``windowed_throughput``, ``total_throughput``); ranges
#: from Refinery's rulesMeta validation (refinery-semantics.md section 2).
SAMPLER_PARAMETERS: Final[dict[str, SamplerParamSpec]] = {
    spec.name: spec
    for spec in (
        SamplerParamSpec("adjust", "AdjustmentInterval", ParamKind.DURATION, _EMA),
        SamplerParamSpec("weight", "Weight", ParamKind.FLOAT, _EMA, 0.0, 1.0),
        SamplerParamSpec("age_out", "AgeOutValue", ParamKind.FLOAT, _EMA, 0.0, 1.0),
        SamplerParamSpec("burst_multiple", "BurstMultiple", ParamKind.FLOAT, _EMA),
        SamplerParamSpec("burst_delay", "BurstDetectionDelay", ParamKind.INT, _EMA, 0.0),
        SamplerParamSpec("max_keys", "MaxKeys", ParamKind.INT, _KEYED),
        SamplerParamSpec("use_trace_length", "UseTraceLength", ParamKind.BOOL, _KEYED),
        SamplerParamSpec("use_cluster_size", "UseClusterSize", ParamKind.BOOL, _THROUGHPUTS),
        SamplerParamSpec(
            "initial_rate", "InitialSampleRate", ParamKind.INT, frozenset({"throughput"})
        ),
        SamplerParamSpec(
            "clear",
            "ClearFrequency",
            ParamKind.DURATION,
            frozenset({"avg_dynamic", "total_throughput"}),
        ),
        SamplerParamSpec(
            "update", "UpdateFrequency", ParamKind.DURATION, frozenset({"windowed_throughput"})
        ),
        SamplerParamSpec(
            "lookback", "LookbackFrequency", ParamKind.DURATION, frozenset({"windowed_throughput"})
        ),
    )
}


@dataclass(frozen=True, slots=True)
class SamplerParam:
    """``name=value`` inside ``throughput(...)`` / ``dynamic(...)``."""

    name: str
    value: Literal
    position: Position = dc_field(default=_NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class Throughput:
    """``throughput(500/s by a, b, ...)``: Refinery ``EMAThroughputSampler``.

    ``per_second`` is ``GoalThroughputPerSec`` and ``keys`` the ``FieldList``.
    """

    per_second: int
    keys: tuple[KeyField, ...] = ()
    params: tuple[SamplerParam, ...] = ()
    position: Position = dc_field(default=_NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class Dynamic:
    """``dynamic(20 by a, b, ...)``: Refinery ``EMADynamicSampler`` with ``GoalSampleRate``."""

    goal_sample_rate: int
    keys: tuple[KeyField, ...] = ()
    params: tuple[SamplerParam, ...] = ()
    position: Position = dc_field(default=_NOWHERE, compare=False)


# --- environment samplers -----------------------------------------------------------------
#
# A policy may set ``sampler`` instead of ``rules``: its environment then uses that one
# Refinery sampler directly (no RulesBasedSampler).  The keyed samplers are also rule actions
# (a rule's downstream ``Sampler``); ``deterministic`` exists only here, because Refinery's
# rule ``Sampler`` refuses DeterministicSampler and a rule's ``SampleRate`` keeps at random,
# not by trace id.


@dataclass(frozen=True, slots=True)
class Deterministic:
    """``deterministic(1/N)``: Refinery ``DeterministicSampler`` with ``SampleRate: N``.

    Keeps a trace when the SHA-1 of its trace id falls in the first ``1/N`` of the range, so
    the same trace is always kept or always dropped (refinery-semantics.md section 7).
    """

    sample_rate: int
    position: Position = dc_field(default=_NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class AvgDynamic:
    """``avg_dynamic(20 by a, b, ...)``: Refinery ``DynamicSampler`` (``SampleRate``: the goal)."""

    sample_rate: int
    keys: tuple[KeyField, ...] = ()
    params: tuple[SamplerParam, ...] = ()
    position: Position = dc_field(default=_NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class WindowedThroughput:
    """``windowed_throughput(500/s by a, ...)``: Refinery ``WindowedThroughputSampler``."""

    per_second: int
    keys: tuple[KeyField, ...] = ()
    params: tuple[SamplerParam, ...] = ()
    position: Position = dc_field(default=_NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class TotalThroughput:
    """``total_throughput(500/s by a, ...)``: Refinery ``TotalThroughputSampler``."""

    per_second: int
    keys: tuple[KeyField, ...] = ()
    params: tuple[SamplerParam, ...] = ()
    position: Position = dc_field(default=_NOWHERE, compare=False)


#: What ``sampler`` may hold: one Refinery sampler for the whole environment.
EnvironmentSampler: TypeAlias = (
    Deterministic | AvgDynamic | Dynamic | Throughput | WindowedThroughput | TotalThroughput
)
KeyedSampler: TypeAlias = AvgDynamic | Dynamic | Throughput | WindowedThroughput | TotalThroughput
#: A rule's action: keep, drop, a fixed rate, or a keyed sampler (Refinery's downstream
#: ``Sampler``; Refinery refuses a DeterministicSampler there, so ``deterministic`` is not one).
Action: TypeAlias = Keep | Drop | Sample | KeyedSampler

#: The policy word of each sampler class, and the Refinery sampler it is.
SAMPLER_WORDS: Final[dict[type, tuple[str, str]]] = {
    Deterministic: ("deterministic", "DeterministicSampler"),
    AvgDynamic: ("avg_dynamic", "DynamicSampler"),
    Dynamic: ("dynamic", "EMADynamicSampler"),
    Throughput: ("throughput", "EMAThroughputSampler"),
    WindowedThroughput: ("windowed_throughput", "WindowedThroughputSampler"),
    TotalThroughput: ("total_throughput", "TotalThroughputSampler"),
}


def sampler_word(sampler: EnvironmentSampler) -> str:
    """The policy word of a sampler (``deterministic``, ``dynamic``, ``throughput``, ...)."""
    return SAMPLER_WORDS[type(sampler)][0]


def sampler_goal(sampler: KeyedSampler) -> int:
    """The sampler's goal: a sample rate (dynamic kinds) or traces per second (throughput)."""
    if isinstance(sampler, AvgDynamic):
        return sampler.sample_rate
    if isinstance(sampler, Dynamic):
        return sampler.goal_sample_rate
    return sampler.per_second


# --- comments ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommentLine:
    """A full-line ``#`` comment, or a blank line (``text == ""``), as written above an element.

    ``text`` runs from the ``#`` to the end of the line, trailing spaces removed.  Comments
    never change what a policy means: every holder keeps them out of equality.
    """

    text: str
    position: Position = dc_field(default=_NOWHERE, compare=False)

    def __post_init__(self) -> None:
        if self.text and (not self.text.startswith("#") or "\n" in self.text or "\r" in self.text):
            raise ValueError(f"a comment line starts with '#' and is one line; got {self.text!r}")

    @property
    def is_blank(self) -> bool:
        return not self.text


#: The comment and blank lines directly above one element, top to bottom.
Commentary: TypeAlias = tuple[CommentLine, ...]


@dataclass(frozen=True, slots=True)
class PolicyComments:
    """Where a policy file's comments sit, by the element they precede.

    ``header`` is above ``nectar_policy``; ``fields`` maps a top-level field name to the lines
    above its line (for ``rules``, above the ``rules[N]{...}:`` line); ``trailing`` is after
    the last line.  Comments above a table row live on that :class:`Rule`, so they move with
    it when ``nectar fmt`` orders the rows.
    """

    header: Commentary = ()
    fields: tuple[tuple[str, Commentary], ...] = ()
    trailing: Commentary = ()

    def before(self, name: str) -> Commentary:
        """The lines above top-level field ``name`` (empty when there are none)."""
        for key, lines in self.fields:
            if key == name:
                return lines
        return ()


# --- policy -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the ``rules`` table."""

    name: str
    description: str | None  # None for an empty cell or no description column
    match: Expr
    action: Action
    priority: int
    position: Position = dc_field(default=_NOWHERE, compare=False)  # the row
    name_position: Position = dc_field(default=_NOWHERE, compare=False)
    priority_position: Position = dc_field(default=_NOWHERE, compare=False)
    #: the comment and blank lines above the row (kept by ``nectar fmt``, never compared)
    comments: Commentary = dc_field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class Policy:
    """A whole policy.

    ``rules`` is in evaluation order: priority descending (ties keep file order), which is
    also the order of the compiled Refinery rules.  Optional fields are ``None`` when the file
    does not set them (the printer writes only what is set); use :attr:`effective_environment`
    for the value in force (``error`` None: the default criteria, ``error_criteria``).
    """

    version: int
    name: str
    rules: tuple[Rule, ...]
    budget_per_second: int | None = None
    environment: str | None = None
    error: Expr | None = None
    must_keep: tuple[Expr, ...] | None = None
    check_nested_fields: bool | None = None
    #: the environment's one sampler instead of rules (then ``rules`` is empty)
    sampler: EnvironmentSampler | None = None
    position: Position = dc_field(default=_NOWHERE, compare=False)
    #: where each top-level field's value was written (for diagnostics)
    field_positions: tuple[tuple[str, Position], ...] = dc_field(default=(), compare=False)
    #: the file's comments outside the rows (kept by ``nectar fmt``, never compared)
    comments: PolicyComments = dc_field(default=PolicyComments(), compare=False)

    @property
    def effective_environment(self) -> str:
        return self.environment if self.environment is not None else DEFAULT_ENVIRONMENT

    def position_of(self, name: str) -> Position:
        """Where top-level field ``name`` was written (the policy header if unknown)."""
        for key, pos in self.field_positions:
            if key == name:
                return pos
        return self.position
