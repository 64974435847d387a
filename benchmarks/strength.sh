#!/usr/bin/env bash
# Playing strength of rgou's agents: the runs behind benchmarks/strength.md.
# Needs the solved 7-piece table in the cache folder (rgou solve --pieces 7) for `perfect`.
# About 20 minutes on two cores (ml-2 searches about 1 ms a move, so it plays
# 200 games against a few opponents only). Usage: benchmarks/strength.sh [OUT_DIR]
set -euo pipefail
out=${1:-benchmarks/results/strength}
mkdir -p "$out"
# Each run ends with --json FILE; a run whose FILE exists is skipped, so the script resumes.
arena() { [[ -e ${*: -1} ]] || rgou arena "$@" --progress; }
evaluate() { [[ -e ${*: -1} ]] || rgou evaluate "$@" --progress; }

# Every agent against every other.
arena random heuristic emm-1 emm-2 emm-3 emm-4 ml:upstream ml ml+ ml-1 perfect --games 1000 --seed 1 --json "$out/matrix.json"
for b in random heuristic emm-3 ml perfect; do
  arena ml-2 "$b" --games 200 --seed 2 --json "$out/ml-2-vs-$b.json"
done

# The headline matches (4,000 games; 100,000 against perfect play).
for b in heuristic emm-3 emm-4; do
  arena ml "$b" --games 4000 --seed 3 --json "$out/ml-vs-$b.json"
done
arena ml emm-5 --games 400 --seed 3 --json "$out/ml-vs-emm-5.json"
arena perfect emm-3 --games 4000 --seed 3 --json "$out/perfect-vs-emm-3.json"
# The same two on 20,000 games each (same dice): is ml within a point of perfect play against emm-3?
arena ml emm-3 --games 20000 --seed 3 --json "$out/ml-vs-emm-3-20k.json"
arena perfect emm-3 --games 20000 --seed 3 --json "$out/perfect-vs-emm-3-20k.json"
arena ml perfect --games 100000 --seed 5 --json "$out/ml-vs-perfect.json"
arena ml:upstream perfect --games 10000 --seed 5 --json "$out/upstream-vs-perfect.json"
# The dice of the 20,000-game comparisons in docs/training.md and benchmarks/experiments/perfect_play_data.md.
arena ml perfect --games 20000 --seed 8 --json "$out/ml-vs-perfect-20k-seed-8.json"
# One more ply of search head to head: a margin of about a point needs tens of thousands of games.
arena ml-1 ml --games 40000 --seed 4 --json "$out/ml-1-vs-ml.json"
# Close calls searched one ply deeper (ml+, under 30 us a decision) and the full ply (ml-1), on the same dice.
arena ml+ perfect --games 100000 --seed 5 --json "$out/ml+-vs-perfect.json"
arena ml-1 perfect --games 100000 --seed 5 --json "$out/ml-1-vs-perfect.json"
arena ml+ emm-3 --games 20000 --seed 3 --json "$out/ml+-vs-emm-3-20k.json"

# Mean win-probability loss per decision against perfect play.
for m in ml ml:upstream; do  # add ml:FILE for other models
  evaluate "$m" --games 2000 --seed 6 --json "$out/evaluate-${m//:/-}.json"
done
evaluate ml-1 --games 2000 --seed 6 --json "$out/evaluate-ml-1.json"
evaluate ml+ --games 2000 --seed 6 --json "$out/evaluate-ml+.json"
evaluate ml-2 --games 400 --seed 6 --json "$out/evaluate-ml-2.json"  # about 7 ms a move
