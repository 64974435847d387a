#!/usr/bin/env bash
# The strong recipe under the other rule sets: the runs behind benchmarks/strength.md, "Other rule sets: models".
# For each rule set: solve it (rgou solve --rules NAME, once, into the cache folder), train the `strong` preset
# under it, then measure the model against perfect play (20,000 games head to head, and 20,000 games each of
# the model and of perfect play against emm-3 on the same dice) and its loss per decision.
# Usage: benchmarks/rule_set_strength.sh [OUT_DIR] [MODELS_DIR] [RULES...]
# Blitz and Aseb take about 30 minutes each on two cores, Masters about 2 hours (its solve: 45 minutes).
set -euo pipefail
out=${1:-benchmarks/results/strength/rule-sets}
models=${2:-models}
shift $(( $# > 2 ? 2 : $# ))
rule_sets=${*:-blitz aseb masters}
mkdir -p "$out" "$models"
# Each run ends with --json FILE; a run whose FILE exists is skipped, so the script resumes.
arena() { [[ -e ${*: -1} ]] || rgou arena "$@" --progress; }
evaluate() { [[ -e ${*: -1} ]] || rgou evaluate "$@" --progress; }

for rules in $rule_sets; do
  model="$models/$rules-strong.json.gz"
  # rgou train solves the rule set first when its table is not in the cache folder.
  [[ -e $model ]] || rgou train --rules "$rules" --preset strong --out "$model" --json "$out/$rules-train.json" --progress
  arena "ml:$model" perfect --rules "$rules" --games 20000 --seed 11 --json "$out/$rules-ml-vs-perfect-20k.json"
  arena "ml:$model" emm-3 --rules "$rules" --games 20000 --seed 12 --json "$out/$rules-ml-vs-emm-3-20k.json"
  arena perfect emm-3 --rules "$rules" --games 20000 --seed 12 --json "$out/$rules-perfect-vs-emm-3-20k.json"
  evaluate "ml:$model" --rules "$rules" --games 2000 --seed 6 --json "$out/$rules-evaluate-ml.json"
done
