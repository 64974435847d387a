#!/usr/bin/env bash
# The `strong` preset's data with other hidden sizes, two epochs each: the table "Other net sizes" of
# benchmarks/experiments/strong_schedule.md. Needs the solved 7-piece table (rgou solve --pieces 7). About
# 7 minutes on 2 cores. A run whose model file exists is skipped.
# Usage: benchmarks/experiments/net_sizes.sh [WORKDIR]   (default: ./net-sizes-runs)
set -euo pipefail
dir=${1:-net-sizes-runs}
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
for preset in strong strong-small strong-wide-first strong-wide; do
    [ -f "$preset.json.gz" ] || rgou train --config config.json --preset "$preset" --epochs 2 --no-eval \
        --out "$preset.json.gz" > "$preset.log"
done
python - <<'PY'
from rgou.weights import load_weights

print("| hidden sizes | epoch | seconds | train value loss | validation value loss | validation policy loss | top-1 |")
print("|---|---:|---:|---:|---:|---:|---:|")
for preset in ("strong-small", "strong", "strong-wide-first", "strong-wide"):
    weights = load_weights(f"{preset}.json.gz")
    sizes = ", ".join(str(h) for h in weights.value_config.hidden_sizes)
    for r in weights.metadata["history"]:
        print(
            f"| {sizes} | {r['epoch']} | {r['seconds']:.1f} | {r['train_value_loss']:.3g} | {r['val_value_loss']:.3g} "
            f"| {r['val_policy_loss']:.3f} | {100 * r['val_policy_accuracy']:.1f}% |"
        )
PY
