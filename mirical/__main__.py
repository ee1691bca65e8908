"""``python -m mirical``: the mirical command line (see mirical.cli)."""
import sys

from mirical.cli import main

sys.exit(main())
