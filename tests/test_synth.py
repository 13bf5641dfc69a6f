"""``nectar corpus synth``: seeded, byte-stable, readable in every format, realistic."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from pytest_nectar.cli import main
from pytest_nectar.corpus import Corpus, load_corpus
from pytest_nectar.synth import FORMATS, generate, shop_model, synthesize
from pytest_nectar.synth.learn import MIN_TRACES, learn_model
from pytest_nectar.synth.options import DEFAULT_START, parse_start
from pytest_nectar.trace import Trace

START = parse_start(DEFAULT_START)
SUFFIX = {"otlp-jsonl": ".jsonl", "honeycomb": ".jsonl"}
SERVER_FAULTS = {2, 4, 12, 13, 14, 15}


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def modes(trace: Trace) -> set[str]:
    """The error modes and quirks one trace shows, read from the flattened rows."""
    found = set()
    for span in trace.spans:
        d = span.data
        stable = _number(d.get("http.response.status_code"))
        if stable is not None and stable >= 500:
            found.add("http-5xx-stable")
        old = d.get("http.status_code")
        if (_number(old) or 0) >= 500:
            found.add("http-5xx-old-string" if isinstance(old, str) else "http-5xx-old")
        grpc = _number(d.get("rpc.grpc.status_code"))
        if grpc is not None and grpc != 0:
            found.add(f"grpc-{int(grpc)}")
        kind = d.get("meta.annotation_type")
        if kind is None and d.get("status_code") == 2:
            has_code = (
                (stable or 0) >= 500 or (_number(old) or 0) >= 500 or grpc or "exception.type" in d
            )
            found.add("status-error" if not has_code else "status-error-with-code")
        if kind == "span_event":
            found.add("exception" if d.get("name") == "exception" else "span-event")
        if kind == "link":
            found.add("link")
    if trace.root is None:
        found.add("rootless")
    return found


def _load(tmp_path: Path, text: str, fmt: str) -> Corpus:
    path = tmp_path / f"{fmt}{SUFFIX.get(fmt, '.json')}"
    path.write_text(text, encoding="utf-8")
    return load_corpus(path, cache=False)


def _spans(corpus: Corpus) -> int:
    kinds = corpus.columns.get("meta.annotation_type")
    return corpus.n_rows - (0 if kinds is None else len(kinds))


@pytest.mark.parametrize("fmt", FORMATS)
def test_same_seed_same_bytes_and_another_seed_differs(fmt: str) -> None:
    model = shop_model()
    one = synthesize(model, 7, fmt=fmt, traces=60, start_ns=START)
    assert synthesize(model, 7, fmt=fmt, traces=60, start_ns=START) == one
    assert synthesize(model, 8, fmt=fmt, traces=60, start_ns=START) != one


def test_the_bytes_are_pinned_across_machines() -> None:
    """Random draws are ChaCha streams and times whole microseconds: a digest pins them."""
    text = synthesize(shop_model(), 1, traces=40, start_ns=START)
    assert hashlib.sha256(text.encode()).hexdigest()[:16] == PINNED


PINNED = "65f2012e771b34b4"


def test_every_format_loads_and_the_readers_agree(tmp_path: Path) -> None:
    model = shop_model()
    corpora = {
        fmt: _load(tmp_path, synthesize(model, 3, fmt=fmt, traces=300, start_ns=START), fmt)
        for fmt in FORMATS
    }
    for corpus in corpora.values():
        assert corpus.skipped == ()
    reference = corpora["otlp"]
    assert reference.n_traces > 300  # consumers' and orphans' traces come on top
    for fmt, corpus in corpora.items():
        assert corpus.n_traces == reference.n_traces, fmt
        assert _spans(corpus) == _spans(reference), fmt
        assert set(corpus.trace_ids) == set(reference.trace_ids), fmt
        assert corpus.duration_s == pytest.approx(reference.duration_s, abs=1e-3), fmt
        assert sorted(corpus.weight.tolist()) == sorted(reference.weight.tolist()), fmt
    # Zipkin has no links; every other format carries the same events
    for fmt in ("otlp-jsonl", "jaeger", "honeycomb"):
        assert corpora[fmt].n_rows == reference.n_rows, fmt
    per_format = {
        fmt: Counter(m for t in c.iter_traces() for m in modes(t)) for fmt, c in corpora.items()
    }
    assert per_format["otlp-jsonl"] == per_format["otlp"] == per_format["honeycomb"]


def test_a_default_corpus_has_every_error_mode_and_quirk(tmp_path: Path) -> None:
    corpus = _load(tmp_path, synthesize(shop_model(), 1, traces=1000, start_ns=START), "otlp")
    seen = Counter(m for t in corpus.iter_traces() for m in modes(t))
    for mode in (
        "http-5xx-stable",  # http.response.status_code >= 500 (stable conventions)
        "http-5xx-old",  # http.status_code >= 500 as an int (old conventions)
        "http-5xx-old-string",  # "503" as a string, as Envoy reports it
        "grpc-14",  # UNAVAILABLE
        "grpc-13",  # INTERNAL
        "grpc-4",  # DEADLINE_EXCEEDED
        "grpc-2",  # UNKNOWN
        "grpc-5",  # NOT_FOUND: a client's error, not a server fault
        "status-error",  # span status ERROR and nothing else
        "exception",  # exception span events
        "span-event",
        "link",
        "rootless",
    ):
        assert seen[mode] > 0, (mode, seen)
    errors = sum(1 for t in corpus.iter_traces() if _is_error(t))
    assert 0.03 < errors / corpus.n_traces < 0.2
    exception_rows = [
        s.data
        for t in corpus.iter_traces()
        for s in t.spans
        if s.data.get("name") == "exception" and s.data.get("meta.annotation_type")
    ]
    assert {"exception.type", "exception.message"} <= set(exception_rows[0])
    assert set(corpus.weight.tolist()) == {1.0, 4.0}  # SampleRate on head-sampled traces
    assert {"int", "string"} <= set(corpus.columns["http.status_code"].kind_counts())


def _is_error(trace: Trace) -> bool:
    found = modes(trace)
    return bool(
        found & {"http-5xx-stable", "http-5xx-old", "http-5xx-old-string", "exception"}
        or found & {"status-error", "status-error-with-code"}
        or any(m.startswith("grpc-") and int(m[5:]) in SERVER_FAULTS for m in found)
    )


def test_orphans_and_clock_skew() -> None:
    traces = list(generate(shop_model(), 1, traces=1000, start_ns=START))
    orphans = skewed = 0
    for trace in traces:
        ids = {s.span_id for s in trace.spans}
        roots = [s for s in trace.spans if not s.parent_id]
        if not roots and len({s.parent_id for s in trace.spans} - ids) == 1:
            orphans += 1
        by_id = {s.span_id: s for s in trace.spans}
        if any(s.parent_id in by_id and s.start < by_id[s.parent_id].start for s in trace.spans):
            skewed += 1
    assert orphans > 0 and skewed > 0


def test_time_profiles_shape_the_arrivals() -> None:
    def per_minute(profile: str, duration: float) -> np.ndarray:
        starts = [
            t.start
            for t in generate(
                shop_model(), 5, traces=4000, duration=duration, profile=profile, start_ns=START
            )
        ]
        return np.bincount((np.asarray(starts) - START) // 60_000_000_000)

    steady = per_minute("steady", 3600)
    bursts = per_minute("bursts", 3600)
    assert bursts.max() / bursts.mean() > 1.5 * steady.max() / steady.mean()
    day = per_minute("diurnal", 86400)  # from 12:00 UTC: the peak at 14:00, trough at 02:00
    afternoon, night = day[60:180].sum(), day[780:900].sum()
    assert afternoon > 2 * night


def test_learn_reproduces_services_routes_and_rates(tmp_path: Path) -> None:
    original = _load(
        tmp_path, synthesize(shop_model(), 11, traces=1500, duration=300, start_ns=START), "otlp"
    )
    model = learn_model(original)
    twin = _load(
        tmp_path,
        synthesize(model, 12, fmt="otlp-jsonl", duration=300, start_ns=START),
        "otlp-jsonl",
    )

    def services(c: Corpus) -> set[str]:
        return set(c.columns["service.name"].strings)

    def routes(c: Corpus) -> set[str]:
        return set(c.columns["http.route"].strings)

    assert services(twin) == services(original)
    assert routes(twin) == routes(original)
    assert twin.n_traces == pytest.approx(original.n_traces, rel=0.1)
    assert twin.n_rows == pytest.approx(original.n_rows, rel=0.15)
    errors = [sum(map(_is_error, c.iter_traces())) / c.n_traces for c in (original, twin)]
    assert errors[1] == pytest.approx(errors[0], rel=0.5)
    assert any("copied:" in note for note in model.notes)
    # quirks and timing: clock skew is seen, and only checkout's product lookups overlap
    assert model.quirks.skew > 0 and model.quirks.rootless > 0
    parallel = {(op.service, c.target.split("/")[0]) for op in model.operations for c in op.calls
                if c.parallel}  # fmt: skip
    assert parallel == {("checkout", "product-catalog")}


def test_learn_copies_no_rare_value(tmp_path: Path) -> None:
    path = tmp_path / "private.json"
    text = synthesize(shop_model(), 2, fmt="otlp", traces=600, start_ns=START)
    text = text.replace('"name":"oteldemo.AdService/GetAds"', '"name":"GET /users/alice-1234"', 1)
    rare = '{"key":"exception.type","value":{"stringValue":"AcmeLedgerError"}}'
    text = text.replace('{"key":"exception.type","value":{"stringValue":"KeyError"}}', rare, 1)
    assert rare in text
    path.write_text(text, encoding="utf-8")
    corpus = load_corpus(path, cache=False)
    out = synthesize(learn_model(corpus), 3, traces=300, start_ns=START)
    assert "alice-1234" not in out
    assert "AcmeLedgerError" not in out and "KeyError" in out  # one trace only / many
    ids = set(corpus.trace_ids)
    assert not any(i in out for i in list(ids)[:50])
    assert "oteldemo.AdService/GetAds" in out  # seen in many traces: a low-cardinality name
    assert MIN_TRACES >= 3


def test_cli_writes_atomically_refuses_to_overwrite_and_prints_the_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "corpus.jsonl"
    assert main(["corpus", "synth", "--seed", "0x2a", "--traces", "20", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.splitlines()[:2] == [
        f"nectar corpus synth: seed 0x2a, shop model, wrote {out}",
        "replay: nectar corpus synth --profile shop --seed 0x2a --format otlp-jsonl "
        f"--traces 20 -o {out}",
    ]
    assert out.read_text() == synthesize(shop_model(), 42, traces=20, start_ns=START)
    assert main(["corpus", "synth", "--traces", "20", "-o", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"{out}: refusing to overwrite an existing file; got '{out}'; "
        "pass --force, or choose another -o file\n"
    )
    assert main(["corpus", "synth", "--traces", "20", "-o", str(out), "--force"]) == 0
    capsys.readouterr()
    assert main(["corpus", "synth", "--traces", "20", "-o", str(tmp_path), "--force"]) == 2
    assert capsys.readouterr().err == (
        f"{tmp_path}: the output is a folder; got '{tmp_path}'; "
        "give a file name, e.g. -o corpus/traces.jsonl\n"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--seed", "x1"],
            "invalid seed; got 'x1'; write it in hex like 0x2a or in decimal like 42",
        ),
        (
            ["--duration", "5 parsecs"],
            "--duration: invalid duration; got '5 parsecs'; a positive number with a unit, "
            "e.g. 90s, 15m, 2h or 1d (at most a year)",
        ),
        (
            ["--traces", "0"],
            "--traces: number of traces out of range; got 0; a whole number from 1 to 10,000,000",
        ),
        (["--rate", "5"], "--rate: --rate needs --duration; got 5.0; add e.g. --duration 10m"),
        (
            ["--traces", "5", "--rate", "5", "--duration", "1m"],
            "--traces: --traces and --rate exclude each other; got 5; give a number of traces, "
            "or a rate and a --duration",
        ),
        (
            ["--format", "csv"],
            "--format: unknown output format; got 'csv'; use one of "
            "otlp-jsonl, otlp, jaeger, zipkin, honeycomb",
        ),
        (
            ["--time-profile", "weekly"],
            "--time-profile: unknown time profile; got 'weekly'; "
            "use one of steady, diurnal, bursts",
        ),
        (["--profile", "bank"], "--profile: unknown model profile; got 'bank'; use shop or learn"),
        (
            ["--profile", "learn"],
            "--profile: the learn profile needs a corpus; got 'learn'; "
            "add --learn-from PATH (trace files or a folder)",
        ),
        (
            ["--learn-from", "x"],
            "--learn-from: --learn-from is only for the learn profile; "
            "got 'x'; add --profile learn",
        ),
        (
            ["--start", "yesterday"],
            "--start: invalid start time; got 'yesterday'; an RFC 3339 "
            "time with a zone, e.g. 2026-01-05T12:00:00Z",
        ),
        (["--profile", "learn", "--learn-from", "missing/"], "missing/: no such file or folder"),
        (
            ["--rate", "0.001", "--duration", "10s"],
            "--duration: no trace arrives in the requested time; got '0.001 traces/s for 10 s'; "
            "give --traces N, a higher --rate or a longer --duration",
        ),
    ],
)
def test_bad_options_exit_2_with_a_clear_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["corpus", "synth", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.err == message + "\n"
    assert captured.out == ""


def test_learn_from_a_real_capture_keeps_its_services_and_rate(
    realdata: Path, tmp_path: Path
) -> None:
    """The OpenTelemetry Demo capture (read in place): rootless fragments and load-generator
    roots become entries, so the twin has every service and about the same traffic."""
    original = load_corpus(realdata / "otlp" / "oteltui-test_data.json", cache=False)
    model = learn_model(original)
    twin = _load(
        tmp_path,
        synthesize(model, 1, duration=original.duration_s, start_ns=START),
        "otlp-jsonl",
    )
    assert set(twin.columns["service.name"].strings) == set(
        original.columns["service.name"].strings
    )
    rates = [c.n_traces / c.duration_s for c in (original, twin)]
    assert rates[1] == pytest.approx(rates[0], rel=0.25)
