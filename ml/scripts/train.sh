#!/usr/bin/env bash
# Shared by train-numba.sh and train-jax.sh: BACKEND [games] [epochs] [lr] [batch] [depth] [output] [options...]
set -euo pipefail
backend="$1"
shift
args=(train --preset "${RGOU_PRESET:-standard}" --backend "$backend")
names=(--games --epochs --learning-rate --batch-size --depth --out)
for name in "${names[@]}"; do
  [ "$#" -gt 0 ] || break
  if [ "$1" != "-" ]; then
    args+=("$name" "$1")
  fi
  shift
done
exec "${RGOU:-rgou}" "${args[@]}" "$@"
