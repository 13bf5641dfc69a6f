"""``nectar explain`` and ``nectar diff`` in text, Markdown and HTML on the quickstart.

Run: python benchmarks/bench_report.py [--repeat N] [--no-cli]
Two measurements, both in this run:

* in process: the corpus evaluated once per policy (the session's one result), then each
  report rendered ``N`` times from that result (best of N); the ratio is against text.
  Nothing is evaluated while rendering, so this is the renderers' own cost (HTML: the charts);
* end to end: the ``nectar explain``/``nectar diff`` commands, one fresh process each (best of
  N), which adds interpreter start, imports (matplotlib for HTML) and the evaluation; the
  ratio is against the text command.

The load average is printed first: on a shared machine the figures move with it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pytest_nectar.project.session import diff_subjects, explain_subject
from pytest_nectar.report.analysis import load_report_corpus
from pytest_nectar.report.render import diff_document, explain_document
from pytest_nectar.report.subject import load_subject

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "examples" / "quickstart"
POLICY = QUICKSTART / "policies" / "production.toon"
FORMATS = ("text", "md", "html")


def _best(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def _changed(folder: Path) -> Path:
    """The quickstart's production policy with its catch-all rate doubled (a one-line change)."""
    text = POLICY.read_text(encoding="utf-8")
    path = folder / "production.toon"
    path.write_text(text.replace("sample(0.01)", "sample(0.02)"), encoding="utf-8")
    return path


def _rows(label: str, figures: dict[str, float]) -> None:
    base = figures["text"]
    for fmt, seconds in figures.items():
        print(f"  {label:<8} {fmt:<5} {seconds:8.3f} s  {seconds / base:6.2f}x text")


def in_process(repeat: int, new: Path) -> None:
    start = time.perf_counter()
    corpus, gaps = load_report_corpus([str(QUICKSTART / "corpus")])
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    old_subject, new_subject = load_subject(str(POLICY)), load_subject(str(new))
    report = explain_subject(old_subject, corpus, corpus_label="corpus", missing=gaps)
    explained = time.perf_counter() - start
    start = time.perf_counter()
    diff = diff_subjects(old_subject, new_subject, corpus, corpus_label="corpus")
    diffed = time.perf_counter() - start
    print(f"corpus load {loaded:.3f} s; explain evaluation {explained:.3f} s; "
          f"diff evaluation (both sides) {diffed:.3f} s")  # fmt: skip
    start = time.perf_counter()
    explain_document([report], "html")  # the first chart pays matplotlib's import and fonts
    print(
        f"first HTML (imports matplotlib, loads its font cache) {time.perf_counter() - start:.3f} s"
    )
    print(f"rendering only, best of {repeat}:")
    _rows("explain", {f: _best(repeat, lambda f=f: explain_document([report], f)) for f in FORMATS})
    _rows("diff", {f: _best(repeat, lambda f=f: diff_document(diff, f)) for f in FORMATS})


def end_to_end(repeat: int, new: Path) -> None:
    corpus = str(QUICKSTART / "corpus")
    base = [sys.executable, "-m", "pytest_nectar"]
    commands = {
        "explain": [*base, "explain", str(POLICY), "--corpus", corpus],
        "diff": [*base, "diff", str(POLICY), str(new), "--corpus", corpus],
    }
    print(f"whole commands (fresh process each), best of {repeat}:")
    for label, command in commands.items():
        figures = {}
        for fmt in FORMATS:
            out = new.parent / f"{label}.{fmt}"

            def run(fmt: str = fmt, out: Path = out, command: list[str] = command) -> None:
                subprocess.run([*command, "--format", fmt, "-o", str(out)], check=True,
                               capture_output=True, cwd=QUICKSTART)  # fmt: skip

            figures[fmt] = _best(repeat, run)
        _rows(label, figures)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-cli", action="store_true", help="skip the end-to-end commands")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as folder:
        new = _changed(Path(folder))
        in_process(args.repeat, new)
        if not args.no_cli:
            end_to_end(args.repeat, new)


if __name__ == "__main__":
    main()
