"""The README's walk-through runs as written: every command of its block, in a fresh folder,
with `nectar` found on PATH as a user has it, and the local Messages API stub for `propose`.

The installed project is this interpreter's environment (its `bin/` holds the `nectar`,
`pytest` and `pre-commit` console scripts, as after the README's set-up); PATH is that
folder and the system's, nothing else.  Each command's exit code is asserted.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_nectar.cli.init import SEED_POLICY
from tests.claude_stub import ClaudeStub, tool_reply
from tests.claude_support import FAKE_KEY, RATIONALE

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
#: Commands whose exit code is not 0, by their first words (none today).
EXPECTED_CODES: dict[str, int] = {}


def walkthrough() -> list[str]:
    """The shell commands of the README's "The whole loop" block, continuations joined."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## The whole loop") :]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None
    commands: list[str] = []
    pending = ""
    for line in block.group(1).splitlines():
        if not pending and line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        commands.append(pending + line)
        pending = ""
    return [c for c in commands if c.strip()]


def test_the_walkthrough_block_is_found() -> None:
    commands = walkthrough()
    assert commands[0].startswith('cd "$(mktemp -d)"')
    assert any(c.startswith("nectar init my-policies") for c in commands)
    assert any(c.startswith("pre-commit run --all-files") for c in commands)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.skipif(not (BIN / "nectar").exists(), reason="nectar is not installed in this env")
def test_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": f"{BIN}{os.pathsep}/usr/local/bin{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": str(home),
        "TMPDIR": str(tmp_path),
        "LANG": "C.UTF-8",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Reader",
        "GIT_AUTHOR_EMAIL": "reader@example.invalid",
        "GIT_COMMITTER_NAME": "Reader",
        "GIT_COMMITTER_EMAIL": "reader@example.invalid",
        "ANTHROPIC_API_KEY": FAKE_KEY,
        "MPLBACKEND": "Agg",
    }
    for name in ("PYTHONPATH", "NECTAR_CACHE_DIR", "NECTAR_REALDATA", "NECTAR_SHARED"):
        if os.environ.get(name):  # a development checkout run from its own tree
            env[name] = os.environ[name]
    commands = walkthrough()
    # Claude's answer: the policy nectar init wrote (it proves on the init corpus).
    with ClaudeStub([tool_reply(SEED_POLICY, RATIONALE)]) as stub:
        env["ANTHROPIC_BASE_URL"] = stub.base_url
        # One shell, so that cd carries over; each command reports its own exit code.
        script = "".join(
            f"{command}\nprintf '\\n::rc %s {index}\\n' $?\n"
            for index, command in enumerate(commands)
        )
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    codes = {
        int(index): int(code)
        for code, index in re.findall(r"^::rc (\d+) (\d+)$", done.stdout, re.M)
    }
    report = f"stdout:\n{done.stdout[-6000:]}\nstderr:\n{done.stderr[-6000:]}"
    assert sorted(codes) == list(range(len(commands))), report
    for index, command in enumerate(commands):
        expected = next((c for k, c in EXPECTED_CODES.items() if command.startswith(k)), 0)
        assert codes[index] == expected, f"{command!r} exited {codes[index]}\n{report}"
    project = Path(next(tmp_path.glob("tmp*/my-policies")))
    assert (project / ".git").is_dir()
    assert (project / "report.html").stat().st_size > 0
    request = (project / "request.json").read_text()
    assert '"messages"' in request
    assert len(stub.message_requests()) == 1  # --show-request sent nothing; --write asked once
