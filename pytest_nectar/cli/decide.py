"""``nectar decide RULES TRACE [--env NAME] [--json]``: Refinery's decision for one trace.

TRACE is a JSON file: a list of Honeycomb-style events (flat field objects, or batch-API
``{"data": {...}}`` envelopes; numbers become float64 as Refinery's JSON API makes them; the
root is the event without a non-empty ``trace.parent_id``/``parentId``), or the cases-file
shape ``{"trace_id": "...", "spans": [{"root": bool, "data": {...}, "go_types": {...}}]}``
(numbers kept as written: ints are int64).  RULES is a rules file or a ``.toon`` policy, read
by :func:`pytest_nectar.compiler.compile.load_rules_or_policy`; a rules file Refinery would
refuse is an error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_nectar.errors import CorpusError, Position, UsageError
from pytest_nectar.limits import BEYOND_DECODER, MAX_DATA_DEPTH, beyond_decoder
from pytest_nectar.refinery.values import json_floats

if TYPE_CHECKING:
    from pytest_nectar.trace import Trace

__all__ = [
    "default_environment",
    "load_trace_file",
    "register",
    "run",
    "trace_from_json",
]

_MAX_TRACE_BYTES = 64 * 1024 * 1024
_TRACE_ID_FIELDS = ("meta.trace_id", "trace.trace_id", "traceId")
_PARENT_FIELDS = ("trace.parent_id", "parentId")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("decide", help="Refinery's decision for one trace")
    parser.add_argument(
        "rules", metavar="RULES", help="rules file (.yaml/.json/.toml) or .toon policy"
    )
    parser.add_argument("trace", metavar="TRACE", nargs="?", help="JSON file with one trace")
    parser.add_argument("--corpus", action="append", help="take the trace from this corpus")
    parser.add_argument("--trace-id", help="with --corpus: the id of the trace to decide")
    parser.add_argument(
        "--env", help="environment (destination) name; default: the policy's own, else __default__"
    )
    parser.add_argument("--json", action="store_true", help="print the decision as JSON")
    parser.add_argument(
        "--no-validate",
        action="store_true",
        help="load a rules file as Refinery started with --no-validate does",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print the whole evaluation: each rule in order, each condition, each span's value",
    )
    parser.set_defaults(func=run)


def default_environment(path: str, env: str | None) -> str | None:
    """The environment to evaluate: ``--env`` if given, else a policy's own ``environment``.

    Without this a policy written for ``production`` would be judged by ``__default__``.
    """
    if env is not None or not path.endswith(".toon"):
        return env
    from pytest_nectar.policy.parser import load_policy

    return load_policy(path).effective_environment


def _is_root(data: dict[str, Any]) -> bool:
    # Refinery's ExtractMetadata: a literal bool meta.refinery.root, then the parent ids.
    if data.get("meta.signal_type") == "log" or data.get("meta.refinery.root") is False:
        return False
    return not any(isinstance(data.get(f), str) and data.get(f) != "" for f in _PARENT_FIELDS)


def _trace_id(data: dict[str, Any]) -> str | None:
    for f in _TRACE_ID_FIELDS:
        v = data.get(f)
        if isinstance(v, str) and v:
            return v
    return None


def load_trace_file(path: str) -> Trace:
    """Read a TRACE file (see the module docstring) into a :class:`Trace`."""
    p = Path(path)
    try:
        if p.stat().st_size > _MAX_TRACE_BYTES:
            raise CorpusError(
                "trace file is too large", position=Position(path), got=p.stat().st_size
            )
        doc = json.loads(p.read_text(encoding="utf-8"))
    except OSError as err:
        raise CorpusError(
            "cannot read trace file", position=Position(path), got=err.strerror
        ) from None
    except UnicodeDecodeError:
        raise CorpusError("trace file is not valid UTF-8", position=Position(path)) from None
    except json.JSONDecodeError as err:
        raise CorpusError(
            f"trace file is not valid JSON: {err.msg}",
            position=Position(path, err.lineno, err.colno),
        ) from None
    except BEYOND_DECODER as err:
        raise CorpusError(
            f"trace file is not valid JSON: {beyond_decoder(err)}", position=Position(path)
        ) from None
    try:
        return trace_from_json(doc, path)
    except RecursionError:  # nested values are walked recursively
        raise CorpusError(
            f"trace file is nested more than {MAX_DATA_DEPTH} levels deep", position=Position(path)
        ) from None


def trace_from_json(doc: Any, path: str) -> Trace:
    """A decoded TRACE document (see the module docstring) as a :class:`Trace`.

    ``path`` only locates messages (the pytest plugin passes an expectation's line).
    """
    from pytest_nectar.trace import GoInt, Span, Trace

    if isinstance(doc, dict) and isinstance(doc.get("spans"), list):
        spans = []
        for i, s in enumerate(doc["spans"]):
            if not isinstance(s, dict) or not isinstance(s.get("data"), dict):
                raise CorpusError(
                    f"spans[{i}] must be an object with a 'data' object", position=Position(path)
                )
            data = dict(s["data"])
            for key, gotype in (s.get("go_types") or {}).items():
                if gotype == "int" and type(data.get(key)) is int:
                    data[key] = GoInt(data[key])
            spans.append(Span(data, bool(s.get("root", False))))
        trace_id = doc.get("trace_id", "")
        return Trace(trace_id if isinstance(trace_id, str) else str(trace_id), tuple(spans))
    if isinstance(doc, list):
        events = []
        ids: set[str] = set()
        for i, e in enumerate(doc):
            if not isinstance(e, dict):
                raise CorpusError(f"event {i} is not a JSON object", position=Position(path), got=e)
            data = e["data"] if isinstance(e.get("data"), dict) else e
            data = json_floats(data)
            if data.get("meta.refinery.probe") is True:
                continue  # Refinery's router drops probes before any trace exists
            tid = _trace_id(data)
            if tid is not None:
                ids.add(tid)
            events.append(Span(data, _is_root(data)))
        if len(ids) > 1:
            raise CorpusError(
                "trace file holds several trace ids",
                position=Position(path),
                got=sorted(ids)[:5],
                hint="decide takes one trace; use 'nectar replay' for a corpus",
            )
        return Trace(next(iter(ids), ""), tuple(events))
    raise CorpusError(
        "trace file must be a list of events or an object with 'spans'", position=Position(path)
    )


def run(args: argparse.Namespace) -> int:
    from pytest_nectar.compiler.compile import load_rules_or_policy
    from pytest_nectar.refinery.reference import Evaluator, require_user_agent

    rules = load_rules_or_policy(args.rules, validate=not args.no_validate)
    if getattr(args, "corpus", None):
        from pytest_nectar.corpus import load_corpus

        corpus = load_corpus(args.corpus)
        index = corpus.trace_index(args.trace_id or "")
        if index < 0:
            raise UsageError(
                "no trace with this id in the corpus", got=args.trace_id, hint="see --trace-id"
            )
        trace = corpus.trace(index)
    elif args.trace is None:
        raise UsageError("give TRACE, or --corpus with --trace-id")
    else:
        trace = load_trace_file(args.trace)
    evaluator = Evaluator(rules, default_environment(args.rules, args.env))
    require_user_agent(evaluator, trace.spans)
    if getattr(args, "explain", False):
        from pytest_nectar.prover.evaluation import explain_evaluation

        sys.stdout.write("\n".join(explain_evaluation(evaluator, trace)) + "\n")
        return 0
    decision = evaluator.decide(trace)
    if args.json:
        sys.stdout.write(json.dumps(decision.to_json(), sort_keys=True) + "\n")
        return 0
    keep = {
        True: "keep",
        False: "drop",
        None: f"random: keep with probability {decision.keep_probability:g}",
    }
    from pytest_nectar.escape import terminal

    rule = decision.rule_name if decision.rule_name is not None else "(none)"
    sys.stdout.write(
        f"rule: {terminal(rule, multiline=False)}\n"
        f"reason: {terminal(decision.reason, multiline=False)}\nrate: {decision.rate}\n"
        f"decision: {keep[decision.keep]}\nkey: {decision.key!r}\n"
    )
    return 0
