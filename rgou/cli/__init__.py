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

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_OUT_OF_MEMORY = 1  # what Python itself returns for an uncaught MemoryError
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader closed the pipe

__all__ = ["main", "run"]


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


class _BestEffort:
    """stderr while a command runs: notes, progress, warnings and errors are best effort.

    A write that fails (a full disk under a log, `2>&-`) is dropped: it ended the
    run before its work, printing nothing, where the files and the exit status
    are what a caller reads.
    """

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except (OSError, ValueError, AttributeError):  # a full disk, a closed stream, none at all
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except (OSError, ValueError, AttributeError):
            pass

    def isatty(self) -> bool:
        try:
            return self._stream.isatty()
        except (OSError, ValueError, AttributeError):
            return False

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    kind = "" if category.__module__.startswith("rgou") else f"{category.__name__}: "  # rgou's own: plain
    return f"rgou: warning: {kind}{message}\n"


@contextmanager
def _quiet_failures() -> Iterator[None]:
    """stderr as `_BestEffort`, warnings on one line each (the command's own output, not a traceback's)."""
    import warnings

    stderr, formatwarning = sys.stderr, warnings.formatwarning
    sys.stderr, warnings.formatwarning = _BestEffort(stderr), _one_line_warning
    try:
        yield
    finally:
        sys.stderr, warnings.formatwarning = stderr, formatwarning


def main(argv: list[str] | None = None) -> int:
    from rgou.cli.args import build_parser  # NumPy and Numba load here, within `run`'s handling of Ctrl-C

    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # said by the parser they were given to: "rgou train: error:" and its usage line, or rgou's
        given = list(sys.argv[1:] if argv is None else argv)
        before = given[: given.index(args.command)] if args.command in given else given
        owner = parser if any(word in before for word in unknown) else args.commands[args.command]
        owner.error(f"unrecognized arguments: {' '.join(unknown)}")
    with _quiet_failures():
        try:
            with _terminate_as_interrupt():
                return args.func(args)
        except BrokenPipeError:  # the reader went away (`rgou analyze ... | head`): stop quietly, as other tools do
            _silence_stdout()
            return EXIT_BROKEN_PIPE
        except (ValueError, OSError, OverflowError) as e:
            print(f"rgou {args.command}: error: {e}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except MemoryError as e:
            detail = f" ({e})" if str(e) else ""
            print(f"rgou {args.command}: error: out of memory{detail}; ask for less work at once", file=sys.stderr)
            return EXIT_OUT_OF_MEMORY
        except KeyboardInterrupt:
            print(f"rgou {args.command}: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED


def run() -> None:
    """The `rgou` command: `main`, then exit with its status.

    A Ctrl-C or SIGTERM before the command begins (while its libraries load,
    most of a second) has nothing to keep: one line, status 130, as during
    the command.
    Once the command has returned, its files are written and its status is
    known: a Ctrl-C or SIGTERM during the interpreter's exit would only turn a
    finished run's status into a signal's, so they are ignored from then on.
    """
    try:
        with _terminate_as_interrupt():  # from here: SIGTERM while the libraries load is a Ctrl-C too
            status = main()
    except KeyboardInterrupt:
        print("rgou: interrupted", file=sys.stderr)
        status = EXIT_INTERRUPTED
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    sys.exit(status)


if __name__ == "__main__":
    run()
