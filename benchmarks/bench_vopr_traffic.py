"""VOPR traffic generation: steps/s and traces/s, against naive baselines in the same run.

Run: python benchmarks/bench_vopr_traffic.py [--steps N]
Corpus: the quickstart example (generated shop traffic, 340 traces).  The baselines are what the
generator avoids: a fresh ChaCha per (step, substream) instead of repositioning one, and the
frozen-dataclass ``Span()`` constructor for every re-keyed row.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pytest_nectar.corpus.load import load_corpus
from pytest_nectar.trace import Span, Trace
from pytest_nectar.vopr.clock import RateProcess, Timeline
from pytest_nectar.vopr.evolutions import ErrorStorm, RenameAttribute
from pytest_nectar.vopr.faults import ClockSkew, MissingField, TruncatedTrace
from pytest_nectar.vopr.rng import RngFamily
from pytest_nectar.vopr.scenario import Scenario
from pytest_nectar.vopr.traffic import TrafficModel

CORPUS = Path(__file__).parent.parent / "examples/quickstart/corpus/shop.jsonl"


def _timed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=5000)
    args = parser.parse_args()
    model = TrafficModel.from_corpus(load_corpus(CORPUS, cache=False))
    scenario = Scenario(
        "bench",
        42,
        Timeline(args.steps, step_seconds=60.0, active_seconds=1.0),
        RateProcess(base=10.0),
        evolutions=(ErrorStorm(factor=2.0, start=3600.0 * 24), RenameAttribute(share=0.2)),
        faults=(MissingField(), ClockSkew(), TruncatedTrace()),
    )
    sim = scenario.simulate(model)
    counts: list[int] = []
    wall = _timed(lambda: counts.extend(len(b) for b in sim))
    traces = sum(counts)
    print(f"corpus: {len(model.shapes)} shapes; scenario:\n{scenario}")
    print(f"generated {args.steps} steps, {traces} traces in {wall:.2f} s")
    print(f"  {args.steps / wall:,.0f} steps/s, {traces / wall:,.0f} traces/s")

    family = RngFamily("bench", 42)
    stream = family.stream("traffic")
    n = 20000
    seek = _timed(lambda: [stream.at(s) for s in range(n)])
    fresh = _timed(lambda: [family.generator(s, "traffic") for s in range(n)])
    print(
        f"rng: reposition {seek / n * 1e6:.1f} us, fresh ChaCha {fresh / n * 1e6:.1f} us "
        f"({fresh / seek:.1f}x)"
    )

    index = max(range(len(model.shapes)), key=lambda k: len(model.shapes[k].rekey))
    shape = model.shapes[index]
    ids = [f"{i:032x}" for i in range(n // 10)]
    fast = _timed(lambda: [model.trace(index, i) for i in ids])
    naive = _timed(
        lambda: [
            Trace(i, tuple(Span({**s.data, "trace.trace_id": i}, s.is_root) for s in shape.spans))
            for i in ids
        ]
    )
    bare = TrafficModel.from_corpus(load_corpus(CORPUS, cache=False), rekey=False)
    shared = _timed(lambda: [bare.trace(index, i) for i in ids])
    rows = len(shape.spans) * len(ids)
    print(f"rekey=False: {shared / rows * 1e9:.0f} ns/row ({fast / shared:.1f}x faster)")
    print(
        f"re-keying {rows} rows: {fast / rows * 1e9:.0f} ns/row vs Span() {naive / rows * 1e9:.0f}"
        f" ns/row ({naive / fast:.1f}x)"
    )


if __name__ == "__main__":
    main()
