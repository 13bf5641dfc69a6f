"""Reference evaluator throughput: a 10-rule file over 3,000 generated 10-span traces.

Run: python benchmarks/bench_reference.py (prints traces/s and spans/s).  The reference is
a plain transcription of Refinery's code path; the simulator decides through
``vopr.decision_cache.RuleMatcher`` (the same decisions, faster), measured in the same run.
"""

# ruff: noqa: E501  (inline rules file)
from __future__ import annotations

import random
import time

from pytest_nectar.refinery.reference import Evaluator
from pytest_nectar.refinery.rules_reader import read_rules_text
from pytest_nectar.trace import Span, Trace
from pytest_nectar.vopr.decision_cache import RuleMatcher

text = """RulesVersion: 2
Samplers:
  __default__:
    RulesBasedSampler:
      Rules:
        - {Name: drop health, Drop: true, Conditions: [{Field: http.route, Operator: '=', Value: /healthz, Datatype: string}]}
        - {Name: errors, SampleRate: 1, Conditions: [{Fields: [http.response.status_code, http.status_code], Operator: '>=', Value: 500, Datatype: int}]}
        - {Name: slow, SampleRate: 1, Scope: span, Conditions: [{Field: duration_ms, Operator: '>', Value: 1000, Datatype: float}, {Field: trace.parent_id, Operator: not-exists}]}
        - {Name: admin, SampleRate: 1, Conditions: [{Field: http.route, Operator: starts-with, Value: /admin}]}
        - {Name: svc, SampleRate: 2, Conditions: [{Field: service.name, Operator: in, Value: [a, b, c]}]}
        - {Name: err, SampleRate: 1, Conditions: [{Field: error, Operator: exists}]}
        - {Name: big, Drop: true, Conditions: [{Field: '?.NUM_DESCENDANTS', Operator: '>', Value: 500, Datatype: int}]}
        - {Name: root, SampleRate: 3, Conditions: [{Field: root.http.method, Operator: '=', Value: POST, Datatype: string}]}
        - {Name: regex, SampleRate: 4, Conditions: [{Field: user_agent, Operator: matches, Value: 'bot|crawler'}]}
        - {Name: rest, SampleRate: 10}
"""
rf = read_rules_text(text, "r.yaml").rules_file
rng = random.Random(1)
traces = []
for t in range(3000):
    spans = []
    for i in range(10):
        d = {
            "service.name": rng.choice("abcdefg"),
            "http.route": rng.choice(["/x", "/y", "/admin/z", "/healthz"]) if i == 0 else "/x",
            "http.status_code": float(rng.choice([200, 200, 404, 503])),
            "duration_ms": rng.random() * 1100,
            "user_agent": "curl",
        }
        if i:
            d["trace.parent_id"] = "p"
        else:
            d["http.method"] = rng.choice(["GET", "POST"])
        spans.append(Span(d, i == 0))
    traces.append(Trace(str(t), tuple(spans)))
ev = Evaluator(rf)
t0 = time.perf_counter()
wanted = [ev.decide(tr) for tr in traces]
dt = time.perf_counter() - t0
print(f"reference: {len(traces) / dt:.0f} traces/s, {len(traces) * 10 / dt:.0f} spans/s")
fast = RuleMatcher(Evaluator(rf))
t0 = time.perf_counter()
got = [fast.decide(tr) for tr in traces]
ft = time.perf_counter() - t0
assert got == wanted, "the simulator's rule match disagrees with the reference"
print(f"simulator: {len(traces) / ft:.0f} traces/s ({dt / ft:.2f}x the reference)")
