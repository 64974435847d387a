"""A monotonic clock readable inside njit kernels (and cacheable).

`clock_ns()` calls libc's ``clock_gettime(CLOCK_MONOTONIC)`` by symbol name,
so compiled kernels that read it can be cached (a ctypes function pointer
would be baked into the machine code and could not). Where the C library
has no clock_gettime (Windows), `clock_ns()` returns 0 and timings read 0.
"""

import time

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from rgou._numba import njit

_CLOCK_MONOTONIC = getattr(time, "CLOCK_MONOTONIC", None)  # 1 on Linux, 6 on macOS
_NS_PER_S = 1_000_000_000


@intrinsic
def _clock_gettime_ns(typingctx):
    def codegen(context, builder, signature, args):
        i32, i64 = ir.IntType(32), ir.IntType(64)
        if _CLOCK_MONOTONIC is None:
            return ir.Constant(i64, 0)
        timespec = ir.ArrayType(i64, 2)  # struct timespec {time_t tv_sec; long tv_nsec} on 64-bit Linux
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(i32, [i32, timespec.as_pointer()]), "clock_gettime"
        )
        ts = cgutils.alloca_once(builder, timespec)
        builder.call(fn, [ir.Constant(i32, _CLOCK_MONOTONIC), ts])
        zero = ir.Constant(i32, 0)
        sec = builder.load(builder.gep(ts, [zero, zero]))
        nsec = builder.load(builder.gep(ts, [zero, ir.Constant(i32, 1)]))
        return builder.add(builder.mul(sec, ir.Constant(i64, _NS_PER_S)), nsec)

    return types.int64(), codegen


@njit
def clock_ns():
    """Monotonic time in nanoseconds (CLOCK_MONOTONIC), callable from njit code."""
    return _clock_gettime_ns()
