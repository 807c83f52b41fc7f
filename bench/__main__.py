"""``python -m bench``: run the benchmark harness (see :mod:`bench.harness`)."""

import sys

from bench.harness import main

sys.exit(main())
