#!/usr/bin/env bash
# Which positions (and batch size) to train the value net on, at one small budget: the table of
# benchmarks/experiments/afterstates.md. Needs the solved table (rgou solve). About 40 minutes on 2 cores
# (15 training runs of about 80 s, each evaluated over 1,000 games). A run whose files exist is skipped.
# Usage: benchmarks/experiments/afterstates.sh [WORKDIR]   (default: ./afterstates-runs)
set -euo pipefail
dir=${1:-afterstates-runs}
mkdir -p "$dir"
cd "$dir"
gen="rgou generate --agent perfect --epsilon 0.2 --value-target exact --seed 21 --quiet"
[ -f path.npz ] || $gen --games 12000 --out path.npz
[ -f after.npz ] || $gen --games 4400 --afterstates --out after.npz
[ -f after-passes.npz ] || $gen --games 4400 --afterstates --include-passes --out after-passes.npz
train="rgou train --value-target exact --epochs 8 --lr 1e-3 --lr-decay 0.8 --dropout 0 --validation-split 0.05 \
--no-eval --quiet"
run() {  # NAME DATA BATCH SEED
    [ -f "$1.json.gz" ] || $train --data "$2" --batch-size "$3" --seed "$4" --out "$1.json.gz" --json "$1.train.json"
    [ -f "$1.evaluate.json" ] || rgou evaluate "ml:$1.json.gz" --games 1000 --seed 6 --json "$1.evaluate.json"
}
for seed in 7 8 9; do
    run "path-512-s$seed" path.npz 512 $seed
    run "after-512-s$seed" after.npz 512 $seed
    run "after-passes-512-s$seed" after-passes.npz 512 $seed
    run "path-256-s$seed" path.npz 256 $seed
    run "after-256-s$seed" after.npz 256 $seed
done
python - <<'PY'
import json

import numpy as np

print("| run | training samples | train s (seed 7) | loss per decision, seeds 7 / 8 / 9 (points) | mean | optimal, mean |")
print("|---|---:|---:|---|---:|---:|")
for name in ("path-512", "after-512", "after-passes-512", "path-256", "after-256"):
    runs = [(json.load(open(f"{name}-s{s}.train.json")), json.load(open(f"{name}-s{s}.evaluate.json"))) for s in (7, 8, 9)]
    losses = [100 * e["mean_loss"] for _, e in runs]
    optimal = np.mean([100 * e["optimal_share"] for _, e in runs])
    t = runs[0][0]
    print(
        f"| {name} | {t['train_samples']:,} | {t['seconds']['train']:.1f} | "
        f"{' / '.join(f'{x:.4f}' for x in losses)} | {np.mean(losses):.4f} | {optimal:.1f}% |"
    )
PY
