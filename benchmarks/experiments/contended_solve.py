"""A solve on two threads with and without another process busy on one core, for two OpenMP wait policies.

Each run is a fresh process (OpenMP reads its settings once, when Numba first loads it): `OMP_WAIT_POLICY`
empty (GNU OpenMP's default: a thread spins up to 300,000 turns at a parallel region's end before it sleeps)
or `passive` (rgou's default since this measurement: it sleeps at once). The busy process is a Python loop.

    python benchmarks/experiments/contended_solve.py --pieces 5 --rounds 2    # about 6 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

CHILD = """
import sys, time
from rgou.solve import solve
solve(2)  # compiled or loaded before the clock starts
start = time.perf_counter()
solve(int(sys.argv[1]), threads=2)
print(f"{time.perf_counter() - start:.1f}")
"""
BUSY = "while True: pass"
POLICIES = {"spin (GNU default)": "", "passive": "passive"}


def timed_solve(pieces: int, policy: str, busy: bool) -> float:
    hog = subprocess.Popen([sys.executable, "-c", BUSY]) if busy else None
    try:
        env = {**os.environ, "OMP_WAIT_POLICY": policy}
        out = subprocess.run([sys.executable, "-c", CHILD, str(pieces)], env=env, capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(out.stderr)
        return float(out.stdout.split()[-1])
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pieces", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print("| round | wait policy | other process | solve, s |")
    print("|---:|---|---|---:|")
    for r in range(1, args.rounds + 1):
        for busy in (False, True):
            for name, policy in POLICIES.items():
                seconds = timed_solve(args.pieces, policy, busy)
                print(f"| {r} | {name} | {'busy on one core' if busy else 'none'} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
