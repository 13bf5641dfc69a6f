"""The pytest plugin on a corpus stored in partitions: the proofs run on it, and the items
that need every row in memory (simulations, reconciling) are skipped, saying why."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.gate_support import ROOT


def test_partitioned_corpus_items(tmp_path: Path) -> None:
    project = tmp_path / "quickstart"
    shutil.copytree(ROOT / "examples" / "quickstart", project)
    config = project / "pyproject.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace('corpus = "corpus/"', 'corpus = "corpus/"\npartition_rows = 50', 1),
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "SKIPPED [1] policies/checkout.toon:15: the corpus is stored in partitions (its input "
        "is estimated at over 50 events, [tool.nectar] partition_rows); a simulation learns "
        "its traffic from the corpus's rows: raise partition_rows to hold it in memory"
    ) in done.stdout
    assert "44 passed, 3 skipped" in done.stdout
