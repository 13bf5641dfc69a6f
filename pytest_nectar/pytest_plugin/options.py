"""The plugin's settings: the project's ``[tool.nectar]`` table, then ``--nectar-*`` options.

The table is read by :mod:`pytest_nectar.project.config` (the one reader, shared with the CLI);
this module only maps it, and the command line, to :class:`NectarSettings`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_nectar.errors import Position, UsageError
from pytest_nectar.pytest_plugin.session import DEFAULT_CAMPAIGNS, NectarSettings

__all__ = ["settings_from"]


def _paths(root: Path, value: Any) -> tuple[Path, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    return tuple((root / str(v)) for v in items)


def _campaigns(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise UsageError(
            "[tool.nectar] campaigns has the wrong type",
            got=value,
            hint='write a list of campaign names, e.g. ["evolution"]',
        )
    names = tuple(v.strip() for v in value if str(v).strip())
    for name in names:
        if not name.replace("-", "").replace("_", "").isalnum():
            raise UsageError(
                "invalid campaign name", got=name, hint="letters, digits, '-' and '_' only"
            )
    return names


def settings_from(rootdir: Path, option: Callable[[str], Any]) -> NectarSettings:
    """Settings for a session: ``[tool.nectar]`` (found from ``rootdir``), then options."""
    from pytest_nectar.project.config import find_project, load_config

    project = load_config(rootdir)
    # ``campaigns`` and ``strict`` are known keys that only the plugin and prove read raw.
    found = find_project(project.root) if project.path is not None else None
    raw = found.values if found is not None else {}
    given = {
        name: option(f"nectar_{name}")
        for name in (
            "policies",
            "corpus",
            "rules",
            "lock",
            "seeds",
            "campaigns",
            "window",
            "seed",
            "strict",
            "witnesses",
        )
    }
    cwd = Path.cwd()
    # Options are relative to where pytest runs, like other pytest paths.
    policies = tuple(given["policies"] or project.policies)
    corpus = _paths(cwd, given["corpus"]) if given["corpus"] else (project.corpus or ())
    rules = cwd / given["rules"] if given["rules"] else project.rules
    lock = cwd / given["lock"] if given["lock"] else project.lock
    seeds = given["seeds"] if given["seeds"] is not None else project.seeds
    if seeds < 0:
        raise UsageError("--nectar-seeds must be a whole number >= 0", got=seeds)
    campaigns = _campaigns(
        given["campaigns"]
        if given["campaigns"] is not None
        else raw.get("campaigns", DEFAULT_CAMPAIGNS)
    )
    window = given["window"] if given["window"] is not None else project.window_s
    if not window > 0:
        raise UsageError("--nectar-window must be a positive number of seconds", got=window)
    seed = None
    if given["seed"] is not None:
        from pytest_nectar.vopr.rng import parse_seed

        seed = parse_seed(str(given["seed"]))
    strict_raw = raw.get("strict", False)
    if not isinstance(strict_raw, bool):
        raise UsageError(
            "[tool.nectar] strict has the wrong type",
            position=Position(str(project.path)),
            got=strict_raw,
            hint="write true or false",
        )
    strict = bool(given["strict"]) or strict_raw
    witnesses = given["witnesses"] if given["witnesses"] is not None else 3
    configured = project.path is not None or any(v not in (None, [], False) for v in given.values())
    return NectarSettings(
        root=project.root.resolve(),
        config_file=project.path,
        policies=policies,
        corpus=tuple(corpus),
        rules=rules,
        lock=lock,
        seeds=seeds,
        campaigns=campaigns,
        window_s=float(window),
        seed=seed,
        strict=strict,
        witnesses=max(1, int(witnesses)),
        error=project.error,
        configured=configured,
        warnings=project.warnings,
    )
