"""``nectar corpus``: inspect, build and generate trace corpora.

``nectar corpus stats PATH... [--json]`` prints the corpus summary; ``nectar corpus
ingest PATH... -o DIR`` builds the columnar store into DIR explicitly; ``nectar corpus
synth [-o FILE]`` writes a synthetic corpus drawn from a model and a seed
(:mod:`pytest_nectar.synth`).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_nectar.corpus.load import Reading

__all__ = ["register", "run"]


def _column_mapping(text: str) -> dict[str, str]:
    pairs = [part.partition("=") for part in text.split(",") if part.strip()]
    if any(not ours or not sep or not theirs for ours, sep, theirs in pairs):
        raise argparse.ArgumentTypeError(f"expected OURS=THEIRS[,OURS=THEIRS...]; got {text!r}")
    return {ours.strip(): theirs.strip() for ours, _, theirs in pairs}


def _add_input_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="trace files or folders")
    parser.add_argument(
        "--format",
        dest="fmt",
        choices=("otlp", "jaeger", "zipkin", "honeycomb"),
        help="force the input format (default: detect from content)",
    )
    parser.add_argument("--skip-bad", action="store_true", help="skip and count bad records")
    parser.add_argument(
        "--json-ints",
        action="store_true",
        help="keep Honeycomb JSON integers as int64 (Refinery's JSON API makes them float64)",
    )
    parser.add_argument(
        "--columns",
        type=_column_mapping,
        default={},
        metavar="OURS=THEIRS,...",
        help="Parquet/Arrow column names, e.g. time=Timestamp,trace.trace_id=TraceId",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="weight of every trace")
    parser.add_argument("--must-keep-file", help="file of must-keep trace ids (id [reason])")
    parser.add_argument("--must-keep-attribute", help="field that marks must-keep traces")
    parser.add_argument(
        "--cache-dir", help="cache folder (default: the user cache folder; `nectar cache info`)"
    )
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write a cache")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("corpus", help="inspect and build trace corpora")
    sub = parser.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)
    stats = sub.add_parser("stats", help="print a summary of a corpus")
    _add_input_options(stats)
    stats.add_argument("--json", action="store_true", help="print the summary as JSON")
    stats.add_argument(
        "--error",
        help="error expression (default: [tool.nectar] error, else the default error criteria)",
    )
    stats.set_defaults(func=run)
    ingest = sub.add_parser("ingest", help="build the columnar store of a corpus")
    _add_input_options(ingest)
    ingest.add_argument("-o", "--output", required=True, metavar="DIR", help="store folder")
    ingest.add_argument(
        "--partition-rows",
        type=int,
        metavar="N",
        help="write the corpus partitioned by trace id, about N events a partition, reading "
        "the input with bounded memory (default: one store)",
    )
    ingest.set_defaults(func=run)
    _register_synth(sub)


def _register_synth(sub: Any) -> None:
    synth = sub.add_parser(
        "synth",
        help="write a synthetic corpus from a model and a seed",
        description="Realistic trace traffic from a seeded model: the built-in shop, or one "
        "learned from your corpus (--profile learn --learn-from PATH). Same seed, same bytes.",
    )
    synth.add_argument(
        "--profile", default="shop", metavar="shop|learn", help="model: shop (built in) or learn"
    )
    synth.add_argument(
        "--learn-from",
        action="append",
        default=[],
        metavar="PATH",
        help="corpus to learn the model from (repeatable; --profile learn)",
    )
    synth.add_argument("--seed", metavar="S", help="the seed, hex (0x2a) or decimal; default 0x1")
    synth.add_argument(
        "--traces",
        type=int,
        metavar="N",
        help="number of requests (consumer and orphan traces come on top)",
    )
    synth.add_argument(
        "--rate", type=float, metavar="R", help="requests per second (needs --duration)"
    )
    synth.add_argument(
        "--duration", metavar="D", help="time covered, e.g. 90s, 15m, 2h, 1d (default 60s)"
    )
    synth.add_argument(
        "--time-profile",
        dest="time_profile",
        default="steady",
        metavar="steady|diurnal|bursts",
        help="arrival rate over time: steady, diurnal or bursts",
    )
    synth.add_argument(
        "--start", default=None, metavar="TIME", help="time of the first trace (RFC 3339)"
    )
    synth.add_argument(
        "--format",
        dest="fmt",
        default="otlp-jsonl",
        metavar="F",
        help="otlp-jsonl (collector file exporter), otlp, jaeger, zipkin or honeycomb",
    )
    synth.add_argument("-o", "--output", metavar="FILE", help="output file (default: stdout)")
    synth.add_argument("--force", action="store_true", help="overwrite an existing output file")
    synth.set_defaults(func=run_synth)


def run_synth(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pytest_nectar.errors import Position, UsageError
    from pytest_nectar.fileio import write_atomic
    from pytest_nectar.synth.options import DEFAULT_START, SynthRequest, synth_command
    from pytest_nectar.vopr.rng import format_seed

    request = SynthRequest(
        model=args.profile,
        seed=args.seed,
        traces=args.traces,
        rate=args.rate,
        duration=args.duration,
        profile=args.time_profile,
        fmt=args.fmt,
        start=args.start or DEFAULT_START,
        learn_from=tuple(args.learn_from),
    )
    request.checked()
    out = Path(args.output) if args.output else None
    if out is not None and out.is_dir():
        raise UsageError(
            "the output is a folder",
            position=Position(str(out)),
            got=str(out),
            hint="give a file name, e.g. -o corpus/traces.jsonl",
        )
    if out is not None and out.exists() and not args.force:
        raise UsageError(
            "refusing to overwrite an existing file",
            position=Position(str(out)),
            got=str(out),
            hint="pass --force, or choose another -o file",
        )
    text, model, seed = synth_command(request)
    if out is None:
        sys.stdout.write(text)
    else:
        try:
            write_atomic(out, text)
        except OSError as err:
            raise UsageError(
                "cannot write the output", position=Position(str(out)), got=err.strerror
            ) from None
    sys.stderr.write(
        f"nectar corpus synth: seed {format_seed(seed)}, {model.name} model"
        + (f", wrote {out}" if out is not None else "")
        + f"\nreplay: {request.command(args.output)}\n"
    )
    for note in model.notes:
        sys.stderr.write(f"  {note}\n")
    return 0


def _reading(args: argparse.Namespace) -> Reading:
    """The input options (``_add_input_options``) that change the corpus read."""
    return {
        "fmt": args.fmt,
        "scale": args.scale,
        "must_keep_file": args.must_keep_file,
        "must_keep_attribute": args.must_keep_attribute,
        "skip_bad": args.skip_bad,
        "json_ints": args.json_ints,
        "columns": args.columns,
    }


def run(args: argparse.Namespace) -> int:
    from pytest_nectar.corpus import load_corpus, summarize
    from pytest_nectar.report.progress import Progress

    if args.corpus_command == "ingest" and args.partition_rows is not None:
        return _ingest_parted(args)
    with Progress().step(f"reading {', '.join(args.paths)}"):
        corpus = load_corpus(
            args.paths, cache_dir=args.cache_dir, cache=not args.no_cache, **_reading(args)
        )
    if args.corpus_command == "ingest":
        return _ingest(corpus, args.output)
    summary = summarize(corpus)
    summary["error_criteria"] = error_criteria_counts(corpus, args.error)
    summary["rate"] = _rate(corpus)
    if args.json:
        sys.stdout.write(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    else:
        _print_summary(summary)
    return 0


def error_criteria_counts(corpus: Any, error: str | None) -> dict[str, Any]:
    """Error traces by the error expression in force, and per named criterion."""
    from pytest_nectar.policy.error_criteria import default_error_match
    from pytest_nectar.policy.printer import format_match
    from pytest_nectar.project.settings import load_settings
    from pytest_nectar.prover.target import criteria_probes, probe_of
    from pytest_nectar.refinery.vector_parts import match_each

    # parsed where settings are read: the option, else [tool.nectar] error, at its position
    expr = load_settings().with_options(error=error).error_expr or default_error_match()
    criteria = criteria_probes(expr)
    probes = [probe_of(expr), *(probe for _, probe in criteria)]
    # One walk over the corpus for the expression and every criterion.
    masks = match_each([probe.rules_file for probe in probes], corpus)
    return {
        "expression": format_match(expr),
        "error_traces": int(masks[0].sum()),
        "by_criterion": {
            name: int(mask.sum()) for (name, _), mask in zip(criteria, masks[1:], strict=True)
        },
    }


def _rate(corpus: Any) -> dict[str, Any]:
    from pytest_nectar.corpus.captures import learn_rate

    rate = learn_rate(corpus)
    return {
        "captures": len(rate.captures),
        "recording_s": rate.recording_s,
        "traces_per_s": rate.traces_per_s,
        "events_per_s": rate.events_per_s,
        "how": rate.why,
    }


def _ingest(corpus: Any, output: str) -> int:
    from pathlib import Path

    from pytest_nectar.corpus.store import save_store, store_path
    from pytest_nectar.errors import CorpusError, Position

    target = store_path(Path(output), corpus.digest)
    if not (target / "meta.json").is_file():
        try:
            save_store(corpus, target)
        except OSError as err:
            raise CorpusError(
                "cannot write store", position=Position(output), got=str(err)
            ) from None
    sys.stdout.write(
        f"{target}: {corpus.n_rows} events, {corpus.n_traces} traces, "
        f"{len(corpus.skipped)} skipped; digest {corpus.digest}\n"
    )
    return 0


def _ingest_parted(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pytest_nectar.corpus.load import corpus_request
    from pytest_nectar.corpus.parts import parted_in
    from pytest_nectar.project.settings import load_settings
    from pytest_nectar.report.progress import Progress

    rows = load_settings().with_options(partition_rows=args.partition_rows).partition_rows
    request = corpus_request(args.paths, **_reading(args))
    with Progress().step(f"reading {', '.join(args.paths)} into partitions"):
        parted = parted_in(request, Path(args.output), rows)
    sys.stdout.write(
        f"{parted.folder}: {parted.n_rows} events, {parted.n_traces} traces in "
        f"{parted.n_parts} partitions, {len(parted.skipped)} skipped; digest {parted.digest}\n"
    )
    return 0


def _print_summary(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from pytest_nectar.escape import terminal

    # Corpus values are untrusted: no rich markup, and control characters shown escaped.
    console = Console(highlight=False, markup=False)
    overview = Table(show_header=False, box=None)
    for key in (
        "spans",
        "span_events",
        "links",
        "events",
        "traces",
        "error_spans",
        "error_traces",
        "roots_missing",
        "duration_s",
        "must_keep",
    ):
        overview.add_row(key, str(summary[key]))
    overview.add_row("services", terminal(", ".join(summary["services"]) or "-", multiline=False))
    rate = summary["rate"]
    overview.add_row(
        "recording",
        f"{rate['traces_per_s']:.4g} traces/s, {rate['events_per_s']:.4g} events/s: {rate['how']}"
        if rate["traces_per_s"] is not None
        else f"no rate: {rate['how']}",
    )
    overview.add_row("skipped", str(summary["skipped"]["count"]))
    console.print(overview)
    for reason, count in summary["skipped"]["reasons"].items():
        console.print(f"  skipped {count}: {terminal(reason, multiline=False)}", markup=False)
    errors = summary["error_criteria"]
    console.print(
        terminal(f"error traces ({errors['expression']}): {errors['error_traces']}"), markup=False
    )
    for name, count in errors["by_criterion"].items():
        console.print(terminal(f"  {name}: {count}"), markup=False)
    fields = Table(title="fields", title_justify="left")
    for name in ("field", "count", "types", "distinct", "top values"):
        fields.add_column(name)
    for name, info in summary["fields"].items():
        types = " ".join(f"{k}:{v}" for k, v in info["types"].items())
        top = ", ".join(f"{v!s} ({c})" for v, c in info.get("top_strings", [])[:3])
        distinct = info.get("distinct_strings", info.get("distinct_numbers", ""))
        fields.add_row(
            terminal(name, multiline=False),
            str(info["count"]),
            types,
            str(distinct),
            terminal(top, multiline=False),
        )
    console.print(fields, markup=False)
    console.print(f"digest {summary['digest']}", markup=False)
