"""A value loss on the differences between sibling positions, with rgou's trainer (sibling_loss.md).

A depth-0 ML agent ranks the positions after its legal moves (siblings). An
error common to all siblings costs it nothing, yet the value loss (MSE)
counts it. `TrainOptions.sibling_weight` BETA adds BETA times the mean
squared sibling-centred error to the value loss (the formula is in
`rgou.nn.contract`); BETA = 0 is MSE alone, the control.

Data: the positions after every distinct move of 4,400 perfect-play games
(exploration 0.2, seed 21) with exact values: the after.npz of
benchmarks/experiments/afterstates.sh, read from DATA if it exists, else
generated and written there (needs the solved table, rgou solve). Training:
the small budget of afterstates.md (8 epochs, batch 256, learning rate 1e-3
decaying by 0.8 an epoch, no dropout, 5% of the games held out), both nets,
as `rgou train --data DATA --value-target exact --epochs 8 --lr 1e-3
--lr-decay 0.8 --dropout 0 --validation-split 0.05 --batch-size 256
--no-eval --sibling-weight BETA --seed SEED` does. About 80 s a run on two
cores. Then:

    python benchmarks/experiments/sibling_loss.py BETA SEED OUT.json.gz [DATA]    # DATA: after.npz
    rgou evaluate ml:OUT.json.gz --games 1000 --seed 6

sibling_loss.md's first table came from a JAX prototype that trained the
value net alone with its own Adam and batching:
`git show bf95cd9:benchmarks/experiments/sibling_loss.py` (its first version:
7e48df9).
"""

from __future__ import annotations

import sys
from pathlib import Path

from rgou.dataset import Dataset, load_dataset
from rgou.selfplay import generate
from rgou.train import TrainOptions, train
from rgou.weights import save_weights

GAMES, EPSILON, DATA_SEED = 4400, 0.2, 21
OPTIONS = {
    "value_target": "exact",
    "epochs": 8,
    "learning_rate": 1e-3,
    "lr_decay": 0.8,
    "dropout": 0.0,
    "validation_split": 0.05,
    "batch_size": 256,
    "eval_games": 0,
}


def afterstates(path: Path) -> Dataset:
    """The positions after every move of the perfect-play games, exactly valued: read from path, or made and saved."""
    if path.exists():
        return load_dataset(path)
    data = generate(GAMES, agent="perfect", epsilon=EPSILON, seed=DATA_SEED, value_target="exact", afterstates=True)
    data.save(path)
    return data


def main(beta: float, seed: int, out: str, data_path: str) -> None:
    options = TrainOptions(**OPTIONS, sibling_weight=beta, seed=seed)  # before the work: a bad option fails at once
    data = afterstates(Path(data_path))
    print(f"{len(data):,} samples of {data.num_games:,} games; BETA {beta}, seed {seed}", flush=True)

    def show(record: dict) -> None:
        print(
            f"epoch {record['epoch']}: validation value loss {record['val_value_loss']:.3e}, {record['seconds']:.0f} s",
            flush=True,
        )

    result = train(data, options, on_epoch=show)
    save_weights(out, result.weights)
    epochs = f"best epochs: value {result.best_value_epoch}, policy {result.best_policy_epoch}"
    print(f"wrote {out} ({epochs}, {result.seconds:.0f} s)")


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    main(float(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4] if len(sys.argv) == 5 else "after.npz")
