"""Benchmark: replay of a 10-rule policy against DuckDB, both on the same Parquet file.

Run: ``python benchmarks/bench_parquet_replay.py [--traces N] [--repeat N]`` (default
100,000 traces / ~1,000,000 spans; needs pyarrow and DuckDB: the ``tables`` and ``bench``
extras).  The corpus and the policy are ``bench_replay.py``'s (generated as columns, seeded);
the corpus is written once as a Parquet table of flattened spans with the documented columns
(``bench_parquet.corpus_table``).  Then, in the same run, from that one file:

* Nectar: ``load_corpus`` of the file, then the vectorised evaluation (``evaluate_corpus``,
  two threads).  First run: the first ingest (which writes the cache) and the evaluation;
  warm: the cached load and the evaluation, best of ``--repeat``;
* DuckDB (threads=2): the same first-match decision as one SQL query straight on the file
  (``read_parquet``), one rule per trace fetched as numpy.  First run: a fresh connection's
  first query; warm: the same query again, best of ``--repeat``.

Both answers are checked: the rule chosen for every trace, and so the traces per rule, must be
equal (and equal to the decisions on the generated columns); the script fails otherwise.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from bench_parquet import write_parquet
from bench_replay import RULES, SEED, best_of, make_corpus

from pytest_nectar.corpus import load_corpus
from pytest_nectar.refinery.rules_reader import read_rules_text
from pytest_nectar.refinery.vector import evaluate_corpus

#: bench_replay's first-match query, on the Parquet columns as Refinery names them: a root
#: is the span without ``trace.parent_id`` and ``?.NUM_DESCENDANTS`` is the trace's span count.
SQL = """
WITH per_trace AS (
  SELECT "trace.trace_id" AS trace,
    bool_or("http.route" = '/healthz') AS c0,
    bool_or(COALESCE("http.response.status_code", "http.status_code") >= 500) AS c1,
    bool_or("error" IS NOT NULL) AS c2,
    bool_or("duration_ms" > 1000 AND "trace.parent_id" IS NULL) AS c3,
    bool_or(starts_with("http.route", '/admin')) AS c4,
    bool_or("user.tier" IN ('gold', 'platinum')) AS c5,
    count(*) AS n,
    bool_or(CASE WHEN "trace.parent_id" IS NULL THEN "http.method" = 'POST' END) AS c7,
    bool_or("service.name" = 'payments' AND "http.status_code" >= 400) AS c8
  FROM read_parquet($path) GROUP BY "trace.trace_id"
)
SELECT trace, CASE WHEN c0 THEN 0 WHEN c1 THEN 1 WHEN c2 THEN 2 WHEN c3 THEN 3 WHEN c4 THEN 4
  WHEN c5 THEN 5 WHEN n > 14 THEN 6 WHEN c7 THEN 7 WHEN c8 THEN 8 ELSE 9 END AS rule
FROM per_trace
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import duckdb

    rules = read_rules_text(RULES, "bench-rules.yaml").rules_file
    with tempfile.TemporaryDirectory(prefix="nectar-bench-") as tmp:
        path, cache = Path(tmp) / "spans.parquet", Path(tmp) / "cache"
        t0 = time.perf_counter()
        generated, _ = make_corpus(args.traces)
        write_parquet(generated, path)
        decisions = evaluate_corpus(rules, generated)
        expected, names = decisions.rule_index, list(decisions.rule_names)
        trace_ids = generated.trace_ids
        n_spans = generated.n_rows
        del generated
        print(
            f"corpus: {len(trace_ids):,} traces, {n_spans:,} spans, "
            f"{path.stat().st_size / 1e6:.0f} MB Parquet (generated in "
            f"{time.perf_counter() - t0:.1f} s, seed {SEED})"
        )

        def nectar() -> Any:
            return evaluate_corpus(rules, load_corpus(path, cache_dir=cache)).rule_index

        t0 = time.perf_counter()
        first_rule = nectar()
        nectar_first = time.perf_counter() - t0
        nectar_warm, nectar_all, warm_rule = best_of(args.repeat, nectar)
        loaded = load_corpus(path, cache_dir=cache)
        assert loaded.trace_ids == trace_ids, "the Parquet corpus has other traces"
        eval_s, _, _ = best_of(args.repeat, lambda: evaluate_corpus(rules, loaded))

        index = {trace: i for i, trace in enumerate(trace_ids)}
        con = duckdb.connect()
        con.execute("SET threads = 2")

        def duck() -> Any:
            out = con.execute(SQL, {"path": str(path)}).fetchnumpy()
            rule = np.full(len(trace_ids), -1, dtype=np.int32)
            rule[np.fromiter(map(index.__getitem__, out["trace"]), np.int64)] = out["rule"]
            return rule

        t0 = time.perf_counter()
        duck_first_rule = duck()
        duck_first = time.perf_counter() - t0
        duck_warm, duck_all, duck_rule = best_of(args.repeat, duck)

        answers = [first_rule, warm_rule, duck_first_rule, duck_rule]
        same = all(np.array_equal(a, expected) for a in answers)
        counts = [np.bincount(a, minlength=len(names)).tolist() for a in (warm_rule, duck_rule)]
        print(f"load average {os.getloadavg()[0]:.2f}, DuckDB {duckdb.__version__} threads=2")
        print(
            f"nectar first run (ingest + cache + replay) {nectar_first:8.3f} s"
            f"  {n_spans / nectar_first:12,.0f} spans/s"
        )
        print(
            f"nectar warm (cached load + replay)         {nectar_warm:8.3f} s"
            f"  {n_spans / nectar_warm:12,.0f} spans/s  best of {[round(t, 3) for t in nectar_all]}"
        )
        print(f"  of which the replay alone                {eval_s:8.3f} s")
        print(
            f"duckdb first query on the file             {duck_first:8.3f} s"
            f"  {n_spans / duck_first:12,.0f} spans/s"
        )
        print(
            f"duckdb warm                                {duck_warm:8.3f} s"
            f"  {n_spans / duck_warm:12,.0f} spans/s  best of {[round(t, 3) for t in duck_all]}"
        )
        print(f"duckdb / nectar, first run  {duck_first / nectar_first:6.2f}x (> 1: Nectar faster)")
        print(f"duckdb / nectar, warm       {duck_warm / nectar_warm:6.2f}x (target >= 1)")
        print(f"same rule for every trace (first and warm, both engines): {same}")
        print("traces per rule (nectar):", dict(zip(names, counts[0], strict=True)))
        print(f"traces per rule equal: {counts[0] == counts[1]}")
        return 0 if same and counts[0] == counts[1] else 1


if __name__ == "__main__":
    raise SystemExit(main())
