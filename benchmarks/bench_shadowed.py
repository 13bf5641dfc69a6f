"""Benchmark: the shadowed-rules lint and ``prove`` as a policy grows from 100 to 10,000 rules.

Run: ``python benchmarks/bench_shadowed.py [--rules 100,1000,10000] [--baseline-cap 300]``.
The policy is ``tests/resource_support.many_rules_policy(n)`` (four rule shapes, all in the
decided fragment, some rules shadowed).  For each size it prints, best of ``--repeat``:

* ``shadowed``: the shadowed-rules lint (:func:`pytest_nectar.prover.universal.shadowed_rules`);
* ``prove``: every property of ``nectar prove`` without a corpus (compile, all-traces proofs,
  lints), as the CLI runs it;
* ``old shadowed`` / ``old prove``: the same with the full procedure the lint used before
  (every earlier rule a negative of every question), in a child process stopped after
  ``--baseline-cap`` seconds ("> cap" then), measured in the same run;

then the scaling exponent between consecutive sizes (time ~ n^k: 1 is linear, 2 quadratic)
and the load average (the machine is shared).  Both procedures must agree on the verdicts
where the old one finishes; the script checks it.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pytest_nectar.prover import prove, universal
from pytest_nectar.prover.engine import load_target
from tests.resource_support import many_rules_policy


def _measure(path: str, old: bool) -> dict[str, Any]:
    """Seconds of the lint and of prove, and the verdicts (run in a child for the old)."""
    if old:  # the engine calls these by module attribute: the old procedure everywhere
        universal.shadowed_rules = universal.shadowed_rules_full
        universal.prove_keep_all = universal.prove_keep_all_full
    start = time.perf_counter()
    lint = universal.shadowed_rules(load_target(path))
    lint_s = time.perf_counter() - start
    start = time.perf_counter()
    report = prove(path)
    prove_s = time.perf_counter() - start
    verdicts = {k: (r.verdict.value, r.summary) for k, r in report.results.items()}
    return {"shadowed": lint_s, "prove": prove_s, "lint": lint.summary, "verdicts": verdicts}


def _child(path: str, queue: Any) -> None:
    queue.put(_measure(path, old=True))


def _baseline(path: str, cap: float) -> dict[str, Any] | None:
    """The old procedure in a child process, or None when it needs more than ``cap`` s."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(path, queue))
    child.start()
    child.join(cap)
    if child.is_alive():
        child.terminate()
        child.join()
        return None
    return queue.get() if not queue.empty() else None


def _exponent(n0: int, t0: float, n1: int, t1: float) -> str:
    if t0 <= 0 or t1 <= 0:
        return "-"
    return f"{math.log(t1 / t0) / math.log(n1 / n0):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", default="100,1000,10000", help="comma-separated sizes")
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs of the new code")
    parser.add_argument(
        "--baseline-cap", type=float, default=300.0, help="seconds before the old one is stopped"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.rules.split(",")]
    rows: list[tuple[int, float, float, dict[str, Any] | None]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"p{n}.toon"
            path.write_text(many_rules_policy(n), encoding="utf-8")
            runs = [_measure(str(path), old=False) for _ in range(max(1, args.repeat))]
            new = min(runs, key=lambda r: r["prove"])
            old = _baseline(str(path), args.baseline_cap)
            if old is not None and old["verdicts"] != new["verdicts"]:
                for key in new["verdicts"]:
                    if old["verdicts"].get(key) != new["verdicts"][key]:
                        print(f"  {n} rules, {key}: old {old['verdicts'].get(key)}")
                        print(f"  {n} rules, {key}: new {new['verdicts'][key]}")
            rows.append((n, min(r["shadowed"] for r in runs), new["prove"], old))
            print(f"measured {n} rules (load average {os.getloadavg()[0]:.1f})", flush=True)
    cap = f"> {args.baseline_cap:g}"
    print()
    print(
        f"{'rules':>7} {'shadowed s':>11} {'prove s':>9} {'old shadowed s':>15} "
        f"{'old prove s':>12} {'speed-up (prove)':>17} {'k shadowed':>11} {'k prove':>8}"
    )
    for i, (n, lint_s, prove_s, old) in enumerate(rows):
        old_lint = f"{old['shadowed']:.2f}" if old else cap
        old_prove = f"{old['prove']:.2f}" if old else cap
        speed = f"{old['prove'] / prove_s:.1f}x" if old else f"> {args.baseline_cap / prove_s:.1f}x"
        k_lint = k_prove = "-"
        if i:
            n0, lint0, prove0, _ = rows[i - 1]
            k_lint, k_prove = _exponent(n0, lint0, n, lint_s), _exponent(n0, prove0, n, prove_s)
        print(
            f"{n:>7} {lint_s:>11.2f} {prove_s:>9.2f} {old_lint:>15} {old_prove:>12} "
            f"{speed:>17} {k_lint:>11} {k_prove:>8}"
        )
    print(f"\nload average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
