"""The HTML report's charts: plain-text tick labels, "others" as a combined rate, one title,
one time-line panel per capture."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pytest_nectar.cli import main
from pytest_nectar.project.session import diff_subjects, explain_subject
from pytest_nectar.report import charts as charts_module
from pytest_nectar.report.analysis import load_report_corpus
from pytest_nectar.report.charts import MAX_BARS, fold_bars
from pytest_nectar.report.document import ServiceRow
from pytest_nectar.report.figures import TraceAmounts, captures, timeline
from pytest_nectar.report.render import diff_document, explain_document
from pytest_nectar.report.subject import load_subject
from tests.report_support import CORPUS, POLICIES, quickstart_report

pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def quickstart_html(tmp_path_factory: pytest.TempPathFactory) -> str:
    # The quickstart with a budget (10000 events/s) far above its traffic: the timeline has a
    # log axis, where matplotlib writes math text ($\mathdefault{10^{4}}$).
    folder = tmp_path_factory.mktemp("quickstart")
    shutil.copytree(ROOT / "examples" / "quickstart", folder, dirs_exist_ok=True)
    policy = folder / "policies" / "production.toon"
    text = policy.read_text()
    assert "\n  200\n" in text
    policy.write_text(text.replace("\n  200\n", "\n  10000\n", 1))
    out = folder / "report.html"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        assert (
            main(["explain", "policies/production.toon", "--format", "html", "-o", str(out)]) == 0
        )
    return out.read_text(encoding="utf-8")


def test_no_math_text_in_any_chart(quickstart_html: str) -> None:
    svgs = re.findall(r"<svg.*?</svg>", quickstart_html, re.S)
    assert len(svgs) == 3
    for svg in svgs:
        assert "$" not in svg and "mathdefault" not in svg
    ticks = re.findall(r"<text[^>]*>([^<]*)</text>", svgs[0])
    assert "10000" in ticks and "1" in ticks  # the log axis, in plain numbers
    assert ">keep-errors</text>" in svgs[1] and ">checkout</text>" in svgs[2]  # bars keep names


def test_the_title_is_nectars_and_appears_once(quickstart_html: str) -> None:
    assert "Waggle" not in quickstart_html
    assert quickstart_html.count("Nectar report: production-sampling") == 2  # <title>, <h1>
    assert "<title>Nectar report: production-sampling</title>" in quickstart_html
    assert "<h1>Nectar report: production-sampling</h1>" in quickstart_html


def test_others_are_a_combined_rate_not_a_sum() -> None:
    n = MAX_BARS + 5
    labels = [f"s{i}" for i in range(n)]
    rates = [0.01] * n  # every service at 1%
    weights = [(10.0, 1000.0)] * n
    shown, values = fold_bars(labels, rates, weights)
    assert shown[-1] == "6 others" and len(shown) == MAX_BARS
    assert values[-1] == pytest.approx(0.01)  # not 6%
    _, parts = fold_bars(labels, [1 / n] * n)  # shares of one whole do add up
    assert parts[-1] == pytest.approx(6 / n)
    assert fold_bars(labels[:3], rates[:3]) == (labels[:3], rates[:3])


SVG = re.compile(r"<svg.*?</svg>", re.S)


def _far_budget(tmp_path: Path) -> Path:
    """production.toon with a budget far above the quickstart's traffic (a log-scale axis)."""
    text = (POLICIES / "production.toon").read_text(encoding="utf-8")
    path = tmp_path / "roomy.toon"
    path.write_text(text.replace("\n  200\n", "\n  10000000\n", 1), encoding="utf-8")
    return path


def _svgs(page: str) -> list[str]:
    found = SVG.findall(page)
    assert found, "the page has charts"
    return found


def test_no_math_text_in_explain_or_diff_charts(tmp_path: Path) -> None:
    corpus, gaps = load_report_corpus([str(CORPUS)])
    roomy = load_subject(str(_far_budget(tmp_path)))
    report = explain_subject(roomy, corpus, corpus_label="corpus", missing=gaps)
    assert report.timeline is not None and report.budget is not None
    assert report.budget.budget_per_second == 10_000_000  # > 10x the traffic: log scale
    explain = explain_document([report], "html")
    old = load_subject(str(POLICIES / "production.toon"))
    diff = diff_document(diff_subjects(old, roomy, corpus, corpus_label="corpus"), "html")
    for page in (explain, diff):
        for svg in _svgs(page):
            assert "mathdefault" not in svg
            assert "$" not in svg
    ticks = re.findall(r"<text[^>]*>([^<]*)</text>", _svgs(explain)[0])
    assert "10000000" in ticks or "1000000" in ticks, ticks


def test_captures_far_apart_get_their_own_bins() -> None:
    day = 86_400.0
    one = np.linspace(0.0, 600.0, 601)
    two = one + 6 * 365 * day  # six years later
    blocks, width = captures(np.concatenate([one, two]))
    assert blocks == [(0.0, 600.0), (two[0], two[-1])]
    assert width == 10.0  # 1,200 s covered in at most 120 bins, not six years
    blocks, width = captures(one)
    assert blocks == [(0.0, 600.0)] and width == 5.0


def test_timeline_of_two_captures_years_apart() -> None:
    corpus, _ = load_report_corpus([str(CORPUS)])
    times = np.array(corpus.row_time, copy=True)
    late = corpus.row_trace >= corpus.n_traces // 2  # the second half, years later
    times[late] += 2e8
    shifted = replace(corpus, row_time=times)
    amounts = TraceAmounts.of(shifted, np.ones(shifted.n_traces))
    line = timeline(shifted, amounts, shifted.duration_s)
    assert line is not None
    assert len(line.captures) == 2
    assert line.bin_s < 100  # never 2e8 s in 2e6 s bins
    assert len(line.starts) <= 2 * 121
    assert sum(line.incoming_per_s) * line.bin_s == pytest.approx(float(amounts.events.sum()))
    report = replace(quickstart_report("production.toon"), timeline=line)
    svg = charts_module.charts(report)["timeline"]
    assert 'id="nectar-timeline"' in svg and 'id="nectar-timeline-2"' in svg
    assert "capture 2" in svg


def _service(name: str, rate: float, events: float) -> ServiceRow:
    return ServiceRow(name, 1, int(events), events, events * rate, rate, None, None, False)


def test_others_bar_says_it_is_a_combined_rate_and_its_range() -> None:
    services = [_service(f"big-{i}", 0.5, 100.0) for i in range(MAX_BARS - 1)]
    services += [_service(f"small-{i}", 0.01, 10.0) for i in range(4)]
    services += [_service("odd", 0.06, 10.0)]
    report = replace(quickstart_report("production.toon"), services=tuple(services))
    svg = charts_module.charts(report)["services"]
    assert "5 others (combined rate; each 1.00%-6.00%)" in svg
    assert ">big-0</text>" in svg  # the bars keep their names as tick labels
    _, values = fold_bars(
        [s.service for s in services],
        [s.effective_rate or 0.0 for s in services],
        [(s.kept_events, s.weighted_events) for s in services],
    )
    assert values[-1] == pytest.approx(0.02)  # (4 x 1% + 6%) / 5 of equal traffic, not 10%
