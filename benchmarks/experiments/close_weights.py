"""All the afterstate data, the value loss weighted towards the close decisions instead of cut down to them.

Trains as `rgou train --preset strong --no-afterstates --data DATA` does, with each value sample's weight in the
loss 1 for a decision closer than --gap (its two best moves, in winning chance; `close_decisions.py`) and
--rest for the others (the trainers already weight each sample: `rgou.nn.contract`). Validation keeps the
plain weights. Writes the model to --out.

    python benchmarks/experiments/close_weights.py data.npz --gap 0.005 --rest 0.25 --epochs 7 --lr-decay 0.607 \
        --out weighted7.json.gz
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np

import rgou.train.sources as sources
from rgou._io import check_outputs
from rgou.train import resolve_options, train
from rgou.train.sources import read_data
from rgou.weights import save_weights


def _decision_gaps():
    spec = importlib.util.spec_from_file_location("close_decisions", Path(__file__).with_name("close_decisions.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.decision_gaps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--gap", type=float, default=0.005)
    parser.add_argument("--rest", type=float, default=0.25)
    parser.add_argument("--epochs", type=int, default=7)
    parser.add_argument("--lr-decay", type=float, default=0.607)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    check_outputs({"--out": args.out}, [("data", args.data)], force=True)
    data = read_data([args.data])
    _, sizes, gaps = _decision_gaps()(data.game_id, data.decision, data.state, data.value_target)
    sample_weight = np.repeat(np.where(gaps < args.gap, 1.0, args.rest), sizes).astype(np.float32)
    plain = sources.value_targets
    calls = []

    def weighted(dataset, spec):  # the first call is the training targets', the second validation's
        targets, weights = plain(dataset, spec)
        calls.append(spec)
        return (targets, weights * sample_weight) if len(calls) == 1 else (targets, weights)

    sources.value_targets = weighted
    options = resolve_options("strong", {"epochs": args.epochs, "lr_decay": args.lr_decay}).training
    result = train(data, options, on_epoch=lambda r: print(r, flush=True))
    save_weights(args.out, result.weights)
    print(f"wrote {args.out}: close decisions {float((gaps < args.gap).mean()):.1%}, calls {calls}")


if __name__ == "__main__":
    main()
