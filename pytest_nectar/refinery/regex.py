"""Go ``regexp`` semantics for the ``matches`` operator, on the RE2 engine Go's is modelled on.

Go compiles with ``syntax.Perl``: ``^``/``$`` anchor the whole text (``$`` is not "before a
final newline" as in Python), ``\\d \\w \\s \\b`` are ASCII, and there are no backreferences,
lookaround or possessive quantifiers.  RE2 (the ``google-re2`` binding) has the same syntax and
meaning; the one construct RE2 accepts and Go rejects, ``\\C``, is rejected here.  A match is
an unanchored search, as ``regexp.MatchString`` is.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import re2

__all__ = ["GoRegexError", "compile_go_regex"]


class GoRegexError(ValueError):
    """The pattern is not a valid Go regexp (Refinery's ``regexp.Compile`` would fail)."""


_OPTIONS = re2.Options()
_OPTIONS.log_errors = False


def _has_byte_class(pattern: str) -> bool:
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            if pattern[i + 1] == "C":
                return True
            i += 2
            continue
        i += 1
    return False


@lru_cache(maxsize=4096)
def compile_go_regex(pattern: str) -> Callable[[str], bool]:
    """A predicate ``text -> bool`` doing Go's ``regexp.MustCompile(pattern).MatchString``.

    Raises :class:`GoRegexError` (with RE2's reason) for a pattern Go would reject.
    """
    if _has_byte_class(pattern):
        raise GoRegexError("invalid escape sequence: \\C")
    try:
        compiled = re2.compile(pattern, options=_OPTIONS)
    except re2.error as err:
        reason = err.args[0] if err.args else str(err)
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise GoRegexError(str(reason)) from None
    except (TypeError, UnicodeEncodeError) as err:
        raise GoRegexError(str(err)) from None
    search = compiled.search

    def matches(text: str) -> bool:
        try:
            return search(text) is not None
        except UnicodeEncodeError:
            # Go holds invalid UTF-8 where Python has lone surrogates; both see U+FFFD.
            return search(text.encode("utf-8", "replace").decode("utf-8")) is not None

    return matches
