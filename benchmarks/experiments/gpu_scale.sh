#!/usr/bin/env bash
# The strong preset on a GPU: more data (gpu_scale.md) or more training (gpu_longer.md).
#
#   bash benchmarks/experiments/gpu_scale.sh OUTDIR [TABLE|-] [RGOU TRAIN OPTIONS...]
#
# Without TABLE (or with -) it solves the 7-piece game first (all cores). Then
# `rgou train --preset strong --backend jax` runs on GAMES games (default
# 54,000, the preset's 18,000 times three) for EPOCHS epochs (default 20) with
# the learning rate decaying by LR_DECAY (default 0.86) an epoch; options after
# TABLE are passed on to `rgou train` and win over these. With DEADLINE=S the
# training is interrupted (as by Ctrl-C: it keeps the best weights so far) S
# seconds after the script started. It writes the model (NAME, default large),
# its summary, its checkpoint and its log into OUTDIR; evaluate the model
# afterwards on any machine with the table
# (`rgou evaluate ml:OUTDIR/large.json.gz --games 2000 --seed 6`).
# A dry run on a CPU: GAMES=60 EPOCHS=1 bash ... /tmp/out ~/.cache/rgou/finkel-7.table
set -euo pipefail
begin=$(date +%s)
out=${1:?usage: gpu_scale.sh OUTDIR [TABLE|-] [RGOU TRAIN OPTIONS...]}
table=${2:--}
shift $(($# < 2 ? $# : 2))
name=${NAME:-large}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
py=${PYTHON:-python3}

$py -c "import jax, numba, numpy; print('jax', jax.__version__, jax.devices(), 'numba', numba.__version__, 'numpy', numpy.__version__)"
if [ "$table" = - ]; then
    table=/tmp/rgou-gpu-scale/finkel-7.table
    mkdir -p "$(dirname "$table")"
    start=$(date +%s)
    $py -m rgou solve --pieces 7 --out "$table" --force --quiet
    echo "solve: $(($(date +%s) - start)) s"
fi

limit=0
if [ "${DEADLINE:-0}" -gt 0 ]; then
    limit=$((DEADLINE - ($(date +%s) - begin)))
    [ "$limit" -gt 0 ] || { echo "no time left to train before DEADLINE=$DEADLINE"; exit 1; }
fi
start=$(date +%s)
timeout -s INT "$limit" $py -m rgou train --preset strong --backend jax --table "$table" --games "${GAMES:-54000}" \
    --epochs "${EPOCHS:-20}" --lr-decay "${LR_DECAY:-0.86}" --no-eval "$@" \
    --out "$out/$name.json.gz" --force --json "$out/$name.summary.json" --progress >"$out/$name.log" 2>&1 || status=$?
echo "train: $(($(date +%s) - start)) s, exit ${status:-0}"
tr '\r' '\n' <"$out/$name.log" | grep -v '^\s*$' | tail -n 12
