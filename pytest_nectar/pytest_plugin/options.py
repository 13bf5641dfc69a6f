"""The plugin's settings: the project's ``[tool.nectar]`` table, then ``--nectar-*`` options.

The table is read by :mod:`pytest_nectar.project.config` (the one reader, shared with the CLI);
this module only maps it, and the command line, to :class:`NectarSettings`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_nectar.project.settings import (
    SEED_OPTION,
    WITNESSES_OPTION,
    load_settings,
    option_dest,
    plugin_options,
)
from pytest_nectar.pytest_plugin.session import NectarSettings

__all__ = ["settings_from"]


def settings_from(rootdir: Path, option: Callable[[str], Any]) -> NectarSettings:
    """Settings for a session: ``[tool.nectar]`` (found from ``rootdir``), then options.

    One declaration (:mod:`pytest_nectar.project.settings`) and one merge, shared with the
    CLI: option values are validated by the same converters as the config file's.
    """
    base = load_settings(rootdir)
    given = {spec.key: option(option_dest(name)) for name, spec in plugin_options()}
    if given.get("strict") is False:
        given["strict"] = None  # store_true: absent, not "false"
    project = base.with_options(plugin=True, **given)
    seed = None
    raw_seed = option(option_dest(SEED_OPTION))
    if raw_seed is not None:
        from pytest_nectar.vopr.rng import parse_seed

        seed = parse_seed(str(raw_seed))
    witnesses = option(option_dest(WITNESSES_OPTION))
    configured = base.path is not None or any(
        v not in (None, [], False) for v in (*given.values(), raw_seed, witnesses)
    )
    return NectarSettings(
        root=project.root.resolve(),
        config_file=project.path,
        policies=project.policies,
        corpus=tuple(project.corpus or ()),
        rules=project.rules,
        lock=project.lock,
        seeds=project.seeds,
        campaigns=project.campaigns,
        window_s=project.window_s,
        seed=seed,
        strict=project.strict,
        witnesses=max(1, int(witnesses)) if witnesses is not None else 3,
        project=project,
        configured=configured,
        warnings=project.warnings,
    )
