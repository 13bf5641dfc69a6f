"""The long fuzz round: N seeded inputs per target, every failure kept, none stopping the round.

    python -m tests.fuzz_round [--inputs N] [--seed S] [--target NAME ...] [--out DIR]

Input ``i`` of target ``t`` comes from ``random.Random(f"{S}:{t}:{i}")`` alone, so any failure
replays with ``--replay t:i`` (the seed is printed).  A failure is anything but a result or a
NectarError, or an input over the time or memory cap (tests/fuzz_support.within_bounds); its
input is written to ``DIR/<target>-<i>.txt`` and the round goes on.  Prints, per target, the
inputs run, how many ended in a NectarError, the failures, and the slowest input.  Run it at
low priority (``nice -n 19``), one process per target to use idle cores; the corpus targets
write a file per input, so ``TMPDIR=/dev/shm`` keeps them off the disk.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
import traceback
from pathlib import Path

from pytest_nectar.errors import NectarError
from tests.fuzz_support import RandomChooser, within_bounds
from tests.fuzz_targets import TARGETS


def _seed(seed: int, target: str, index: int) -> int:
    digest = hashlib.sha256(f"{seed}:{target}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _one(target: str, seed: int, index: int) -> tuple[str, bool, str | None, float]:
    """The input, whether it was refused (NectarError), the failure if any, the seconds."""
    text = TARGETS[target].generate(RandomChooser(_seed(seed, target, index)))
    start = time.monotonic()
    refused = False
    failure = None
    try:
        with within_bounds(f"{target}:{index}"):
            try:
                TARGETS[target].run(text)
            except NectarError:
                refused = True
                raise
    except Exception:
        failure = traceback.format_exc(limit=-6)
    return text, refused, failure, time.monotonic() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz_round")
    parser.add_argument("--inputs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target", action="append", choices=sorted(TARGETS))
    parser.add_argument("--out", default="fuzz-failures")
    parser.add_argument("--replay", help="TARGET:INDEX of one input to run and print")
    args = parser.parse_args(argv)
    if args.replay:
        target, index = args.replay.rsplit(":", 1)
        text, refused, failure, _ = _one(target, args.seed, int(index))
        sys.stdout.write(f"{text!r}\nrefused: {refused}\n{failure or 'no failure'}\n")
        return 1 if failure else 0
    out = Path(args.out)
    failed = 0
    for target in args.target or sorted(TARGETS):
        refused = 0
        failures: list[int] = []
        slowest = (0.0, -1)
        started = time.monotonic()
        for i in range(args.inputs):
            text, was_refused, failure, seconds = _one(target, args.seed, i)
            refused += was_refused
            slowest = max(slowest, (seconds, i))
            if failure is not None:
                failures.append(i)
                out.mkdir(parents=True, exist_ok=True)
                (out / f"{target}-{i}.txt").write_text(
                    f"{text!r}\n\n{failure}", encoding="utf-8", errors="backslashreplace"
                )
            if (i + 1) % 10_000 == 0:
                sys.stdout.write(f"  {target}: {i + 1} inputs, {len(failures)} failures\n")
                sys.stdout.flush()
        failed += len(failures)
        sys.stdout.write(
            f"{target}: {args.inputs} inputs (seed {args.seed}), {refused} NectarError, "
            f"{len(failures)} failures {failures[:10]}, slowest {slowest[0]:.2f} s (#{slowest[1]}),"
            f" {time.monotonic() - started:.0f} s\n"
        )
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
