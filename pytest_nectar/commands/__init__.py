"""Sub-commands of the ``nectar`` CLI, one module each (see :mod:`pytest_nectar.cli`)."""
