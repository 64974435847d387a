"""`python -m rgou.bench.child PEAK_FILE ARGS...`: run `rgou ARGS`, then write its own peak memory.

A child process's `ru_maxrss` (from `wait4`) starts at its parent's
resident size: Linux keeps the high-water mark across fork and exec, so a
child of a large bench process reported the bench's own size. `VmHWM` in
/proc/self/status belongs to the address space exec created, so it is the
child's own peak.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path


def own_peak_mb() -> float:
    """This process's peak resident memory in MB (VmHWM; ru_maxrss where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


if __name__ == "__main__":
    from rgou.cli import main

    try:
        code = main(sys.argv[2:])
    finally:
        Path(sys.argv[1]).write_text(f"{own_peak_mb()}\n")
    sys.exit(code)
