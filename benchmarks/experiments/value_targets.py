"""Value targets measured by playing strength: outcome, TD(lambda) and exact (docs/training.md reports the outcome).

Every run trains on the same 24,000 depth-2 games (exploration 0.1, seed 1),
with batch 512, no dropout and 5% of the games held out, and plays the model
(ML agent, search depth 0, without the colour swap, as measured) 2,000 paired-dice
games against emm-3 (seed 99).
`exact` needs the solved table (rgou solve). Run one configuration by name:

    python benchmarks/experiments/value_targets.py outcome|outcome-then-td|td-warmup|exact|outcome-batch-32 [OUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

from rgou.agents import MLAgent, make_agent
from rgou.arena import match
from rgou.selfplay import GenerateOptions, generate_files
from rgou.train import PipelineOptions, TrainOptions, train_model
from rgou.weights import load_weights

GAMES, DEPTH, EPSILON, SEED = 24_000, 2, 0.1, 1
BASE = dict(batch_size=512, learning_rate=1e-3, dropout=0.0, patience=100, seed=SEED, validation_split=0.05)
STAGES = {
    "outcome": [dict(epochs=12, patience=3)],
    "outcome-then-td": [
        dict(epochs=12, patience=3),
        dict(epochs=4, patience=2, learning_rate=3e-4, value_target="td:0.8"),  # starts from the first stage
    ],
    "td-warmup": [dict(epochs=12, lr_decay=0.8, value_target="td:0.8", td_warmup=4)],
    "exact": [dict(epochs=10, lr_decay=0.8, value_target="exact")],
    "outcome-batch-32": [dict(epochs=4, batch_size=32, lr_decay=0.8)],
}


def main(name: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    games = out / "games.npz"  # one dataset for every configuration
    if not games.exists():
        written = generate_files(GenerateOptions(GAMES, depth=DEPTH, seed=SEED, epsilon=EPSILON), games)
        print(f"{name}: {written.samples} samples in {written.seconds:.0f} s", flush=True)
    init = None
    for k, stage in enumerate(STAGES[name]):
        training = TrainOptions(**{**BASE, **stage, "init": init})
        run = train_model(
            PipelineOptions(GenerateOptions(), training, eval_games=0),  # measured below, against emm-3 only
            out / f"{name}-{k}.json.gz",
            data=[str(games)],
            force=True,
            on_epoch=lambda r: print(f"  epoch {r['epoch']} {r['seconds']:.0f} s", flush=True),
        )
        init = str(run.output)
        best = f"value {run.result.best_value_epoch}, policy {run.result.best_policy_epoch}"
        print(f"  stage {k}: {run.result.seconds:.0f} s of training, best epochs: {best}", flush=True)
    r = match(MLAgent(load_weights(init), mirrored=False), make_agent("emm-3"), 2000, seed=99)
    lo, hi = r.ci95
    print(f"| {name} | {100 * r.a_win_rate:.1f}% | [{100 * lo:.1f}, {100 * hi:.1f}] | {init} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2] if len(sys.argv) > 2 else "value-targets"))
