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

Compiling leaves 0.3 to 0.5 GB of Numba's and LLVM's records in the process
that compiled, for its whole life; loading from the cache does not. So
`warm_up` can compile in a child process that fills the cache, and leaves a
mark beside the cache (the sources' fingerprint) so that later runs skip it.

OpenMP's waiting threads sleep at once (`OMP_WAIT_POLICY=passive`, unless
the environment says otherwise): the solver opens a parallel region per unit
level, tens of thousands in a solve, and with GNU OpenMP's default a thread
that has finished spins at the region's end for up to 300,000 turns. On a
machine where another process holds a core, that spinning takes the time of
the thread still working: a 5-piece solve on two threads took 2.0 to 4.5
times as long as with passive waiting, which costs 3% on an idle machine
(benchmarks/experiments/contended_solve.md). It is set before Numba first
loads its OpenMP layer, at the first parallel kernel.

`prefetch(array, index)` asks the CPU to start loading an element a kernel
will read soon (LLVM's prefetch intrinsic; it changes no result), and
`prefetch_span(array, start, stop)` every cache line of a range. The solver
uses them where a sweep knows the indices and units it will read next, the
trainer for the next minibatch's rows.
"""

import hashlib
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numba
from llvmlite import ir
from numba import types
from numba.core import caching, cgutils
from numba.core.cpu import CPUTargetOptions
from numba.extending import intrinsic

OMP_POLICY_CHOSEN_HERE = "OMP_WAIT_POLICY" not in os.environ  # the bench's PyTorch keeps OpenMP's own default then
os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # before the first parallel kernel loads OpenMP (above)
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


def unusable_cache_dir() -> str | None:
    """NUMBA_CACHE_DIR where it is set but not a folder this process can write, else None.

    Numba then caches beside rgou's sources, as if it were unset (or, where it
    cannot write there either, compiles in every run), and says nothing.
    """
    folder = os.environ.get("NUMBA_CACHE_DIR")
    if not folder:
        return None
    try:
        os.makedirs(folder, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()  # Numba's own test of a cache folder
    except OSError:
        return folder
    return None


def _drop_stale_cache() -> None:
    """Delete rgou's cached kernels if any rgou source changed since they were cached."""
    if os.environ.get("NUMBA_CACHE_DIR") and unusable_cache_dir() is None:
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


CACHE_LINE_BYTES = 64  # what a prefetch of one address brings in (x86-64 and most ARM cores)


@intrinsic
def prefetch(typingctx, array, index):
    """Hint that array[index] will be read soon (a 1-d array, an integer index; unchecked, no effect on results)."""
    if not isinstance(array, types.Array) or array.ndim != 1 or not isinstance(index, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        array_type, index_type = signature.args
        view = context.make_array(array_type)(context, builder, args[0])
        at = context.cast(builder, args[1], index_type, types.intp)
        pointer = cgutils.get_item_pointer(context, builder, array_type, view, [at], wraparound=False)
        byte_pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn_type = ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32])
        fn = builder.module.declare_intrinsic("llvm.prefetch", [byte_pointer], fn_type)  # named for the pointer type
        builder.call(fn, [builder.bitcast(pointer, byte_pointer), i32(0), i32(3), i32(1)])  # read, keep, data
        return context.get_dummy_value()

    return types.void(array, index), codegen


# What unpickling and rebuilding a damaged cache entry raises (a MemoryError or RecursionError is not caught).
DAMAGED_ENTRY = (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, ValueError, TypeError,
                 IndexError, KeyError)  # fmt: skip


class _SafeCacheFile(caching.IndexDataCacheFile):
    """Numba's cache files, where a damaged index is an empty one.

    Numba counts only a missing file as a miss: an index or data file cut short
    (a full disk, a copy) raised UnpicklingError or EOFError in every later run,
    and a save that failed (a full disk under the cache folder) ended the run
    after its compile, naming no file. A load that fails is a miss
    (`_SafeFunctionCache`); a save reads the index first, so a damaged one
    reads as empty here, and the save replaces it.
    """

    def _load_index(self):
        try:
            return super()._load_index()
        except DAMAGED_ENTRY:
            return {}


class KernelCacheWarning(RuntimeWarning):
    """rgou's kernel cache could not be saved: the run goes on, the next one compiles again."""


class _SafeFunctionCache(caching.FunctionCache):
    """Numba's cache of one kernel, where a save that fails (a full disk, a cache folder removed meanwhile) is
    a warning and a load that fails is a miss: the kernel is compiled, as without a cache."""

    def load_overload(self, sig, target_context):
        try:
            return super().load_overload(sig, target_context)
        except DAMAGED_ENTRY:  # a damaged entry, as it is unpickled and rebuilt
            return None

    def save_overload(self, sig, data):
        try:
            super().save_overload(sig, data)
        except OSError as error:
            warnings.warn(
                f"cannot save compiled kernels in {self._cache_path} ({error.strerror or error}); "
                "the next run compiles them again",
                KernelCacheWarning,
                stacklevel=2,
            )


def _registered(dispatcher):
    """Count `dispatcher` among rgou's kernels, its cache read and written by `_SafeFunctionCache`."""
    cache = getattr(dispatcher, "_cache", None)
    if type(cache) is caching.FunctionCache and type(getattr(cache, "_cache_file", None)) is caching.IndexDataCacheFile:
        cache.__class__ = _SafeFunctionCache  # a future Numba's other layout keeps its own
        cache._cache_file.__class__ = _SafeCacheFile
    _KERNELS.append(dispatcher)
    return dispatcher


@njit
def prefetch_span(array, start, stop):
    """`prefetch` every cache line of array[start:stop] (a 1-d array); changes no result."""
    step = max(CACHE_LINE_BYTES // array.itemsize, 1)
    for i in range(start, stop, step):
        prefetch(array, i)
    if stop > start:
        prefetch(array, stop - 1)  # the last line, when start was not on a line's first element


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


def warm_up(
    fn: Callable[[], object],
    message: Callable[[str], None] | None = None,
    child: tuple[str, object] | None = None,
) -> float:
    """Run fn() (it loads or compiles the kernels a run needs) and say so when it compiled; its seconds.

    Commands call it on a tiny problem first, so that their timings leave compilation out.
    child: ("module:function", a JSON-able argument) that compiles the same kernels as fn. Unless an
    earlier such call marked them as cached since rgou's sources last changed, it runs first in a
    fresh Python process, which fills Numba's cache; fn() then loads them from there. A process that
    compiles keeps 0.3 to 0.5 GB of the compiler's records for its whole life; one that loads does not.
    """
    say = message or (lambda text: None)
    unusable = unusable_cache_dir()
    if unusable is not None:
        say(f"NUMBA_CACHE_DIR={unusable} is not a folder this process can write: the kernels are cached beside "
            "rgou's sources instead, or compiled in every run where those cannot be written")  # fmt: skip
    before = compilations()
    start = time.perf_counter()
    in_child = 0
    mark = _warm_mark(*child) if child is not None else None
    sources = _sources_fingerprint() if mark is not None else ""
    if mark is not None and not _marked(mark, sources):
        say("preparing the kernels in a separate process (compiled once, in about a minute) ...")
        in_child, failure = _compile_in_child(*child)
        if failure:
            say(f"the separate process failed ({failure}); compiling in this one instead")
        else:
            _write_mark(mark, sources)
    else:
        say("loading the compiled kernels (a first run compiles them: about a minute) ...")
    fn()
    seconds = time.perf_counter() - start
    compiled = compilations() - before + in_child
    if compiled:
        say(f"compiled {compiled} kernels in {seconds:.1f} s (first run only; later runs load them from the cache)")
    return seconds


_CHILD = """
import importlib, importlib.util, json, pathlib, sys
spec = json.load(sys.stdin)
package = pathlib.Path(spec["package"])
found = importlib.util.find_spec("rgou")
if found is None or found.origin is None or pathlib.Path(found.origin).resolve().parent != package:
    sys.path.insert(0, str(package.parent))  # the parent's rgou, not another install
from rgou._numba import compilations
module, name = spec["target"].split(":")
getattr(importlib.import_module(module), name)(spec["argument"])
print(compilations())
"""


def _compile_in_child(target: str, argument: object) -> tuple[int, str]:
    """Run target(argument) in a fresh Python process (-P: not from the working folder).

    Returns (kernels it compiled, "") or (0, why it failed).
    """
    spec = json.dumps({"package": str(_PACKAGE), "target": target, "argument": argument}, default=str)
    try:
        done = subprocess.run([sys.executable, "-P", "-c", _CHILD], input=spec, capture_output=True, text=True)
    except OSError as error:
        return 0, f"{sys.executable}: {error}"
    lines = done.stdout.split()
    if done.returncode == 0 and lines and lines[-1].isdigit():
        return int(lines[-1]), ""
    errors = done.stderr.strip().splitlines()
    return 0, f"exit status {done.returncode}" + (f": {errors[-1]}" if errors else "")


def _mark_folder() -> Path:
    """Where warm-up marks live: beside the kernels Numba caches."""
    return Path(os.environ.get("NUMBA_CACHE_DIR") or _PACKAGE / "__pycache__")


def _warm_mark(target: str, argument: object) -> Path | None:
    """The mark of one warm-up (None where it cannot be written: then fn compiles in this process).

    Its name is a hash of the warm-up, the Python and the Numba that compile it.
    """
    folder = _mark_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(folder, os.W_OK):
        return None
    what = [target, argument, sys.version, numba.__version__]
    key = hashlib.sha1(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return folder / f"rgou-warm-{key}.stamp"


def _marked(mark: Path, sources: str) -> bool:
    """Whether the mark says the kernels were cached for these sources."""
    try:
        return mark.read_text() == sources
    except (OSError, ValueError):
        return False


def _write_mark(mark: Path, sources: str) -> None:
    """Record that the kernels of a warm-up are cached for `sources` (taken before compiling); atomic."""
    temporary = mark.with_name(f"{mark.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(sources)
        os.replace(temporary, mark)
    except OSError:
        temporary.unlink(missing_ok=True)
