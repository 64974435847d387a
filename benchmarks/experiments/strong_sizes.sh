#!/usr/bin/env bash
# The `strong` preset's data with other hidden sizes and batch sizes, two epochs each: the table "Other net and
# batch sizes" of benchmarks/experiments/strong_schedule.md. Needs the solved 7-piece table (rgou solve --pieces 7).
# About 15 minutes on 2 cores. A run whose model file exists is skipped.
# Usage: benchmarks/experiments/strong_sizes.sh [WORKDIR]   (default: ./strong-sizes-runs)
set -euo pipefail
dir=${1:-strong-sizes-runs}
mkdir -p "$dir"
cd "$dir"
python - <<'PY'
import json
from importlib.resources import files

config = json.loads(files("rgou").joinpath("data/training.json").read_text())
strong = config["presets"]["strong"]
for name, sizes in {"small": [128, 64, 32], "wide-first": [512, 128, 64, 32], "wide": [512, 256, 128, 64]}.items():
    config["presets"][f"strong-{name}"] = {**strong, "hidden_sizes": sizes}
with open("config.json", "w") as f:
    json.dump(config, f, indent=1)
PY
run() {  # NAME OPTIONS...
    local name=$1
    shift
    [ -f "$name.json.gz" ] || rgou train --config config.json --epochs 2 --no-eval --out "$name.json.gz" "$@" > "$name.log"
}
run strong --preset strong
run strong-small --preset strong-small
run strong-wide-first --preset strong-wide-first
run strong-wide --preset strong-wide
for batch in 64 128 512; do
    run "strong-batch-$batch" --preset strong --batch-size "$batch"
done
[ -f strong-e3.json.gz ] || rgou train --config config.json --preset strong --epochs 3 --no-eval --out strong-e3.json.gz \
    > strong-e3.log
names="strong-small strong strong-wide-first strong-wide strong-batch-64 strong-batch-128 strong-batch-512 strong-e3"
for name in $names; do
    [ -f "$name.evaluate.json" ] || rgou evaluate "ml:$name.json.gz" --games 2000 --seed 6 --json "$name.evaluate.json" \
        > /dev/null
done
python - <<'PY'
import json

from rgou.weights import load_weights

print("| hidden sizes | batch | epoch | seconds | train value loss | validation value loss | validation policy loss | top-1 |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
names = ["strong-small", "strong", "strong-wide-first", "strong-wide"] + [f"strong-batch-{b}" for b in (64, 128, 512)]
for name in names:
    weights = load_weights(f"{name}.json.gz")
    sizes = ", ".join(str(h) for h in weights.value_config.hidden_sizes)
    for r in weights.metadata["history"]:
        print(
            f"| {sizes} | {weights.metadata['batch_size']} | {r['epoch']} | {r['seconds']:.1f} "
            f"| {r['train_value_loss']:.3g} | {r['val_value_loss']:.3g} | {r['val_policy_loss']:.3f} "
            f"| {100 * r['val_policy_accuracy']:.1f}% |"
        )
print()
print("| hidden sizes | batch | epochs | kept validation value loss | loss per decision (points) | optimal |")
print("|---|---:|---:|---:|---|---:|")
for name in names + ["strong-e3"]:
    weights = load_weights(f"{name}.json.gz")
    sizes = ", ".join(str(h) for h in weights.value_config.hidden_sizes)
    with open(f"{name}.evaluate.json") as f:
        e = json.load(f)
    low, high = (100 * x for x in e["mean_loss_ci95"])
    print(
        f"| {sizes} | {weights.metadata['batch_size']} | {len(weights.metadata['history'])} "
        f"| {weights.metadata['best_validation_value_loss']:.3g} | {100 * e['mean_loss']:.4f} [{low:.4f}, {high:.4f}] "
        f"| {100 * e['optimal_share']:.2f}% |"
    )
PY
