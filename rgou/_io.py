"""Atomic file writes: a temporary file in the target's folder, renamed over it.

A failed or interrupted write leaves the target as it was and removes the
temporary file; `atomic_write_many` replaces several files together. Files
get the usual permissions (0666 less the umask), not mkstemp's private 0600;
a symlinked target is written through the link.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import: os.umask can only be read by setting it


@contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file for writing; on success it replaces `path` (parents are created)."""
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with suppress(OSError):  # make the rename itself durable
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold back Ctrl-C (SIGINT) during a block and raise it after (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


@contextmanager
def atomic_write_many(paths: list[str | os.PathLike[str]], modes: list[str]) -> Iterator[list[IO]]:
    """Open temporary files for several targets; on success they replace their targets together.

    Either every target is new or every target is as it was: the renames run
    with Ctrl-C held back, and a failed rename puts the old files back.
    """
    targets = [Path(p).resolve() for p in paths]
    if len(set(targets)) != len(targets):
        raise ValueError(f"the output files must differ, got {', '.join(map(str, paths))}")
    temps: list[str] = []
    handles: list[IO] = []
    try:
        for target, mode in zip(targets, modes):
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            temps.append(tmp)
            handles.append(os.fdopen(fd, mode))
        yield handles
        for handle, tmp in zip(handles, temps):
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            os.chmod(tmp, 0o666 & ~_UMASK)
        with deferred_interrupts():
            _replace_all(temps, targets)
    except BaseException:
        for handle in handles:
            handle.close()
        for tmp in temps:
            with suppress(FileNotFoundError):
                os.unlink(tmp)
        raise


def _replace_all(temps: list[str], targets: list[Path]) -> None:
    """Rename every temp over its target; on failure restore the targets replaced so far."""
    backups: list[tuple[Path, str | None]] = []
    try:
        for tmp, target in zip(temps, targets):
            backup = None
            if target.exists():
                backup = f"{tmp}.old"
                os.link(target, backup)  # the old file stays reachable until all renames succeeded
            backups.append((target, backup))
            os.replace(tmp, target)
    except BaseException:
        for target, backup in reversed(backups):
            if backup is None:
                with suppress(FileNotFoundError):
                    os.unlink(target)
            else:
                os.replace(backup, target)
        raise
    finally:
        for _, backup in backups:
            if backup is not None:
                with suppress(FileNotFoundError):
                    os.unlink(backup)
