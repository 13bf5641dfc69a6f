"""Fuzz tests: every parser and reader ends in a result or a NectarError, within bounds.

One test per target of tests/fuzz_targets.py (match expressions, actions, policies, rules files
in YAML, JSON and TOML, OTLP, Jaeger, Zipkin, Honeycomb and JSON Lines corpora), plus match
expressions generated from the grammar itself.  Bounded and deterministic in the normal suite;
``NECTAR_FUZZ_EXAMPLES=N`` runs N random examples per test.  The long round that does not stop
at the first find is tests/fuzz_round.py.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_nectar.errors import NectarError
from tests.fuzz_support import DrawChooser, fuzz_settings, match_texts, within_bounds
from tests.fuzz_targets import NASTY_VALUES, SWEEP, TARGETS, node_paths, replaced, run_match


@pytest.mark.parametrize("name", sorted(TARGETS))
@fuzz_settings(200)
@given(data=st.data())
def test_fuzz_target(name: str, data: st.DataObject) -> None:
    target = TARGETS[name]
    text = target.generate(DrawChooser(data.draw))
    with within_bounds(f"{name} {text[:100]!r}"):
        target.run(text)


@fuzz_settings(150)
@given(match_texts())
def test_fuzz_match_expressions_from_the_grammar(text: str) -> None:
    with within_bounds(f"match {text[:100]!r}"):
        run_match(text)


def test_only_nectar_errors_pass_the_invariant() -> None:
    # The invariant is not vacuous: anything else escapes within_bounds.
    with pytest.raises(ValueError, match="boom"), within_bounds("x"):
        raise ValueError("boom")
    with within_bounds("y"):
        raise NectarError("fine")


@pytest.mark.parametrize("name", sorted(SWEEP))
def test_every_node_replaced_by_each_nasty_value(name: str) -> None:
    # Systematic where the random tests are not: wrong shapes found so far were one node off.
    doc, serialise, run = SWEEP[name]
    for path in node_paths(doc):
        for value in NASTY_VALUES:
            with within_bounds(f"{name} {path} = {value!r:.40}"):
                run(serialise(replaced(doc, path, value)))
