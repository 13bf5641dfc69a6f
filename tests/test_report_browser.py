"""The HTML report in a real headless Chromium: charts drawn, no script errors, and what a
reader sees checked in the laid-out page: no text overflows its box, every chart's axes
carry plain tick labels (no raw ``$\\mathdefault{..}$`` math text).

Needs Debian's ``chromium`` package (``apt-get install -y chromium``; .ci/run installs it).
The screenshot goes to pytest's tmp_path, never into the repository.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from pytest_nectar.project.session import diff_subjects, explain_subject
from pytest_nectar.report.analysis import load_report_corpus
from pytest_nectar.report.render import diff_document, explain_document
from pytest_nectar.report.subject import load_subject
from tests.report_support import CORPUS, POLICIES, quickstart_report

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-logging=stderr", "--v=0",
)  # fmt: skip

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="headless Chromium not installed: apt-get install -y chromium (/usr/bin/chromium)",
)


def _chromium(tmp_path: Path, page: Path, *extra: str) -> tuple[str, str]:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    done = subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, done.stderr


def _console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def test_html_report_renders_charts_without_script_errors(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(
        explain_document([quickstart_report("checkout.toon")], "html"), encoding="utf-8"
    )
    dom, stderr = _chromium(tmp_path, page, "--dump-dom")
    assert _console_errors(stderr) == []
    for chart in ("nectar-timeline", "nectar-rule-share", "nectar-service-rates"):
        assert f'id="{chart}"' in dom, chart
    assert len(re.findall(r"<svg[ >]", dom)) == 3
    assert dom.count("<path") > 20  # lines, bars and axes were laid out as SVG paths
    assert "checkout-sampling" in dom and "<table" in dom

    shot = tmp_path / "shot.png"
    _chromium(tmp_path, page, f"--screenshot={shot}", "--window-size=1200,4000")
    from matplotlib.image import imread

    pixels = imread(str(shot))[..., :3]
    kept_colour = (abs(pixels[..., 0] - 0xD0 / 255) < 0.06) & (
        abs(pixels[..., 1] - 0x8C / 255) < 0.06
    )
    assert int(kept_colour.sum()) > 500, "the kept-events bars and line are painted"


def test_script_errors_would_be_caught(tmp_path: Path) -> None:
    """The console check is live: a broken script on the same page is reported."""
    html = explain_document([quickstart_report("production.toon")], "html")
    page = tmp_path / "broken.html"
    page.write_text(
        html.replace("</body>", "<script>notDefined();</script></body>"), encoding="utf-8"
    )
    _, stderr = _chromium(tmp_path, page, "--dump-dom")
    assert any("notDefined" in line for line in _console_errors(stderr))


#: Runs in the page after layout; its findings go to an attribute that --dump-dom prints.
CHECK = """<script>
(function () {
  var found = {overflow: [], svgText: [], noTicks: [], mathText: [], charts: 0, axes: 0};
  var page = document.documentElement;
  if (page.scrollWidth > window.innerWidth + 1) {
    found.overflow.push("page " + page.scrollWidth + " > " + window.innerWidth);
  }
  document.querySelectorAll("h1,h2,h3,p,li,td,th,figcaption").forEach(function (el) {
    if (el.scrollWidth > el.clientWidth + 1) {
      found.overflow.push(el.tagName + ": " + el.textContent.slice(0, 60));
    }
  });
  document.querySelectorAll("svg").forEach(function (svg, k) {
    found.charts += 1;
    var box = svg.getBoundingClientRect();
    svg.querySelectorAll("text").forEach(function (t) {
      var r = t.getBoundingClientRect();
      if (/\\$|mathdefault/.test(t.textContent)) { found.mathText.push(t.textContent); }
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 ||
          r.bottom > box.bottom + 1) {
        found.svgText.push("chart " + k + ": " + t.textContent);
      }
    });
    var labelled = function (axis) {
      return Array.prototype.some.call(axis.querySelectorAll("text"), function (t) {
        return t.textContent.trim() !== "";
      });
    };
    svg.querySelectorAll("g[id^='matplotlib.axis_1']").forEach(function (x) {
      found.axes += 1;  // one x axis per axes (a panel of the time line, a bar chart)
      if (!labelled(x)) { found.noTicks.push("chart " + k + " " + x.parentNode.id + ": x"); }
    });
    var ys = svg.querySelectorAll("g[id^='matplotlib.axis_2']");
    if (!Array.prototype.some.call(ys, labelled)) { found.noTicks.push("chart " + k + ": y"); }
  });
  document.body.setAttribute("data-nectar-check", JSON.stringify(found));
})();
</script></body>"""


def _laid_out(tmp_path: Path, html: str, name: str) -> dict[str, list[str] | int]:
    """What the page looks like to a reader, measured by Chromium at 1200 px."""
    page = tmp_path / f"{name}.html"
    page.write_text(html.replace("</body>", CHECK), encoding="utf-8")
    dom, stderr = _chromium(tmp_path, page, "--dump-dom", "--window-size=1200,4000")
    assert _console_errors(stderr) == []
    match = re.search(r'data-nectar-check="([^"]*)"', dom)
    assert match, "the check script ran"
    import html as html_module

    found: dict[str, list[str] | int] = json.loads(html_module.unescape(match.group(1)))
    return found


def _roomy(tmp_path: Path) -> Path:
    """production.toon with a budget far above the traffic: the time line's axis is log."""
    text = (POLICIES / "production.toon").read_text(encoding="utf-8")
    path = tmp_path / "roomy.toon"
    path.write_text(text.replace("\n  200\n", "\n  10000000\n", 1), encoding="utf-8")
    return path


def test_reports_read_right_in_the_browser(tmp_path: Path) -> None:
    corpus, gaps = load_report_corpus([str(CORPUS)])
    roomy = load_subject(str(_roomy(tmp_path)))
    explain = explain_document(
        [explain_subject(roomy, corpus, corpus_label="corpus", missing=gaps)], "html"
    )
    old = load_subject(str(POLICIES / "production.toon"))
    diff = diff_document(diff_subjects(old, roomy, corpus, corpus_label="corpus"), "html")
    for name, html in (("explain", explain), ("diff", diff)):
        found = _laid_out(tmp_path, html, name)
        assert found["charts"] == 3 and isinstance(found["axes"], int) and found["axes"] >= 3
        assert found["mathText"] == [], name  # raw math text instead of tick labels
        assert found["noTicks"] == [], name
        assert found["svgText"] == [], name  # chart text cut at the chart's edge
        assert found["overflow"] == [], name  # text wider than its box
    # The <title> and the one heading: the page says it once.
    assert explain.count("Nectar report: production-sampling") == 2
    shot = tmp_path / "diff.png"
    _chromium(tmp_path, tmp_path / "diff.html", f"--screenshot={shot}", "--window-size=1200,3000")
    assert shot.stat().st_size > 10_000


def test_layout_checks_would_catch_overflow_and_math_text(tmp_path: Path) -> None:
    """The checks are live: a planted overflowing cell and raw math labels are reported."""
    html = explain_document([quickstart_report("production.toon")], "html")
    planted = html.replace("<td>", '<td style="white-space:nowrap;max-width:5em">' + "x" * 300, 1)
    planted = planted.replace("</text>", "$\\mathdefault{10^{4}}$</text>", 1)
    found = _laid_out(tmp_path, planted, "planted")
    assert found["overflow"] and found["mathText"]
