#!/usr/bin/env bash
# Train with the Numba (CPU) trainer from positional arguments:
#   train-numba.sh [games] [epochs] [learning_rate] [batch_size] [depth] [output] [more rgou train options...]
# Arguments left out (or given as "-") keep the preset's value (standard preset). Example:
#   ml/scripts/train-numba.sh 1000 50 0.001 32 3 ml/weights/mine.json.gz
set -euo pipefail
exec "$(dirname "$0")/train.sh" numba "$@"
