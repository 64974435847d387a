"""Command line: `rgou generate | analyze | convert | ...` (also `python -m rgou ...`).

The one place that prints and exits; library code returns values and raises.
`args` builds the parser, `commands` holds one function per command: it
calls the command's library entry and prints around it. Errors name the
option or the file; exit status 2 for bad input, 130 for Ctrl-C, 141 when
the reader of the output went away.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rgou.cli.args import build_parser
from rgou.cli.commands import EXIT_BAD_INPUT, EXIT_INTERRUPTED

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader closed the pipe

__all__ = ["build_parser", "main", "run"]


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (kill, timeout, a batch scheduler's stop) ends a command as Ctrl-C does: cleanly."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _silence_stdout() -> None:
    """Point stdout at /dev/null: the interpreter's final flush into a closed pipe would print a traceback."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with _terminate_as_interrupt():
            return args.func(args)
    except BrokenPipeError:  # the reader went away (`rgou analyze ... | head`): stop quietly, as other tools do
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except (ValueError, OSError, OverflowError) as e:
        print(f"rgou {args.command}: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"rgou {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def run() -> None:
    """The `rgou` command: `main`, then exit with its status.

    Once the command has returned, its files are written and its status is
    known: a Ctrl-C or SIGTERM during the interpreter's exit would only turn a
    finished run's status into a signal's, so they are ignored from then on.
    """
    status = main()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    sys.exit(status)


if __name__ == "__main__":
    run()
