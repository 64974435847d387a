"""Whether Numba kernels compile to the same machine code in a git revision and in the working tree.

A change that should leave a hot kernel as it is (a constant renamed, a module made rule-aware) is
checked here directly instead of timed on a busy machine: each version compiles the kernels in a
fresh process with an empty cache, and their instructions are compared once symbol names, labels
and addresses are masked.

    python benchmarks/same_machine_code.py --base f24ce3b
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# (module, kernel, argument types as Numba spells them)
KERNELS = (
    ("rgou.features", "features_into", "(types.int8[::1], types.float32[::1])"),
    ("rgou.features", "features_batch_into", "(types.int8[:, ::1], types.float32[:, ::1])"),
)
PROBE = """
import importlib, json, re, sys
from numba import types
out = {}
for module, name, sig in json.loads(sys.argv[1]):
    kernel = getattr(importlib.import_module(module), name)
    sig = eval(sig)
    kernel.compile(sig)
    lines = [line.strip() for line in kernel.inspect_asm(sig).splitlines()]
    lines = [line for line in lines if line and not line.startswith(('.', '#')) and not line.endswith(':')]
    out[f"{module}.{name}"] = [re.sub(r'_ZN[\\w$.]+|\\.L\\w+|\\b[0-9a-f]{6,}\\b', 'SYM', line) for line in lines]
print(json.dumps(out))
"""


def instructions(pythonpath: str | None) -> dict[str, list[str]]:
    env = {**os.environ, "NUMBA_CACHE_DIR": tempfile.mkdtemp()}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(KERNELS)], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the git revision to compare the working tree with")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tree:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", tree, args.base], check=True)
        try:
            old = instructions(tree)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", tree], check=True)
    new = instructions(str(ROOT))
    for name in old:
        same = "the same" if old[name] == new[name] else "DIFFERENT"
        print(f"{name}: {len(old[name])} instructions before, {len(new[name])} after: {same}")


if __name__ == "__main__":
    main()
