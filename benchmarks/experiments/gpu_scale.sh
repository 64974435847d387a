#!/usr/bin/env bash
# The strong preset on three times the games, on a GPU: does more data lower the loss per decision?
#
#   bash benchmarks/experiments/gpu_scale.sh OUTDIR [TABLE]
#
# Without TABLE it solves the 7-piece game first (all cores). Then
# `rgou train --preset strong --backend jax` runs on GAMES games (default
# 54,000, the preset's 18,000 times three) for EPOCHS epochs (default 20) with
# the learning rate decaying by LR_DECAY (default 0.86) an epoch, so that it
# ends near where the preset's 36 epochs at 0.92 end; batch and learning rate
# are the preset's. It writes the model, its summary and its log into OUTDIR;
# evaluate the model afterwards on any machine with the table
# (`rgou evaluate ml:OUTDIR/large.json.gz --games 2000 --seed 6`).
# A dry run on a CPU: GAMES=60 EPOCHS=1 bash ... /tmp/out ~/.cache/rgou/finkel-7.table
set -euo pipefail
out=${1:?usage: gpu_scale.sh OUTDIR [TABLE]}
table=${2:-}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
py=${PYTHON:-python3}

$py -c "import jax, numba, numpy; print('jax', jax.__version__, jax.devices(), 'numba', numba.__version__, 'numpy', numpy.__version__)"
if [ -z "$table" ]; then
    table=/tmp/rgou-gpu-scale/finkel-7.table
    mkdir -p "$(dirname "$table")"
    start=$(date +%s)
    $py -m rgou solve --pieces 7 --out "$table" --force --quiet
    echo "solve: $(($(date +%s) - start)) s"
fi

start=$(date +%s)
$py -m rgou train --preset strong --backend jax --table "$table" --games "${GAMES:-54000}" \
    --epochs "${EPOCHS:-20}" --lr-decay "${LR_DECAY:-0.86}" --no-eval \
    --out "$out/large.json.gz" --force --json "$out/large.summary.json" --progress >"$out/large.log" 2>&1 || status=$?
echo "train: $(($(date +%s) - start)) s, exit ${status:-0}"
tr '\r' '\n' <"$out/large.log" | grep -v '^\s*$' | tail -n 12
