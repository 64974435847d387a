#!/usr/bin/env bash
# Train with the JAX trainer (GPU when JAX sees one) from positional arguments:
#   train-jax.sh [games] [epochs] [learning_rate] [batch_size] [depth] [output] [more rgou train options...]
# Arguments left out (or given as "-") keep the preset's value (standard preset). Needs: pip install 'rgou[jax]'.
set -euo pipefail
exec "$(dirname "$0")/train.sh" jax "$@"
