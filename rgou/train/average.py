"""A moving average of the weights along training: what is validated, kept and written when it is on.

With `TrainOptions.average_decay` d > 0, each net's average starts at the
initial weights and, after every block of AVERAGE_STEPS minibatches (and
after an epoch's last, shorter block), becomes ``k * average + (1 - k) *
weights`` with ``k = d**n`` for the block's n steps, in float32. The
trainer trains the weights exactly as without it; the validation losses,
each net's best epoch and the written weights are the average's. Adam's
steps leave noise of about the learning rate on the weights; the average
smooths it away: a lower validation loss at every epoch, though a value
net's decisions gain far less (docs/training.md, "Averaged weights").

The average is updated on the host between blocks, the same way for both
trainers (`AveragingRunner` wraps either runner), and a checkpoint holds it.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

import numpy as np

from rgou.nn.contract import Batch, TrainState

AVERAGE_STEPS = 256  # minibatches between two updates of the average


class WeightAverage:
    """The moving averages of both nets' weights: float32 vectors, updated in place."""

    def __init__(self, decay: float, value: np.ndarray, policy: np.ndarray):
        self.decay = float(decay)
        self.value = np.array(value, dtype=np.float32)  # own copies: the trainers update their weights in place
        self.policy = np.array(policy, dtype=np.float32)

    def update(self, state: TrainState, steps: int) -> None:
        """Move the averages towards the weights of `state` after `steps` more minibatches."""
        keep = np.float32(self.decay**steps)
        for average, weights in ((self.value, state.value), (self.policy, state.policy)):
            average *= keep
            average += (np.float32(1) - keep) * np.asarray(weights, dtype=np.float32)

    def state_of(self, state: TrainState) -> TrainState:
        """`state` with the averages in place of its weights (to validate or keep them)."""
        return state._replace(value=self.value, policy=self.policy)


class AveragingRunner:
    """Either runner (`rgou.train.runners`), its epochs and step streams cut into blocks of AVERAGE_STEPS
    minibatches, the average updated after each. The blocks change nothing of the training: a trainer's
    state carries its step count, dropout and the shuffle depend on it and on the epoch only."""

    def __init__(self, runner, average: WeightAverage):
        self.runner = runner
        self.average = average

    def epoch(self, state: TrainState, order: np.ndarray, batch_size: int, lr: float) -> tuple[TrainState, np.ndarray]:
        steps = len(order) // batch_size
        parts = [np.zeros((0, 2))]
        for first in range(0, steps, AVERAGE_STEPS):
            last = min(steps, first + AVERAGE_STEPS)
            state, losses = self.runner.epoch(state, order[first * batch_size : last * batch_size], batch_size, lr)
            self.average.update(state, last - first)
            parts.append(losses)
        return state, np.concatenate(parts)

    def steps(self, state: TrainState, batches: Iterator[Batch], lr: float) -> tuple[TrainState, np.ndarray]:
        """Blocks of a stream, read as the runner takes them: a stream may reuse one buffer for every batch."""
        batches = iter(batches)
        parts = [np.zeros((0, 2))]
        while True:
            state, losses = self.runner.steps(state, islice(batches, AVERAGE_STEPS), lr)  # a loss row a step
            if not len(losses):
                return state, np.concatenate(parts)
            self.average.update(state, len(losses))
            parts.append(losses)

    def init(self, value: np.ndarray, policy: np.ndarray) -> TrainState:
        return self.runner.init(value, policy)

    def restore(self, state: TrainState) -> TrainState:
        return self.runner.restore(state)

    def to_numpy(self, state: TrainState) -> TrainState:
        return self.runner.to_numpy(state)

    def set_value_targets(self, targets: np.ndarray) -> None:
        self.runner.set_value_targets(targets)

    def validate(self, state: TrainState, batch: Batch) -> tuple[float, float, np.ndarray]:
        return self.runner.validate(state, batch)

    def outputs(self, state: TrainState, x: np.ndarray, net: str) -> np.ndarray:
        return self.runner.outputs(state, x, net)
