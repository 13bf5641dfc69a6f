# ruff: noqa: E501  (inline rules file and report lines)
"""Vectorised replay of a 10-rule policy over 1,000,000 traces / ~10,000,000 spans.

Run: python benchmarks/bench_replay.py [--traces N] [--sample N] [--repeat N]

The corpus is generated directly as columns (numpy, seeded), not through JSON.  Figures, all
in the same run and on the same columns:

- the vectorised evaluator (``evaluate_corpus``, two threads): spans/s;
- the reference evaluator on a sample of traces (Python ``Trace`` objects built beforehand,
  outside the timing), extrapolated to the corpus: the ratio (target >= 100x);
- DuckDB (threads=2) running the same first-match decision as SQL over the same columns,
  materialised in a native table beforehand (the cached-load cost excluded on both sides):
  the ratio (target: no slower).

Both the sample and DuckDB's answer are checked against the vectorised decisions.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from pytest_nectar.corpus.table import (
    KIND_BOOL,
    KIND_FLOAT,
    KIND_INT,
    KIND_STRING,
    Column,
    Corpus,
    StringPool,
)
from pytest_nectar.refinery.reference import Evaluator
from pytest_nectar.refinery.rules_reader import read_rules_text
from pytest_nectar.refinery.vector import evaluate_corpus

SEED = 20240604

RULES = """\
RulesVersion: 2
Samplers:
  __default__:
    RulesBasedSampler:
      Rules:
        - Name: drop healthchecks
          Drop: true
          Conditions:
            - {Field: http.route, Operator: '=', Value: /healthz, Datatype: string}
        - Name: keep server errors
          SampleRate: 1
          Conditions:
            - {Fields: [http.response.status_code, http.status_code], Operator: '>=', Value: 500, Datatype: int}
        - Name: keep errors
          SampleRate: 1
          Conditions:
            - {Field: error, Operator: exists}
        - Name: keep slow roots
          SampleRate: 1
          Scope: span
          Conditions:
            - {Field: duration_ms, Operator: '>', Value: 1000, Datatype: float}
            - {Field: trace.parent_id, Operator: not-exists}
        - Name: admin
          SampleRate: 2
          Conditions:
            - {Field: http.route, Operator: starts-with, Value: /admin}
        - Name: premium tiers
          SampleRate: 2
          Conditions:
            - {Field: user.tier, Operator: in, Value: [gold, platinum]}
        - Name: drop huge
          Drop: true
          Conditions:
            - {Field: '?.NUM_DESCENDANTS', Operator: '>', Value: 14, Datatype: int}
        - Name: posts
          SampleRate: 5
          Conditions:
            - {Field: root.http.method, Operator: '=', Value: POST, Datatype: string}
        - Name: payment client errors
          SampleRate: 3
          Scope: span
          Conditions:
            - {Field: service.name, Operator: '=', Value: payments, Datatype: string}
            - {Field: http.status_code, Operator: '>=', Value: 400, Datatype: int}
        - Name: rest
          SampleRate: 20
"""

SQL = """
WITH per_trace AS (
  SELECT trace,
    bool_or(route = '/healthz') AS c0,
    bool_or(COALESCE(rstatus, status) >= 500) AS c1,
    bool_or(error IS NOT NULL) AS c2,
    bool_or(duration > 1000 AND parent IS NULL) AS c3,
    bool_or(starts_with(route, '/admin')) AS c4,
    bool_or(tier IN ('gold', 'platinum')) AS c5,
    count(*) AS n,
    bool_or(service = 'payments' AND status >= 400) AS c8,
    bool_or(CASE WHEN is_root THEN method = 'POST' END) AS c7
  FROM spans GROUP BY trace
)
SELECT trace, CASE WHEN c0 THEN 0 WHEN c1 THEN 1 WHEN c2 THEN 2 WHEN c3 THEN 3 WHEN c4 THEN 4
  WHEN c5 THEN 5 WHEN n > 14 THEN 6 WHEN c7 THEN 7 WHEN c8 THEN 8 ELSE 9 END AS rule
FROM per_trace
"""

SERVICES = ["frontend", "checkout", "payments", "cart", "search", "auth", "ads", "email"] + [
    f"svc-{i}" for i in range(12)
]
ROUTES = ["/healthz", "/api/cart", "/api/pay", "/admin/users", "/admin/audit", "/"] + [
    f"/api/item/{i}" for i in range(44)
]
TIERS = ["free", "basic", "gold", "platinum", "team"]
METHODS = ["GET", "GET", "GET", "POST", "PUT", "DELETE"]


def _column(name: str, rows: Any, kind: int, **values: Any) -> Column:
    k = len(rows)
    return Column(
        name=name,
        rows=rows.astype(np.int64),
        kind=np.full(k, kind, dtype=np.uint8),
        ints=values.get("ints", np.zeros(k, np.int64)),
        floats=values.get("floats", np.zeros(k, np.float64)),
        codes=values.get("codes", np.full(k, -1, np.int32)),
        strings=StringPool.from_strings(values.get("strings", [])),
    )


def make_corpus(n_traces: int, seed: int = SEED) -> tuple[Corpus, dict[str, Any]]:
    """The corpus, and the dense per-row arrays DuckDB gets (None where a field is absent)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(5, 16, size=n_traces)  # mean 10 spans
    offsets = np.zeros(n_traces + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    n = int(offsets[-1])
    row_trace = np.repeat(np.arange(n_traces, dtype=np.int32), lengths)
    is_root = np.zeros(n, dtype=np.bool_)
    is_root[offsets[:-1]] = True
    all_rows = np.arange(n, dtype=np.int64)
    dense: dict[str, Any] = {"trace": row_trace, "is_root": is_root}
    columns: dict[str, Column] = {}

    def strings(name: str, key: str, mask: Any, choices: list[str], p: Any = None) -> None:
        rows = all_rows[mask] if mask is not None else all_rows
        codes = rng.choice(len(choices), size=len(rows), p=p).astype(np.int32)
        columns[name] = _column(name, rows, KIND_STRING, codes=codes, strings=choices)
        full = np.full(n, None, dtype=object)
        full[rows] = np.array(choices, dtype=object)[codes]
        dense[key] = np.ma.masked_array(full, mask=full == None)  # noqa: E711

    def numbers(name: str, key: str, mask: Any, values: Any, kind: int) -> None:
        rows = all_rows[mask] if mask is not None else all_rows
        if kind == KIND_INT:
            columns[name] = _column(name, rows, kind, ints=values, floats=values.astype(np.float64))
        elif kind == KIND_FLOAT:
            columns[name] = _column(name, rows, kind, floats=values)
        else:
            columns[name] = _column(name, rows, kind, ints=values)
        full = np.zeros(n, dtype=values.dtype if kind != KIND_BOOL else np.bool_)
        full[rows] = values if kind != KIND_BOOL else values.astype(np.bool_)
        present = np.zeros(n, dtype=np.bool_)
        present[rows] = True
        dense[key] = np.ma.masked_array(full, mask=~present)

    strings("service.name", "service", None, SERVICES)
    strings("http.route", "route", rng.random(n) < 0.4, ROUTES, None)
    status = np.array([200, 200, 200, 201, 301, 404, 429, 500, 503], dtype=np.int64)
    has_status = rng.random(n) < 0.6
    numbers(
        "http.status_code",
        "status",
        has_status,
        rng.choice(status, int(has_status.sum())),
        KIND_INT,
    )
    has_rstatus = rng.random(n) < 0.05
    numbers(
        "http.response.status_code",
        "rstatus",
        has_rstatus,
        rng.choice(status, int(has_rstatus.sum())),
        KIND_INT,
    )
    numbers("duration_ms", "duration", None, rng.exponential(120.0, n), KIND_FLOAT)
    has_error = rng.random(n) < 0.01
    numbers("error", "error", has_error, np.ones(int(has_error.sum()), np.int64), KIND_BOOL)
    strings("trace.parent_id", "parent", ~is_root, ["0123456789abcdef"])
    strings("http.method", "method", is_root, METHODS)
    strings("user.tier", "tier", rng.random(n) < 0.2, TIERS, [0.6, 0.3, 0.04, 0.02, 0.04])
    corpus = Corpus(
        trace_ids=tuple(f"{i:032x}" for i in range(n_traces)),
        trace_offsets=offsets,
        row_trace=row_trace,
        is_root=is_root,
        root_row=offsets[:-1].copy(),
        row_time=np.zeros(n, dtype=np.float64),
        trace_start=np.zeros(n_traces, dtype=np.float64),
        weight=np.ones(n_traces, dtype=np.float64),
        must_keep=np.zeros(n_traces, dtype=np.bool_),
        must_keep_reasons={},
        columns=columns,
        digest=f"bench-{seed}-{n_traces}",
    )
    return corpus, dense


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, list[float], Any]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), times, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=3000, help="traces for the reference")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    t0 = time.perf_counter()
    corpus, dense = make_corpus(args.traces)
    rules = read_rules_text(RULES, "bench-rules.yaml").rules_file
    n_spans = corpus.n_rows
    print(
        f"corpus: {corpus.n_traces:,} traces, {n_spans:,} spans, {len(corpus.columns)} columns (generated in {time.perf_counter() - t0:.1f} s, seed {SEED})"
    )

    vec_s, vec_all, decisions = best_of(args.repeat, lambda: evaluate_corpus(rules, corpus))
    print(
        f"vectorised: {vec_s:.3f} s best of {[round(t, 3) for t in vec_all]} -> {n_spans / vec_s:,.0f} spans/s"
    )

    rng = np.random.default_rng(SEED + 1)
    sample = np.sort(
        rng.choice(corpus.n_traces, size=min(args.sample, corpus.n_traces), replace=False)
    )
    traces = [corpus.trace(int(i)) for i in sample]
    evaluator = Evaluator(rules)
    t0 = time.perf_counter()
    ref = [evaluator.decide(tr) for tr in traces]
    ref_s = time.perf_counter() - t0
    sample_spans = sum(len(tr.spans) for tr in traces)
    ref_rate = sample_spans / ref_s
    mismatches = sum(ref[j] != decisions.decision(int(i)) for j, i in enumerate(sample))
    print(
        f"reference: {len(traces):,} sampled traces ({sample_spans:,} spans) in {ref_s:.3f} s -> {ref_rate:,.0f} spans/s, {n_spans / ref_rate:.1f} s extrapolated; {mismatches} mismatches"
    )
    print(f"vectorised / reference: {n_spans / vec_s / ref_rate:,.0f}x (target >= 100x)")

    import duckdb

    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.register("dense", dense)
    con.execute("CREATE TABLE spans AS SELECT * FROM dense")
    con.unregister("dense")
    del dense

    def duck() -> Any:
        out = con.execute(SQL).fetchnumpy()
        rule = np.empty(corpus.n_traces, dtype=np.int32)
        rule[np.asarray(out["trace"])] = np.asarray(out["rule"])
        return rule

    duck_s, duck_all, duck_rule = best_of(args.repeat, duck)
    same = bool(np.array_equal(duck_rule, decisions.rule_index))
    print(
        f"duckdb (threads=2): {duck_s:.3f} s best of {[round(t, 3) for t in duck_all]} -> {n_spans / duck_s:,.0f} spans/s; same rule per trace: {same}"
    )
    print(f"vectorised / duckdb: {duck_s / vec_s:.2f}x (target >= 1.0)")
    counts = np.bincount(decisions.rule_index + 1, minlength=len(decisions.rule_names) + 1)
    print(
        "traces per rule:",
        dict(zip(["(none)", *decisions.rule_names], counts.tolist(), strict=True)),
    )


if __name__ == "__main__":
    main()
