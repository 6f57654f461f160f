"""``python -m foldgraph``: the command line."""

import sys

from foldgraph.cli import main

sys.exit(main())
