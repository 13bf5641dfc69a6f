"""The HTML report's charts: plain-text tick labels, "others" as a combined rate, one title."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from pytest_nectar.cli import main
from pytest_nectar.report.charts import MAX_BARS, fold_bars

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
