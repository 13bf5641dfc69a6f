"""``nectar corpus synth``: spans per second in every format, against plain JSON encoding.

Run: python benchmarks/bench_synth.py [--traces N]
Generates N shop requests (about 10 spans each; 10,000 by default, about 100,000 spans) in
each output format and prints wall time and spans/s.  The baseline, measured in the same run,
is ``json.dumps`` of the same OTLP request objects already built: the floor any generator
that writes OTLP JSON pays, so the ratio says how much the model walk and the random draws
add on top of serialising.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from pytest_nectar.synth import FORMATS, generate, shop_model, write
from pytest_nectar.synth.writers import _otlp_request, _Resources


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--traces", type=int, default=10_000)
    args = parser.parse_args()
    model = shop_model()
    print(f"load average {os.getloadavg()[0]:.2f}; {args.traces} requests per run")
    start = time.perf_counter()
    traces = list(generate(model, 1, traces=args.traces, duration=600))
    spans = sum(len(t.spans) for t in traces)
    drawn = time.perf_counter() - start
    print(f"model walk and draws: {spans} spans in {drawn:.3f} s ({spans / drawn:,.0f} spans/s)")
    request = _otlp_request([s for t in traces for s in t.spans], _Resources(model))
    start = time.perf_counter()
    json.dumps(request, separators=(",", ":"))
    floor = time.perf_counter() - start
    print(f"baseline json.dumps of the built OTLP request: {floor:.3f} s")
    for fmt in FORMATS:
        start = time.perf_counter()
        text = write(fmt, generate(model, 1, traces=args.traces, duration=600), model)
        wall = time.perf_counter() - start
        print(
            f"{fmt:<11} {wall:7.3f} s  {spans / wall:>9,.0f} spans/s  {len(text) / 1e6:7.1f} MB"
            f"  {wall / floor:5.1f}x the baseline"
        )


if __name__ == "__main__":
    main()
