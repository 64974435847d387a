"""Output files: checked before any work, written atomically (a temporary file renamed over the target).

`check_outputs` refuses, before a run starts, every output that would lose
data or cannot be written: an empty name, a folder, a device, FIFO or socket,
a file that is one of the run's inputs or another of its outputs (with
`--force` or not), a file rgou reads by default (the installed package's
models and settings, the cache folder's solved tables, unless the output is
a table), an existing file without `--force`, a folder that cannot be
written to. `atomic_write` then writes through a temporary file beside
the target: a failed or interrupted write leaves the target as it was and
removes the temporary file; `atomic_write_many` and `write_together` replace
several files together, all or none. Temporary files are named
``.NAME.rgou-HOST-PID-XXXX.tmp``: one left by a killed run (SIGKILL, a machine taken away) is removed by the next
run into the same output once its process is gone. Files get the usual
permissions (0666 less the umask), not mkstemp's private 0600; a symlinked
target is written through the link.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import stat
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from rgou._validate import check_bool, shown

PathLike = str | os.PathLike[str]
PACKAGE_DIR = Path(__file__).resolve().parent  # the installed package: its data folder holds the shipped models
TABLE_PARTS = (".table", ".table.partial")  # a solved table in the cache folder, and an unfinished solve's folder
TEMP_MARK = ".rgou-"  # in every temporary file's name: .NAME.rgou-HOST-PID-XXXX.tmp
TEMP_SUFFIX = ".tmp"
OLD_SUFFIX = f"-old{TEMP_SUFFIX}"  # the old file, kept aside while files written together are renamed into place


def file_path(name: str, value: object) -> Path:
    """A file name given as a str or path, as a Path; else a TypeError naming the argument."""
    if isinstance(value, (str, os.PathLike)):
        return Path(value)
    raise TypeError(f"{name} must be a file name (a str or path), got {shown(value)}")


def check_inputs(inputs: object) -> list[tuple[str, Any]]:
    """(option, path) pairs a run reads and no output may overwrite, as a list; else a TypeError."""
    if not isinstance(inputs, (list, tuple)) or not all(isinstance(i, (list, tuple)) and len(i) == 2 for i in inputs):
        raise TypeError(f"inputs must be (option, path) pairs, such as (('--config', 'c.json'),), got {shown(inputs)}")
    return [tuple(pair) for pair in inputs]


def path_list(name: str, value: object) -> list[str]:
    """File names given as one (a str or path) or several (a list or tuple), as a list of str; else TypeError."""
    if isinstance(value, (str, os.PathLike)):
        return [os.fspath(value)]
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, os.PathLike)) for v in value):
        return [os.fspath(v) for v in value]
    raise TypeError(f"{name} must be a file name or a list of file names, got {shown(value)}")


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import: os.umask can only be read by setting it


def _host() -> str:
    return "".join(c if c.isalnum() else "_" for c in socket.gethostname())[:32] or "host"


NAME_KEPT = 96  # of a long output name in its temporary files' names: a name's 255 bytes must hold the rest too


def _temp_prefix(target: Path) -> str:
    name = target.name
    if len(name.encode()) > NAME_KEPT + 32:  # a legal name, too long with the temporary file's marks around it
        name = f"{name.encode()[:NAME_KEPT].decode(errors='ignore')}~{hashlib.sha1(name.encode()).hexdigest()[:8]}"
    return f".{name}{TEMP_MARK}{_host()}-"


def _mkstemp(target: Path) -> tuple[int, str]:
    """A new temporary file beside `target` (whose parents are created), named for this process."""
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(target)
    return tempfile.mkstemp(prefix=f"{_temp_prefix(target)}{os.getpid()}-", suffix=TEMP_SUFFIX, dir=target.parent)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return pid > 0  # someone else's process (or a pid out of range: not alive)
    return True


def remove_stale_temps(target: PathLike) -> int:
    """Remove the temporary files of writes into `target` by processes of this host that are gone; their count."""
    target = Path(target)
    prefix = _temp_prefix(target)
    removed = 0
    try:
        names = os.listdir(target.parent)
    except OSError:
        return 0
    for name in names:
        if not (name.startswith(prefix) and name.endswith(TEMP_SUFFIX)):
            continue
        pid = name[len(prefix) :].split("-", 1)[0]
        if pid.isdecimal() and not _process_alive(int(pid)):
            with suppress(OSError):
                if name.endswith(OLD_SUFFIX) and not os.path.lexists(target):  # killed between its two renames
                    os.replace(target.parent / name, target)  # the old file, put back
                else:
                    os.unlink(target.parent / name)
                removed += 1
    return removed


def _check_regular(path: Path, what: str) -> None:
    """`path` is absent or a regular file (a symlink to one counts), else ValueError."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as e:
        raise ValueError(f"{what} {path}: cannot be checked ({e.strerror})") from None
    if stat.S_ISDIR(mode):
        raise ValueError(f"{what} {path} is a directory; give a file name")
    if not stat.S_ISREG(mode):
        raise ValueError(f"{what} {path} is not a regular file (a device, FIFO or socket); give a file name")


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)  # hard links
    except OSError:
        return False


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/rgou, or ~/.cache/rgou: the solved tables that commands read by default."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "rgou"


def _default_input(path: Path, table_output: bool) -> str | None:
    """What `path` is among the files rgou reads when no option names them, or None.

    The installed package's files (the shipped models, the heuristic's and
    the presets' settings) and, unless the output is itself a solved table,
    the cache folder's tables and unfinished solves. Symlinks are followed
    (a write goes through them); a hard link is not a table's name, and
    writing it replaces the name, not the table.
    """
    resolved = path.resolve()
    if resolved.is_relative_to(PACKAGE_DIR):
        return "inside rgou's installed package (its shipped models and settings)"
    if table_output:
        return None
    cache = cache_dir().resolve()
    if resolved.is_relative_to(cache) and any(part.endswith(TABLE_PARTS) for part in resolved.relative_to(cache).parts):
        return f"a solved table of rgou's cache folder {cache}, which commands read by default"
    return None


def _probe_writable(path: Path, what: str) -> None:
    """Create and remove a file in `path`'s folder (or a folder in its nearest existing ancestor)."""
    _probe_folder(path.parent, f"{what} {path}", f"{_temp_prefix(path)}{os.getpid()}-")


def check_writable_folder(folder: PathLike, what: str) -> None:
    """Refuse, before any work, a folder that cannot be made or written to (`what` names it in the error)."""
    _probe_folder(Path(folder), f"{what} {folder}")


def _probe_folder(folder: Path, named: str, file_prefix: str | None = None) -> None:
    """Create and remove a file (file_prefix) in `folder`, or a folder in its nearest existing ancestor."""
    parent = folder
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"{named}: {parent} is not a directory")
    try:
        if parent == folder and file_prefix is not None:
            fd, probe = tempfile.mkstemp(prefix=file_prefix, suffix=TEMP_SUFFIX, dir=parent)
            os.close(fd)
            os.unlink(probe)
        else:
            os.rmdir(tempfile.mkdtemp(prefix=".rgou-probe-", dir=parent))
    except OSError as e:
        raise ValueError(f"{named}: cannot write in {parent} ({e.strerror})") from None


def check_outputs(
    outputs: Mapping[str, PathLike | None],
    inputs: Iterable[tuple[str, PathLike]] = (),
    force: bool = False,
    may_exist: Iterable[str] = (),
    tables: Iterable[str] = (),
) -> dict[str, Path]:
    """Refuse, before any work, outputs that would lose data or cannot be written; their paths.

    outputs: option name -> path (None: not asked for); inputs: (option name,
    path) pairs the run reads. An output may not be empty, a folder, a special
    file, an input or another output; an existing one needs `force` (or its
    option in `may_exist`, e.g. --out with --resume); its folder must be
    writable. No output may be a file rgou reads by default: one inside the
    installed package, or a solved table of the cache folder unless its
    option is in `tables` (the options that write solved tables). Stale
    temporary files of earlier writes into it are removed.
    """
    force = check_bool("force", force)
    checked: dict[str, Path] = {}
    inputs = [(name, file_path(name, p)) for name, p in check_inputs(inputs) if p is not None and str(p) != ""]
    allowed = set(may_exist)
    table_options = set(tables)
    for option, raw in outputs.items():
        if raw is None:
            continue
        file_path(option, raw)  # a str or path, else a TypeError naming the option
        text = os.fspath(raw)  # as given: Path("") would be "."
        if text.strip() == "":
            raise ValueError(f"{option} is empty; give a file name")
        if text == "-":  # a file named "-" is never what was meant (`rgou review --json -` prints instead)
            raise ValueError(f"{option} -: standard output is not an output of this option; give a file name")
        if text.endswith(("/", "\\")):
            raise ValueError(f"{option} {text} is a directory; give a file name")
        path = Path(text)
        _check_regular(path, option)
        reserved = _default_input(path, option in table_options)
        if reserved is not None:
            raise ValueError(f"{option} {text} is {reserved}: refusing to overwrite it; give another file")
        for name, source in inputs:
            if _same_file(path, source):
                raise ValueError(f"{option} {text} is also the input {name}: refusing to overwrite an input")
        for name, other in checked.items():
            if _same_file(path, other):
                raise ValueError(f"{option} and {name} are the same file {text}; give two files")
        if path.exists() and not force and option not in allowed:
            raise ValueError(f"{option} {text} exists; pass --force to overwrite it")
        _probe_writable(path, option)
        remove_stale_temps(path)
        checked[option] = path
    return checked


def _named(error: OSError, target: PathLike) -> OSError:
    """The error of writing a temporary file, naming the user's output instead."""
    return OSError(error.errno, f"cannot write {target}: {error.strerror or error}")


@contextmanager
def atomic_write(path: PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file for writing; on success it replaces `path` (parents are created).

    `path` must be absent or a regular file: a device or FIFO is never replaced.
    """
    path = file_path("path", path)
    if os.fspath(path) in ("", "."):
        raise ValueError("an output file needs a name")
    _check_regular(path, "output")
    path = path.resolve()
    fd, tmp = _mkstemp(path)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            _seal(handle, tmp)
        os.replace(tmp, path)
    except BaseException as e:
        _discard([tmp])
        if isinstance(e, OSError):
            raise _named(e, path) from e
        raise
    with suppress(OSError):  # make the rename itself durable
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


_HELD = threading.local()  # how deep in deferred_interrupts this thread is


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold back Ctrl-C (SIGINT) and SIGTERM during a block and raise KeyboardInterrupt after (main thread only).

    Nested blocks hold them until the outermost one ends (an inner one raising at its own end let a signal
    cut the outer block short: `rgou train` wrote its run folder's reports, then skipped --json).
    """
    if threading.current_thread() is not threading.main_thread() or getattr(_HELD, "depth", 0):
        yield
        return
    _HELD.depth = 1
    try:
        with _held_signals():
            yield
    finally:
        _HELD.depth = 0


@contextmanager
def _held_signals() -> Iterator[None]:
    caught: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = [signal.signal(signum, lambda signum, frame: caught.append(signum)) for signum in held]
    try:
        yield
    finally:
        try:  # a signal that comes once SIGINT's handler is back raises here: SIGTERM's is put back all the same
            signal.signal(signal.SIGINT, previous[0])
        finally:
            signal.signal(signal.SIGTERM, previous[1])
    if caught:
        raise KeyboardInterrupt


@contextmanager
def atomic_write_many(paths: list[PathLike], modes: list[str]) -> Iterator[list[IO]]:
    """Open temporary files for several targets; on success they replace their targets together.

    Either every target is new or every target is as it was: the renames run
    with Ctrl-C held back, and a failed rename puts the old files back.
    """
    targets = _distinct_targets(paths)
    temps: list[str] = []
    handles: list[IO] = []
    try:
        for target, mode in zip(targets, modes):
            fd, tmp = _mkstemp(target)
            temps.append(tmp)
            handles.append(os.fdopen(fd, mode))
        yield handles
        for handle, tmp in zip(handles, temps):
            _seal(handle, tmp)
        with deferred_interrupts():
            _replace_all(temps, targets)
    except BaseException as e:
        for handle in handles:
            with suppress(OSError):
                handle.close()
        _discard(temps)
        if isinstance(e, OSError):
            raise _named(e, _group_name(paths)) from e
        raise


def write_together(contents: Mapping[PathLike, str | bytes]) -> None:
    """Write every file of `contents` (path -> its text or bytes) whole, or none of them.

    Each is written to a temporary file beside it first, one at a time (any
    number of files, one open at once); then all are renamed together with
    signals held. A failure (a full disk, a folder that cannot be written)
    removes the temporary files and leaves every target as it was, naming the
    file it was writing.
    """
    targets = _distinct_targets(list(contents))
    temps: list[str] = []
    writing = None  # the output being written, as given (an error names it)
    try:
        for given, target, content in zip(contents, targets, contents.values()):
            writing = given
            fd, tmp = _mkstemp(target)
            temps.append(tmp)
            with os.fdopen(fd, "w" if isinstance(content, str) else "wb") as handle:
                handle.write(content)
                _seal(handle, tmp)
        writing = None
        with deferred_interrupts():
            _replace_all(temps, targets)
    except BaseException as e:
        _discard(temps)
        if isinstance(e, OSError):
            raise _named(e, writing if writing is not None else _group_name(list(contents))) from e
        raise


def _seal(handle: IO, tmp: str) -> None:
    """Flush a temporary file to disk and close it, with the usual permissions (0666 less the umask)."""
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()
    os.chmod(tmp, 0o666 & ~_UMASK)


def _discard(temps: list[str]) -> None:
    """Remove the temporary files of a write that failed or was interrupted."""
    for tmp in temps:
        with suppress(FileNotFoundError):
            os.unlink(tmp)


def _group_name(paths: list[PathLike]) -> str:
    """A group of outputs in an error: every file of a few, the first and a count of many."""
    names = [os.fspath(p) for p in paths]
    return ", ".join(names) if len(names) <= 3 else f"{names[0]} and {len(names) - 1} other files"


def _distinct_targets(paths: list[PathLike]) -> list[Path]:
    """The resolved targets of a group of outputs: regular files or absent, no two the same."""
    for p in paths:
        _check_regular(Path(p), "output")
    targets = [Path(p).resolve() for p in paths]
    if len(set(targets)) != len(targets):
        raise ValueError(f"the output files must differ, got {', '.join(map(str, paths))}")
    return targets


def _replace_all(temps: list[str], targets: list[Path]) -> None:
    """Rename every temp over its target; on failure restore the targets replaced so far."""
    backups: list[tuple[Path, str | None]] = []
    try:
        for tmp, target in zip(temps, targets):
            backup = None
            if target.exists():
                backup = f"{tmp.removesuffix(TEMP_SUFFIX)}{OLD_SUFFIX}"  # a stale one is removed as temps are
                try:
                    os.link(target, backup)  # the old file stays reachable until all renames succeeded
                except OSError:  # a file system without hard links (FAT, many network and FUSE ones)
                    os.replace(target, backup)
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
