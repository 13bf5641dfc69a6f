"""nectar explain: the same numbers in every format, agreeing with `nectar replay`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_nectar.compiler.compile import compile_policies
from pytest_nectar.policy.parser import load_policy
from pytest_nectar.report import numbers as n
from pytest_nectar.report.render import explain_document
from tests.report_support import CORPUS, POLICIES, quickstart_report


def _replay_totals(policy: str, tmp_path: Path) -> dict[str, dict[str, float]]:
    compiled = compile_policies([load_policy(POLICIES / policy)])
    rules = tmp_path / "rules.yaml"
    rules.write_text(compiled.text, encoding="utf-8")
    env = next(iter(e for e in compiled.environments.values() if e.policy is not None))
    out = subprocess.run(
        [sys.executable, "-m", "pytest_nectar", "replay", str(rules), "--corpus", str(CORPUS),
         "--env", env.environment, "--json", "--totals-only"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return {t["rule"]: t for t in json.loads(out.stdout)["totals"]}


@pytest.mark.parametrize("policy", ["production.toon", "checkout.toon"])
def test_rule_figures_agree_with_replay(policy: str, tmp_path: Path) -> None:
    report = quickstart_report(policy)
    replay = _replay_totals(policy, tmp_path)
    assert report.totals is not None
    for row in report.rules:
        parts = [replay[name] for name in row.compiled]
        assert row.traces == sum(p["traces"] for p in parts)
        assert row.events == sum(p["events"] for p in parts)
        assert row.kept_traces == pytest.approx(sum(p["expected_kept_traces"] for p in parts))
        assert row.kept_events == pytest.approx(sum(p["expected_kept_events"] for p in parts))
    assert report.totals.kept_events == pytest.approx(
        sum(t["expected_kept_events"] for t in replay.values())
    )
    assert report.totals.traces == sum(t["traces"] for t in replay.values()) == 340


def test_production_numbers() -> None:
    report = quickstart_report("production.toon")
    t, b = report.totals, report.budget
    assert t is not None and b is not None
    assert [r.name for r in report.rules] == ["keep-errors", "keep-slow", "sample-rest"]
    assert [r.traces for r in report.rules] == [38, 0, 302]
    assert report.rules[2].effective_rate == pytest.approx(0.01)
    # the report's error expression is the default (default_errors): every one of the 38
    # traces keep-errors keeps is an error trace
    assert t.error_traces == 38 and t.error_share_kept == 1.0 and t.error_traces_at_risk == 0
    assert b.mean_events_per_s == pytest.approx(t.kept_events / t.duration_s, rel=1e-6)
    assert sum(r.kept_events_per_s or 0 for r in report.rules) == pytest.approx(b.mean_events_per_s)
    assert sum(r.share_of_kept_events or 0 for r in report.rules) == pytest.approx(1.0)
    assert b.within is True and b.budget_per_second == 200
    assert report.rules[0].meaning == (
        "traces where it is an error by the default error criteria (OpenTelemetry's "
        "conventions) or any span has HTTP status 500 or more"
    )
    assert report.rules[0].examples[0] == "0bb956faf826388354805fc1c775669e"
    services = {s.service: s for s in report.services}
    assert sum(s.events for s in report.services) == t.events
    assert services["checkout"].effective_rate is not None
    assert {v.id for v in report.verdicts} >= {"error-preservation", "budget", "fallback"}


def _shown_numbers(report_name: str) -> list[str]:
    report = quickstart_report(report_name)
    assert report.totals is not None and report.budget is not None
    shown = [n.per_second(report.budget.mean_events_per_s), n.count(report.totals.kept_events)]
    for row in report.rules:
        shown += [n.count(row.traces), n.count(row.kept_events), row.name]
        shown += [n.percent(row.share_of_kept_events), n.per_second(row.kept_events_per_s)]
        shown += [n.probability(row.effective_rate)]
    for s in report.services:
        shown += [s.service, n.percent(s.effective_rate), n.count(s.kept_events)]
    return shown


@pytest.mark.parametrize("policy", ["production.toon", "checkout.toon"])
def test_every_format_shows_the_same_numbers(policy: str) -> None:
    report = quickstart_report(policy)
    docs = {fmt: explain_document([report], fmt) for fmt in ("text", "md", "html", "json")}
    for token in _shown_numbers(policy):
        for fmt in ("text", "md", "html"):
            assert token in docs[fmt], (fmt, token)
    data = json.loads(docs["json"])["reports"][0]
    assert data["budget"]["mean_events_per_s"] == pytest.approx(report.budget.mean_events_per_s)  # type: ignore[union-attr]
    for row, jrow in zip(report.rules, data["rules"], strict=True):
        assert n.count(jrow["kept_events"]) == n.count(row.kept_events)
        assert n.percent(jrow["share_of_kept_events"]) == n.percent(row.share_of_kept_events)
        assert jrow["examples"] == list(row.examples)
    assert len(data["services"]) == len(report.services)


def test_json_is_deterministic() -> None:
    report = quickstart_report("production.toon")
    assert explain_document([report], "json") == explain_document([report], "json")
    assert explain_document([report], "md") == explain_document([report], "md")


def test_checkout_calls_out_unreachable_rules_and_hazards() -> None:
    report = quickstart_report("checkout.toon")
    assert report.unreachable == ("keep-slow-cart", "keep-big")
    # Every condition reading http.status_code has a Datatype: its mixed types are no hazard.
    assert not any(h.startswith("mixed-types") for h in report.hazards)
    keep_errors = next(r for r in report.rules if r.name == "keep-errors")
    # every `or` alternative (six in default_errors) compiled into its own Refinery rule,
    # all counted in one row
    assert keep_errors.match == "default_errors or http.status >= 500"
    splits = [f"keep-errors#{i}" for i in range(2, 6 + 2)]
    assert keep_errors.compiled == ("keep-errors", *splits)
    assert keep_errors.meaning.startswith(
        "traces where it is an error by the default error criteria (OpenTelemetry's conventions)"
    )
    slow = next(r for r in report.rules if r.name == "keep-slow-cart")
    assert slow.meaning.startswith('traces with one span where HTTP route is "/api/cart"')
