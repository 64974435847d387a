"""`python -m rgou ...` is `rgou ...`."""

import sys

from rgou.cli import main

sys.exit(main())
