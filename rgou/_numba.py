"""Numba settings in one place.

Every kernel in rgou is compiled with these options: `cache=True` so that the
second run (and CI after the first test) skips compilation, and
`error_model="numpy"` so that loops that divide can be vectorised. fastmath is
off: the features, search and trainers must be bit-reproducible.

Kernels that allocate nothing say so with `njit(no_alloc=True)`: Numba then
compiles them without reference counting (its `_nrt=False` option, which
Numba does not document; tests/test_inference.py checks that the decision
path has no reference counts left). With it on, every array passed to or
viewed in a call costs an atomic increment and decrement, which took a fifth
of an ML agent's decision (the net's layers are small and called often).
Such a kernel must neither create an array nor call a kernel that does
(Numba refuses to compile the first; a callee compiles without reference
counts too, so it would fail or leak). Kernels that read a structref
(`Leaf`, `Work`) need reference counting; they read its fields once and
pass the arrays on.

Numba's cache checks only the source file of the cached function itself, so a
kernel that inlines a kernel from another module would keep the old callee
after an edit or a `git pull`. `_drop_stale_cache` therefore empties rgou's
cache whenever any of rgou's source files changed since it was written.
"""

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numba
from numba.core.cpu import CPUTargetOptions

JIT_OPTIONS = dict(nogil=True, cache=True, error_model="numpy")
# Numba's undocumented switch for reference counting; without it (a future Numba) kernels keep their counts.
NO_REFCOUNT = {"_nrt": False} if hasattr(CPUTargetOptions, "_nrt") else {}
_PACKAGE = Path(__file__).resolve().parent
_STAMP_NAME = "rgou-sources.stamp"


def _sources_fingerprint() -> str:
    digest = hashlib.sha1()
    for path in sorted(_PACKAGE.rglob("*.py")):
        stat = path.stat()
        digest.update(f"{path.relative_to(_PACKAGE)}:{stat.st_mtime_ns}:{stat.st_size};".encode())
    return digest.hexdigest()


def _drop_stale_cache() -> None:
    """Delete rgou's cached kernels if any rgou source changed since they were cached."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return  # a private cache folder (e.g. the boundscheck test) manages itself
    try:
        stamp = _PACKAGE / "__pycache__" / _STAMP_NAME
        current = _sources_fingerprint()
        if stamp.exists() and stamp.read_text() == current:
            return
        for cached in _PACKAGE.rglob("*.nb[ic]"):
            cached.unlink(missing_ok=True)
        stamp.parent.mkdir(exist_ok=True)
        stamp.write_text(current)
    except OSError:
        pass  # a read-only install: Numba falls back to compiling in memory


_drop_stale_cache()


_KERNELS: list = []  # every dispatcher njit made: what `compilations` counts


def njit(*args, no_alloc: bool = False, **kwargs):
    """`numba.njit` with rgou's defaults (overridable per kernel); no_alloc: compile without
    reference counting (the kernel creates no array; views of its arguments are fine)."""
    options = {**JIT_OPTIONS, **kwargs}
    if no_alloc:
        options.update(NO_REFCOUNT)
    if len(args) == 1 and callable(args[0]):  # @njit
        return _registered(numba.njit(**options)(args[0]))
    decorate = numba.njit(*args, **options)
    return lambda fn: _registered(decorate(fn))


def _registered(dispatcher):
    _KERNELS.append(dispatcher)
    return dispatcher


def compilations() -> int:
    """Kernel versions compiled so far in this process (not loaded from the cache): a warm-up's cost, told apart."""
    return sum(sum(kernel.stats.cache_misses.values()) for kernel in _KERNELS)


@contextmanager
def numba_threads(threads: int | None) -> Iterator[None]:
    """Run the parallel kernels called inside on `threads` threads (None: leave Numba's setting)."""
    previous = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(threads)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def warm_up(fn: Callable[[], object], message: Callable[[str], None] | None = None) -> float:
    """Run fn() (it loads or compiles the kernels a run needs) and say so when it compiled; its seconds.

    Commands call it on a tiny problem first, so that their timings leave compilation out.
    """
    say = message or (lambda text: None)
    before = compilations()
    say("loading the compiled kernels (a first run compiles them: about a minute) ...")
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    compiled = compilations() - before
    if compiled:
        say(f"compiled {compiled} kernels in {seconds:.1f} s (first run only; later runs load them from the cache)")
    return seconds
