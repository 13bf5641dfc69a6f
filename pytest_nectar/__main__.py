import sys

from pytest_nectar.cli import main

sys.exit(main())
