"""Typos and unknown fields: names a policy reads that nothing is known to write.

A field is known when it occurs in the corpus (when one is configured), is an attribute of
OpenTelemetry's semantic conventions (read from the official ``opentelemetry-semantic-
conventions`` package, stable and incubating, deprecated names included: old
instrumentations still send them), or is one of the fields Husky and Refinery write
themselves (span intrinsics, span-event and link fields, Refinery's ``meta.*`` fields).
Anything else is flagged with "did you mean ...?", the corpus's own names first, so
``servce.name`` gets ``service.name``.  Aliases count as known (``http.status``).
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
import re
from collections.abc import Collection, Iterator
from functools import cache
from typing import Final

from pytest_nectar.errors import Diagnostic
from pytest_nectar.policy.aliases import ALIASES, ROOT_PREFIX
from pytest_nectar.policy.model import Expr, Policy, conditions
from pytest_nectar.refinery.values import META_BOOL_FIELDS, META_INT64_FIELDS, META_STRING_FIELDS

__all__ = ["HUSKY_FIELDS", "field_diagnostics", "is_known", "semconv_names", "suggest"]

#: What Husky writes on spans, span events and links besides the attributes
#: (../shared/docs/refinery-semantics.md section 12), and Refinery's computed count.
HUSKY_FIELDS: Final = frozenset(
    {
        "trace.trace_id",
        "trace.parent_id",
        "trace.span_id",
        "trace.trace_state",
        "trace.link.trace_id",
        "trace.link.span_id",
        "name",
        "error",
        "status_code",
        "status_message",
        "span.num_events",
        "span.num_links",
        "span.kind",
        "type",
        "duration_ms",
        "parent_name",
        "library.name",
        "library.version",
        "telemetry.instrumentation_library",
        "scope.schema_url",
        "resource.schema_url",
        "meta.time_since_span_start_ms",
        "meta.invalid_time_since_span_start",
        "meta.invalid_duration",
        "meta.refinery.dryrun.kept",
        "?.NUM_DESCENDANTS",
        "traceId",
        "parentId",
    }
)
_NAME: Final = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+\Z")


@cache
def semconv_names() -> frozenset[str]:
    """Every attribute name of OpenTelemetry's semantic conventions (the package's constants)."""
    names: set[str] = set()
    for package in (
        "opentelemetry.semconv.attributes",
        "opentelemetry.semconv._incubating.attributes",
    ):
        try:
            pkg = importlib.import_module(package)
        except ImportError:  # an older package without the incubating set
            continue
        for info in pkgutil.iter_modules(pkg.__path__):
            module = importlib.import_module(f"{package}.{info.name}")
            for key, value in vars(module).items():
                if key.isupper() and isinstance(value, str) and _NAME.match(value):
                    names.add(value)
    return frozenset(names)


def _refinery_fields() -> frozenset[str]:
    return HUSKY_FIELDS | META_STRING_FIELDS | META_BOOL_FIELDS | META_INT64_FIELDS


def _base(name: str) -> str:
    return name[len(ROOT_PREFIX) :] if name.startswith(ROOT_PREFIX) else name


def is_known(name: str, corpus: Collection[str] = ()) -> bool:
    """Whether anything is known to write field ``name`` (``root.`` stripped)."""
    base = _base(name)
    if base in corpus or base in _refinery_fields() or base in semconv_names():
        return True
    # a template attribute (http.request.header.<key>): its documented prefix is known
    return any(base.startswith(p + ".") for p in _TEMPLATES)


#: Semantic-convention attributes whose last part is a key of the user's choosing.
_TEMPLATES: Final = (
    "http.request.header",
    "http.response.header",
    "rpc.request.metadata",
    "rpc.response.metadata",
    "rpc.grpc.request.metadata",
    "rpc.grpc.response.metadata",
    "db.operation.parameter",
    "db.query.parameter",
    "k8s.pod.label",
    "k8s.pod.annotation",
    "container.label",
)


def suggest(name: str, corpus: Collection[str] = ()) -> list[str]:
    """Close known names, the corpus's first."""
    base = _base(name)
    prefix = name[: len(name) - len(base)]
    found = difflib.get_close_matches(base, list(corpus), n=2, cutoff=0.75)
    if not found:
        pool = sorted(_refinery_fields() | semconv_names() | set(ALIASES))
        found = difflib.get_close_matches(base, pool, n=2, cutoff=0.8)
    return [prefix + f for f in found]


def _exprs(policy: Policy) -> Iterator[Expr]:
    if policy.error is not None:
        yield policy.error
    yield from policy.must_keep or ()
    for rule in policy.rules:
        yield rule.match


def field_diagnostics(
    policy: Policy, corpus: Collection[str] | None = None, *, strict: bool = False
) -> list[Diagnostic]:
    """A diagnostic per field no one is known to write, with "did you mean ...?"."""
    names = frozenset(corpus or ())
    out: list[Diagnostic] = []
    seen: set[tuple[str, int, int]] = set()
    where = "the corpus, " if corpus is not None else ""
    for expr in _exprs(policy):
        for cond in conditions(expr, labelled=False):
            for part in cond.field.parts:
                members = part.names
                if any(is_known(m, names) for m in members):
                    continue
                key = (part.text, part.position.line, part.position.column)
                if key in seen:
                    continue
                seen.add(key)
                close = suggest(part.text, names)
                hint = (
                    f"did you mean {' or '.join(close)}?"
                    if close
                    else ("check the spelling, or add traces that carry it to the corpus")
                )
                out.append(
                    Diagnostic(
                        "error" if strict else "warning",
                        "unknown-field",
                        f"unknown field: not in {where}OpenTelemetry's semantic conventions "
                        "or Refinery's own fields",
                        position=part.position,
                        got=part.text,
                        hint=hint,
                    )
                )
    return out
