"""Progress display for slow steps: only on an interactive terminal, never in CI or a pipe.

A step shows a transient spinner with elapsed time on stderr, and only once it has run for
:data:`DELAY_S` (fast steps print nothing); work of known size (a VOPR campaign's jobs)
shows a bar with the time remaining.  Disabled when stderr is not a terminal, when
``CI`` or ``GITHUB_ACTIONS`` is set (logs must stay clean), or when ``NO_COLOR``/``TERM=dumb``
ask for plain output.  Nothing is written to stdout, so reports stay byte-identical.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final, TextIO

__all__ = ["DELAY_S", "Progress", "progress_wanted"]

#: A step shows progress only after this long.
DELAY_S: Final = 1.0


def progress_wanted(stream: TextIO | None = None, env: dict[str, str] | None = None) -> bool:
    """Whether a progress display belongs on ``stream`` (stderr by default)."""
    stream = stream if stream is not None else sys.stderr
    env = env if env is not None else dict(os.environ)
    if env.get("CI") or env.get("GITHUB_ACTIONS") or env.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Progress:
    """Transient rich progress for named steps (see the module docstring)."""

    def __init__(self, *, enabled: bool | None = None, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = progress_wanted(self.stream) if enabled is None else enabled

    @contextmanager
    def step(self, description: str) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        from rich.console import Console
        from rich.progress import Progress as RichProgress
        from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

        display = RichProgress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=Console(file=self.stream),
            transient=True,
        )
        display.add_task(description, total=None)
        started = threading.Event()

        def show() -> None:
            display.start()
            started.set()

        timer = threading.Timer(DELAY_S, show)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            if started.is_set() or timer.is_alive():
                timer.join()
            if started.is_set():
                display.stop()

    @contextmanager
    def bar(self, description: str, total: float) -> Iterator[Callable[[float], None]]:
        """A bar of ``total`` units with the time remaining; yields ``advance(units)``."""
        if not self.enabled or total <= 0:
            yield lambda _units: None
            return
        from rich.console import Console
        from rich.progress import BarColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
        from rich.progress import Progress as RichProgress

        display = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=Console(file=self.stream),
            transient=True,
        )
        task = display.add_task(description, total=total)
        lock = threading.Lock()
        display.start()
        try:

            def advance(units: float) -> None:
                with lock:
                    display.advance(task, units)

            yield advance
        finally:
            display.stop()
