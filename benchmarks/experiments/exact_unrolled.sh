#!/usr/bin/env bash
# Rolled against unrolled exact value targets at one small budget: the table of
# benchmarks/experiments/exact_unrolled.md. Needs the solved table (rgou solve). About 15 minutes on 2 cores
# (6 training runs of about 80 s, each evaluated over 1,000 games). A run whose files exist is skipped, and the
# rolled runs are afterstates.sh's after-256 (the same folder serves both scripts).
# Usage: benchmarks/experiments/exact_unrolled.sh [WORKDIR]   (default: ./afterstates-runs)
set -euo pipefail
dir=${1:-afterstates-runs}
mkdir -p "$dir"
cd "$dir"
gen="rgou generate --agent perfect --epsilon 0.2 --seed 21 --games 4400 --afterstates --quiet"
[ -f after.npz ] || $gen --value-target exact --out after.npz
[ -f after-unrolled.npz ] || $gen --value-target exact-unrolled --out after-unrolled.npz
run() {  # NAME DATA TARGET SEED
    [ -f "$1.json.gz" ] || rgou train --data "$2" --value-target "$3" --batch-size 256 --seed "$4" --epochs 8 \
        --lr 1e-3 --lr-decay 0.8 --dropout 0 --validation-split 0.05 --no-eval --quiet \
        --out "$1.json.gz" --json "$1.train.json"
    [ -f "$1.evaluate.json" ] || rgou evaluate "ml:$1.json.gz" --games 1000 --seed 6 --json "$1.evaluate.json"
}
for seed in 7 8 9; do
    run "after-256-s$seed" after.npz exact $seed
    run "unrolled-256-s$seed" after-unrolled.npz exact-unrolled $seed
done
python - <<'PY'
import json

import numpy as np

print("| value target | loss per decision, seeds 7 / 8 / 9 (points) | mean | optimal, mean | wins vs perfect, mean |")
print("|---|---|---:|---:|---:|")
for name, target in (("after-256", "exact"), ("unrolled-256", "exact-unrolled")):
    runs = [json.load(open(f"{name}-s{s}.evaluate.json")) for s in (7, 8, 9)]
    losses = [100 * e["mean_loss"] for e in runs]
    optimal = np.mean([100 * e["optimal_share"] for e in runs])
    wins = np.mean([100 * e["win_rate"] for e in runs])
    print(
        f"| `{target}` | {' / '.join(f'{x:.4f}' for x in losses)} | {np.mean(losses):.4f} | {optimal:.1f}% | "
        f"{wins:.1f}% |"
    )
PY
