#!/usr/bin/env bash
# The strong recipe under the other rule sets: the runs behind benchmarks/strength.md, "Other rule sets: models".
# For each rule set: solve it (rgou solve --rules NAME, once, into the cache folder), train the `strong` preset
# under it (its summary holds 1,000 games against each of heuristic, emm-1, emm-2 and emm-3), then measure
# the model against perfect play: 20,000 games head to head, and its loss per decision over 2,000 games.
# Usage: benchmarks/rule_set_strength.sh [OUT_DIR] [MODELS_DIR] [RULES...]
# Each rule set takes about an hour on two cores, Masters two (its solve: 45 minutes).
set -euo pipefail
out=${1:-benchmarks/results/strength/rule-sets}
models=${2:-models}
shift $(( $# > 2 ? 2 : $# ))
rule_sets=${*:-blitz aseb masters}
mkdir -p "$out" "$models"
# The recorded runs: the preset as it was then (60 epochs decayed by 0.95, inputs as they are) for Blitz; fewer
# epochs where the runs had to share two cores (Masters also with a faster learning-rate decay, to anneal within
# its 20 epochs).
declare -A EPOCHS=([blitz]="--epochs 60 --lr-decay 0.95 --input-scaling none"
                   [aseb]="--epochs 40 --lr-decay 0.95 --input-scaling none"
                   [masters]="--epochs 20 --lr-decay 0.9 --input-scaling none")
# Each run ends with --json FILE; a run whose FILE exists is skipped, so the script resumes.
arena() { [[ -e ${*: -1} ]] || rgou arena "$@" --progress; }
evaluate() { [[ -e ${*: -1} ]] || rgou evaluate "$@" --progress; }

for rules in $rule_sets; do
  model="$models/$rules-strong.json.gz"
  # rgou train solves the rule set first when its table is not in the cache folder.
  # shellcheck disable=SC2086 (the options are words)
  [[ -e $model ]] || rgou train --rules "$rules" --preset strong ${EPOCHS[$rules]} --out "$model" \
    --json "$out/$rules-train.json" --progress
  arena "ml:$model" perfect --rules "$rules" --games 20000 --seed 11 --json "$out/$rules-ml-vs-perfect-20k.json"
  evaluate "ml:$model" --rules "$rules" --games 2000 --seed 6 --json "$out/$rules-evaluate-ml.json"
done
