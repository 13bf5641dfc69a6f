"""Benchmark: ingest of a generated OTLP JSON Lines corpus (default 1,000,000 spans).

Run: ``python benchmarks/bench_ingest.py [--spans N] [--workers W]``.  It writes the
corpus to a temporary folder, then measures, in the same run:

* the baselines: ``json.loads`` of every line of the file (read from the page cache), and
  orjson's ``loads`` of the same lines when orjson is installed (``pip install orjson``;
  the ``bench`` extra);
* the first ingest (``load_corpus``): hash the file for the digest while parsing the JSON
  Lines in chunks on all cores unless ``--workers`` (msgspec's typed decode, the common
  spans of each line flattened together in columns, each chunk's columns
  dictionary-encoded in its worker), merge each chunk as it arrives, group the rows by
  trace and write the cache;
* the same first ingest with the fast path off (json.loads + husky's exact reader), and a
  check that both give the same corpus, column for column;
* the cached load of the unchanged corpus, and touching every column of it;
* with ``--proto``, the same spans as the file exporter's length-delimited protobuf: its
  first ingest against protobuf's own ``FromString`` of the same messages.

and prints spans/s and the ratios (targets: first ingest no slower than ``json.loads`` of
the same lines, cached load under 0.25 s for 1M spans).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pytest_nectar.corpus.ingest as ingest
import pytest_nectar.corpus.json_lines as json_lines
from pytest_nectar.corpus import load_corpus

try:
    import orjson
except ImportError:  # optional: the bench extra
    orjson = None


class _ExactOnly:
    """The fast path switched off: every line goes to json.loads and husky's reader."""

    def __init__(self, ctx: object) -> None:
        del ctx

    def read(self, raw: bytes) -> bool:
        del raw
        return False


SERVICES = ["frontend", "checkout", "cart", "payment", "shipping", "email", "ads", "currency"]
ROUTES = ["/api/cart", "/api/checkout", "/api/products/{id}", "/api/ads", "/health"]


def _attr(key: str, value: object) -> dict[str, object]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": value}}


def generate(path: Path, n_spans: int, spans_per_line: int = 500, seed: int = 7) -> int:
    """Write ``n_spans`` spans (10 per trace) as collector JSON Lines; returns bytes written."""
    rng = random.Random(seed)
    t0 = 1_730_000_000_000_000_000
    written = 0
    with open(path, "w", encoding="utf-8") as out:
        made = 0
        while made < n_spans:
            service = SERVICES[(made // spans_per_line) % len(SERVICES)]
            spans = []
            for i in range(min(spans_per_line, n_spans - made)):
                index = made + i
                trace = index // 10
                start = t0 + index * 1_000_000
                status = {"code": 2, "message": "boom"} if rng.random() < 0.02 else {}
                attrs = [
                    _attr("http.method", rng.choice(["GET", "POST"])),
                    _attr("http.route", rng.choice(ROUTES)),
                    _attr("http.status_code", rng.choice([200, 200, 200, 404, 500])),
                    _attr("net.peer.name", f"10.0.{rng.randrange(256)}.{rng.randrange(256)}"),
                    _attr("app.user_id", f"user-{rng.randrange(50_000)}"),
                    _attr("app.cart_items", rng.randrange(20)),
                    _attr("app.latency_budget", rng.random()),
                    _attr("app.cached", rng.random() < 0.3),
                ]
                span = {
                    "traceId": f"{trace:032x}",
                    "spanId": f"{index + 1:016x}",
                    "parentSpanId": "" if index % 10 == 0 else f"{trace * 10 + 1:016x}",
                    "name": rng.choice(ROUTES),
                    "kind": 2 if index % 10 == 0 else 3,
                    "startTimeUnixNano": str(start),
                    "endTimeUnixNano": str(start + rng.randrange(1_000, 50_000_000)),
                    "attributes": attrs,
                    "status": status,
                }
                spans.append(span)
            request = {
                "resourceSpans": [
                    {
                        "resource": {
                            "attributes": [
                                _attr("service.name", service),
                                _attr("service.version", "1.4.2"),
                                _attr("host.name", f"{service}-7d9f8"),
                                _attr("telemetry.sdk.language", "go"),
                            ]
                        },
                        "scopeSpans": [
                            {
                                "scope": {
                                    "name": "go.opentelemetry.io/contrib/instrumentation/net/http"
                                },
                                "spans": spans,
                            }
                        ],
                    }
                ]
            }
            line = json.dumps(request, separators=(",", ":")) + "\n"
            out.write(line)
            written += len(line)
            made += len(spans)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=0, help="0 = all cores")
    parser.add_argument(
        "--proto", action="store_true", help="also the same spans as length-delimited protobuf"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nectar-bench-") as tmp:
        data = Path(tmp) / "traces.jsonl"
        cache = Path(tmp) / "cache"
        t = time.perf_counter()
        size = generate(data, args.spans)
        took = time.perf_counter() - t
        print(f"generated {args.spans:,} spans, {size / 1e6:.0f} MB in {took:.1f} s")

        raw = data.read_bytes()  # warm the page cache, as the ingest will find it
        t = time.perf_counter()
        for line in raw.splitlines():
            json.loads(line)
        baseline = time.perf_counter() - t
        orjson_s = None
        if orjson is not None:
            t = time.perf_counter()
            for line in raw.splitlines():
                orjson.loads(line)
            orjson_s = time.perf_counter() - t
        del raw
        # The parse-and-flatten stage alone, on one core: the chunks a worker parses, as it
        # parses them (no merge, no assembly).
        pieces = -(-size // ingest.PARALLEL_BYTES)
        t = time.perf_counter()
        for start, stop in json_lines.chunk_bounds(data, size, pieces):
            json_lines.chunk_job(str(data), start, stop, "bench", ingest.IngestOptions())
        stage_s = time.perf_counter() - t

        # The first ingest runs before the fast-path-off one: as `nectar` would, in a process
        # that holds no other corpus (a parent holding gigabytes forks slower workers).
        t = time.perf_counter()
        corpus = load_corpus(data, cache_dir=cache, workers=args.workers)
        first = time.perf_counter() - t
        assert corpus.n_rows == args.spans, corpus.n_rows

        fast_path = json_lines.FastOtlp
        json_lines.FastOtlp = _ExactOnly  # type: ignore[assignment,misc]
        try:
            t = time.perf_counter()
            exact = load_corpus(data, cache=False, workers=args.workers)
            exact_s = time.perf_counter() - t
        finally:
            json_lines.FastOtlp = fast_path  # type: ignore[misc]
        _assert_same(corpus, exact)
        del exact

        t = time.perf_counter()
        cached = load_corpus(data, cache_dir=cache)
        cached_s = time.perf_counter() - t
        assert cached.digest == corpus.digest and cached.n_rows == corpus.n_rows

        t = time.perf_counter()
        touched = sum(int(c.kind.sum()) + int(c.rows[-1]) for c in cached.columns.values())
        touch_s = time.perf_counter() - t
        del touched

        n = args.spans
        print(f"cores available            {os.cpu_count()}")
        print(f"json.loads baseline        {baseline:8.2f} s  {n / baseline:12,.0f} spans/s")
        if orjson_s is not None:
            print(f"orjson.loads baseline      {orjson_s:8.2f} s  {n / orjson_s:12,.0f} spans/s")
        else:
            print("orjson.loads baseline      (orjson not installed: pip install orjson)")
        print(f"parse+flatten, 1 core      {stage_s:8.2f} s  {n / stage_s:12,.0f} spans/s")
        print(f"first ingest (+cache)      {first:8.2f} s  {n / first:12,.0f} spans/s")
        print(f"  fast path off (no cache) {exact_s:8.2f} s  {n / exact_s:12,.0f} spans/s")
        print(f"cached load                {cached_s:8.3f} s  {n / cached_s:12,.0f} spans/s")
        print(f"cached load + read columns {cached_s + touch_s:8.3f} s")
        print(f"first ingest / json.loads  {first / baseline:8.2f} x   (target <= 1x)")
        if orjson_s is not None:
            print(f"first ingest / orjson      {first / orjson_s:8.2f} x")
        print(f"fast path off / json.loads {exact_s / baseline:8.2f} x")
        print(f"parse+flatten / json.loads {stage_s / baseline:8.2f} x   (one core, no assembly)")
        print(f"first ingest / cached load {first / cached_s:8.0f} x   (target >= 10x)")
        print(
            f"traces {corpus.n_traces:,}, fields {len(corpus.columns)}, digest {corpus.digest[:16]}"
        )
        if args.proto:
            _bench_proto(data, Path(tmp) / "traces.pb", corpus, args.workers)
    return 0


def _assert_same(fast: Any, exact: Any) -> None:
    """The fast path's corpus is the exact reader's: every array, value and dictionary."""
    assert fast.trace_ids == exact.trace_ids
    for name in ("trace_offsets", "row_trace", "is_root", "root_row", "weight", "row_time"):
        assert np.array_equal(getattr(fast, name), getattr(exact, name), equal_nan=True), name
    assert list(fast.columns) == list(exact.columns)
    for name, column in fast.columns.items():
        other = exact.columns[name]
        for part in ("rows", "kind", "ints", "codes"):
            assert np.array_equal(getattr(column, part), getattr(other, part)), (name, part)
        assert np.array_equal(column.floats, other.floats, equal_nan=True), name
        assert column.strings == other.strings, name


def _to_proto_json(node: object) -> object:
    # OTLP JSON ids are hex; protobuf's JSON mapping wants base64.
    if isinstance(node, list):
        return [_to_proto_json(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str) and value:
            value = base64.b64encode(bytes.fromhex(value)).decode()
        out[key] = _to_proto_json(value)
    return out


def _bench_proto(jsonl: Path, path: Path, reference: object, workers: int) -> None:
    """The same spans as the file exporter's `format: proto`, against protobuf's own parse."""
    from google.protobuf.json_format import ParseDict
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    payloads = []
    with open(jsonl, "rb") as fh:
        for line in fh:
            doc = _to_proto_json(json.loads(line))
            payloads.append(ParseDict(doc, ExportTraceServiceRequest()).SerializeToString())
    path.write_bytes(b"".join(struct.pack(">I", len(p)) + p for p in payloads))
    t = time.perf_counter()
    for payload in payloads:
        ExportTraceServiceRequest.FromString(payload)
    parse_s = time.perf_counter() - t
    del payloads
    t = time.perf_counter()
    corpus = load_corpus(path, cache=False, workers=workers)
    ingest_s = time.perf_counter() - t
    assert corpus.trace_ids == reference.trace_ids  # type: ignore[attr-defined]
    n = corpus.n_rows
    size = path.stat().st_size / 1e6
    print(f"protobuf file              {size:8.0f} MB")
    print(f"protobuf FromString        {parse_s:8.2f} s  {n / parse_s:12,.0f} spans/s")
    print(f"protobuf first ingest      {ingest_s:8.2f} s  {n / ingest_s:12,.0f} spans/s")
    print(f"protobuf ingest / parse    {ingest_s / parse_s:8.2f} x")


if __name__ == "__main__":
    raise SystemExit(main())
