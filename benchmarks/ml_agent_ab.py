"""The ML agent's decision and one forward pass, timed in a git revision and in the working tree, alternating.

A narrow, repeatable second look at rows of `python -m rgou.bench --only nn` that move by more than
the noise allows in one full side-by-side run: each round runs a fresh process per version (the
revision through a temporary git worktree on PYTHONPATH), the order alternating, and the table gives
the median over rounds of each process's median time a call (1,000 positions of self-play, 5 passes).

    python benchmarks/ml_agent_ab.py --base ffc4b61 --rounds 6
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import json, time
import numpy as np
from rgou.agents import MLAgent
from rgou.features import extract_features_batch
from rgou.models import load_model
from rgou.nn import inference as nb
from rgou.nn.layout import layer_sizes
from rgou.selfplay import generate

w = load_model("default")
states = generate(60, depth=1, seed=1).state
states = np.ascontiguousarray(states[np.linspace(0, len(states) - 1, 1000).astype(int)])


def median_us(call, n):
    call(0)
    per = np.empty((5, n))
    for r in range(5):
        for i in range(n):
            t0 = time.perf_counter_ns()
            call(i)
            per[r, i] = time.perf_counter_ns() - t0
    return float(np.median(np.median(per, axis=0))) / 1e3


ml, ml1 = MLAgent(w), MLAgent(w, depth=1)
feats = extract_features_batch(states)
vs, ps = layer_sizes(w.value_config), layer_sizes(w.policy_config)
work = nb.make_inference_work(w.value_config, w.policy_config)
pol = np.zeros(ps[-1], np.float32)
print(json.dumps({
    "ml_agent_decision_us": median_us(lambda i: ml.choose_move(states[i]), 1000),
    "ml1_agent_decision_us": median_us(lambda i: ml1.choose_move(states[i]), 300),
    "value_policy_one_us": median_us(
        lambda i: nb.value_policy_one(w.value, vs, w.policy, ps, feats[i], pol, work), 1000
    ),
}))
"""


def probe(tree: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=tree, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="git revision to compare against")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {"old": [], "new": []}
    with tempfile.TemporaryDirectory(prefix="rgou-ab-") as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(base), args.base], cwd=ROOT, check=True,
                       capture_output=True)  # fmt: skip
        try:
            probe(base), probe(ROOT)  # compile both into their caches first
            for r in range(args.rounds):
                order = [("old", base), ("new", ROOT)] if r % 2 == 0 else [("new", ROOT), ("old", base)]
                for name, tree in order:
                    runs[name].append(probe(tree))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, capture_output=True)
    print(f"| metric | {args.base} | working tree | speed after / before | rounds (before; after) |")
    print("|---|---:|---:|---:|---|")
    for key in runs["old"][0]:
        old = [run[key] for run in runs["old"]]
        new = [run[key] for run in runs["new"]]
        a, b = statistics.median(old), statistics.median(new)
        shown = f"{', '.join(f'{v:.2f}' for v in old)}; {', '.join(f'{v:.2f}' for v in new)}"
        print(f"| `{key}` | {a:.2f} us | {b:.2f} us | {a / b:.3f} | {shown} |")


if __name__ == "__main__":
    main()
