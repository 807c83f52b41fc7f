import sys

from erroranalysis.cli import main

sys.exit(main())
