"""Training: the options, the data sources, the two trainers behind one loop, checkpoints and the pipeline.

- `options`: `TrainOptions` (the trainer's), `PipelineOptions` (the stages of
  `rgou train`), presets (`load_config`, `resolve_options`);
- `sources`: the samples in memory or streamed from shards (`read_data`);
- `runners`: the Numba and JAX trainers behind one interface;
- `checkpoint`: written after every epoch, validated when read;
- `loop`: `train(data, options)`, epochs and early stopping;
- `pipeline`: `train_model(options)`, everything `rgou train` does.
"""

from rgou.train.checkpoint import checkpoint_path, checkpoint_weights
from rgou.train.loop import TrainResult, train
from rgou.train.options import PipelineOptions, TrainOptions, load_config, resolve_options
from rgou.train.pipeline import TrainingRun, train_model
from rgou.train.sources import data_depth, data_players, read_data, split_by_game, value_targets, with_exact_targets

__all__ = [
    "PipelineOptions",
    "TrainOptions",
    "TrainResult",
    "TrainingRun",
    "checkpoint_path",
    "checkpoint_weights",
    "data_depth",
    "data_players",
    "load_config",
    "read_data",
    "resolve_options",
    "split_by_game",
    "train",
    "train_model",
    "value_targets",
    "with_exact_targets",
]
