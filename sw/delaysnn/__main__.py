"""`python -m delaysnn ...`, the same as the `delaysnn` console script."""

import sys

from .cli import main

sys.exit(main())
