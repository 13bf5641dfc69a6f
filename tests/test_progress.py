"""Progress on long runs: a bar with an estimate on a terminal, nothing when piped."""

from __future__ import annotations

import io
from pathlib import Path

from pytest_nectar.report.progress import Progress
from pytest_nectar.vopr.campaigns import Setup, run_campaigns

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "examples" / "quickstart"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_campaign_reports_its_total_work_and_every_job() -> None:
    setup = Setup.build(QUICKSTART / "policies" / "production.toon", QUICKSTART / "corpus")
    seen: list[float] = []

    def start(total: float) -> object:
        seen.append(total)
        return seen.append

    run_campaigns(setup, ["chaos", "determinism"], 7, sizes={"chaos": 3, "determinism": 2},
                  workers=1, do_shrink=False, progress=start)  # fmt: skip
    total, *done = seen
    assert total > 0 and sum(done) == total and len(done) >= 2


def test_the_storm_bisection_counts_in_the_progress() -> None:
    setup = Setup.build(QUICKSTART / "policies" / "production.toon", QUICKSTART / "corpus")
    seen: list[float] = []

    def start(total: float) -> object:
        seen.append(total)
        return seen.append

    run_campaigns(setup, ["storm"], 7, sizes={"storm": 2}, workers=1, do_shrink=False,
                  progress=start)  # fmt: skip
    total, *done = seen
    assert sum(done) == total and total >= 30.0 * (2 + 2)


def test_the_bar_draws_on_a_terminal_with_an_estimate_and_never_in_a_pipe() -> None:
    tty = _Tty()
    with Progress(enabled=True, stream=tty).bar("vopr chaos seed 0x2a", 10) as advance:
        advance(4)
        advance(6)
    assert "vopr chaos seed 0x2a" in tty.getvalue() and "eta" in tty.getvalue()
    piped = io.StringIO()
    with Progress(stream=piped).bar("vopr", 10) as advance:
        advance(10)
    assert piped.getvalue() == ""
