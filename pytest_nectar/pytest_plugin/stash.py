"""The session's Nectar state, kept in ``config.stash`` and built on first use.

Its own module so that the hooks, the collectors and the items all reach it without
importing one another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import pytest

if TYPE_CHECKING:
    from pytest_nectar.pytest_plugin.session import NectarSession, NectarSettings

__all__ = ["session_of"]

_SESSION_KEY: Final = pytest.StashKey["NectarSession"]()


def session_of(config: pytest.Config) -> NectarSession:
    """The session's Nectar state, built (configuration read) on first use."""
    found = config.stash.get(_SESSION_KEY, None)
    if found is None:
        from pytest_nectar.pytest_plugin.session import NectarSession

        found = NectarSession(_settings(config))
        config.stash[_SESSION_KEY] = found
    return found


def _settings(config: pytest.Config) -> NectarSettings:
    from pytest_nectar.errors import NectarError
    from pytest_nectar.pytest_plugin.options import settings_from

    try:
        return settings_from(config.rootpath, config.getoption)
    except NectarError as err:
        raise pytest.UsageError(err.render()) from None
