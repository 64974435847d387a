"""`python -m rgou.bench`: SIGTERM ends it as Ctrl-C does, with status 130 and no traceback."""

import sys

from rgou.bench import main
from rgou.cli import _terminate_as_interrupt

try:
    with _terminate_as_interrupt():
        main()
except KeyboardInterrupt:
    print("python -m rgou.bench: interrupted", file=sys.stderr)
    sys.exit(130)
