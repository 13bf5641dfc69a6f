"""The ``nectar`` command: one sub-command per module in :mod:`pytest_nectar.cli`.

Each command module defines ``register(subparsers)``, which adds its parser and sets
``func`` to a ``run(args) -> int`` callable.  Command modules import heavy modules inside
``run`` so that ``nectar --help`` stays fast.  Exit codes: 0 success, 1 a check failed,
2 usage or input error, 3 internal error.  A :class:`NectarError` is printed in the one
error format, never as a traceback; any other exception is a bug in Nectar, and the one
guard in :func:`main` says so ("internal error, please report") with exit 3, so that the
Action's gate reports ``error``, never ``fail``.  ``NECTAR_DEBUG=1`` adds a short trace.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Sequence

from pytest_nectar import __version__
from pytest_nectar.errors import DEBUG_ENV, INTERNAL_ERROR_EXIT, NectarError, internal_error

__all__ = ["build_parser", "main"]

# Order is the order of `nectar --help`.
COMMAND_MODULES: tuple[str, ...] = (
    "init",
    "check",
    "fmt",
    "corpus",
    "cache",
    "validate",
    "decide",
    "replay",
    "reconcile",
    "compile",
    "import_rules",
    "prove",
    "vopr",
    "explain",
    "diff",
    "propose",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]  # argparse declares NoReturn
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="nectar",
        description="Prove, simulate and compile Honeycomb Refinery sampling policies.",
    )
    parser.add_argument("--version", action="version", version=f"nectar {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        qualified = f"pytest_nectar.cli.{name}"
        if importlib.util.find_spec(qualified) is None:
            continue
        module = importlib.import_module(qualified)
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except Exception as err:  # the top-level guard: a bug, never a raw traceback
        debug = os.environ.get(DEBUG_ENV, "") not in ("", "0")
        sys.stderr.write(internal_error(err, debug=debug) + "\n")
        return INTERNAL_ERROR_EXIT


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return func(args)
    except NectarError as err:
        sys.stderr.write(err.render() + "\n")
        return err.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("nectar: interrupted\n")
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
