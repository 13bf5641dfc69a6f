"""The one field-alias table: friendly names in match expressions -> Refinery field names.

A field written in a match expression is looked up here.  A name in the table stands for
the Refinery field (or ordered first-present list of fields, Refinery ``Fields``) on the
right; any other name means itself.  A ``root.`` prefix is kept and applied to every member
(``root.http.status`` -> ``root.http.response.status_code``, ``root.http.status_code``).
A backquoted name (```duration```) bypasses the table.

``duration`` is special in one more way: a duration literal compared with any field is in
milliseconds (``duration > 5s`` is ``duration_ms > 5000.0``), because ``duration_ms`` is the
only duration Refinery sees.  Standard library only.
"""

from __future__ import annotations

from typing import Final

__all__ = ["ALIASES", "ROOT_PREFIX", "resolve_field"]

ROOT_PREFIX: Final = "root."

#: alias -> (Refinery fields in first-present order, why).  Kept small on purpose: every
#: entry is documented in the language reference (pytest_nectar/policy/policy-language.md).
ALIASES: Final[dict[str, tuple[tuple[str, ...], str]]] = {
    "duration": (
        ("duration_ms",),
        "husky writes the span duration as duration_ms (float milliseconds)",
    ),
    "http.status": (
        ("http.response.status_code", "http.status_code"),
        "new OpenTelemetry semantic conventions first, then the old name",
    ),
    "descendants": (
        ("?.NUM_DESCENDANTS",),
        "Refinery's computed count of spans, span events and links in the trace",
    ),
}


def resolve_field(name: str) -> tuple[str, ...]:
    """The Refinery field names a non-backquoted field name stands for, in order."""
    prefix = ""
    base = name
    if name.startswith(ROOT_PREFIX) and len(name) > len(ROOT_PREFIX):
        prefix, base = ROOT_PREFIX, name[len(ROOT_PREFIX) :]
    entry = ALIASES.get(base)
    if entry is None:
        return (name,)
    return tuple(prefix + member for member in entry[0])
