"""Benchmark: the import's all-traces equivalence proof against the import itself.

Run: ``python benchmarks/bench_import.py [--rules 100 300 1000] [--repeat 3]``.  For each
size a rules file is generated whose every rule the import rewrites (a ``Datatype: int``
comparison with a Value that does not convert, which Refinery compares untyped), so no rule
is written alike and the decision procedure must prove each one.  Prints, best of
``--repeat`` with the load average beside (the machine is shared): the import (read,
import, print, parse, compile), the proof, and the proof's ratio to the import.
"""

from __future__ import annotations

import argparse
import os
import time

from pytest_nectar.compiler.compile import compile_policies
from pytest_nectar.compiler.importer import import_rules
from pytest_nectar.policy.parser import parse_policy
from pytest_nectar.policy.printer import format_policy
from pytest_nectar.prover.import_proof import prove_equivalent
from pytest_nectar.refinery.rules_reader import read_rules_text


def rules_text(n: int) -> str:
    lines = ["RulesVersion: 2", "Samplers:", "  __default__:", "    RulesBasedSampler:"]
    lines.append("      Rules:")
    for i in range(n):
        lines += [
            f"        - Name: r{i}",
            f"          SampleRate: {i % 7 + 1}",
            "          Conditions:",
            f"            - {{Field: f{i % 13}, Operator: '>=', Value: v{i}, Datatype: int}}",
            f"            - {{Field: g{i % 5}, Operator: '=', Value: {i}, Datatype: int}}",
        ]
    return "\n".join(lines) + "\n"


def best(fn, repeat: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}; best of {args.repeat}")
    for n in args.rules:
        text = rules_text(n)

        def do_import(text: str = text) -> object:
            original = read_rules_text(text).rules_file
            result = import_rules(original)
            texts = [format_policy(p) for p in result.policies.values()]
            return original, compile_policies([parse_policy(t) for t in texts]).rules_file

        base, pair = best(do_import, args.repeat)
        original, compiled = pair  # type: ignore[misc]
        proof_time, proof = best(
            lambda o=original, c=compiled: prove_equivalent(o, c, "__default__"), args.repeat
        )
        verdict = proof.verdict.value  # type: ignore[attr-defined]
        print(
            f"{n:5d} rules: import {base:7.3f} s, proof {proof_time:7.3f} s ({verdict}), "
            f"ratio {proof_time / base:5.2f}x"
        )


if __name__ == "__main__":
    main()
