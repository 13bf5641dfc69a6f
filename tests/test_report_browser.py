"""The HTML report in a real headless Chromium: charts drawn, no script errors.

Needs Debian's ``chromium`` package (``apt-get install -y chromium``; .ci/run installs it).
The screenshot goes to pytest's tmp_path, never into the repository.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from pytest_nectar.report.render import explain_document
from tests.report_support import quickstart_report

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
