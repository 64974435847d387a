#!/usr/bin/env bash
# The strong preset in 24 epochs instead of 60: the table of benchmarks/experiments/strong_schedule.md.
# Needs the solved 7-piece table (rgou solve --pieces 7). About 40 minutes on 2 cores (two training runs of
# about 16 minutes, the evaluations, and two matches of 100,000 games). A step whose file exists is skipped.
# Usage: benchmarks/experiments/strong_schedule.sh [WORKDIR]   (default: ./strong-schedule-runs)
set -euo pipefail
dir=${1:-strong-schedule-runs}
mkdir -p "$dir"
cd "$dir"
train() {  # NAME OPTIONS...
    local name=$1
    shift
    [ -f "$name.json.gz" ] || rgou train --preset strong --epochs 24 --no-eval --out "$name.json.gz" "$@" \
        > "$name.log"
    [ -f "$name.evaluate.json" ] || rgou evaluate "ml:$name.json.gz" --games 2000 --seed 6 --json "$name.evaluate.json"
}
train strong-24 --lr-decay 0.88
train strong-24-lr-0.002 --learning-rate 0.002 --lr-decay 0.88
for agent in ml ml+; do
    out="$agent-vs-perfect.json"
    [ -f "$out" ] || rgou arena "$agent:strong-24.json.gz" perfect --games 100000 --seed 5 --json "$out"
done
