"""The two trainers behind one interface: epochs of minibatches, validation, outputs.

`NumbaRunner` drives `rgou.nn.numba_trainer` (rows gathered inside the
kernel, blocks of STEPS_PER_CALL steps per call so Ctrl-C stays prompt);
`JaxRunner` drives `rgou.nn.jax_trainer` (the training rows live on the
device; one dispatch per block of JAX_BLOCK_STEPS steps). Both follow the
step contract of `rgou.nn.contract`, so a seed gives the same run on either.

Training rows whose features are computed when read (`rgou.dataset.StateFeatures`,
a large dataset) are gathered a block of steps at a time, at most
GATHERED_ROWS rows, before the trainer sees them: the same rows in the same
order, so the same run, bit for bit, with memory for one block of features.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from rgou.nn.contract import Batch, TrainConfig, TrainState, concat_batches, map_batch

JAX_BLOCK_STEPS = 256  # minibatches per JAX dispatch (one lax.scan)
STEPS_PER_CALL = 1024  # minibatches per Numba trainer call (about 0.3 s at batch 32: Ctrl-C stays prompt)
GATHERED_ROWS = 1 << 16  # most rows gathered at a time from features computed when read (40 MB of features)


def _features_computed(data: Batch | None) -> bool:
    """Whether data's features are computed when read (`rgou.dataset.StateFeatures`): gathered a block at a time."""
    return data is not None and not isinstance(data.x, np.ndarray)


def _block_steps(data: Batch | None, batch_size: int, steps: int) -> int:
    """Steps a block: `steps`, fewer when the features are computed when read (at most GATHERED_ROWS rows)."""
    return max(1, min(steps, GATHERED_ROWS // batch_size)) if _features_computed(data) else steps


def _gathered(data: Batch, rows: np.ndarray) -> tuple[Batch, np.ndarray]:
    """(data, rows) as a trainer reads them: when the features are computed when read, the rows gathered into
    arrays of their own (float32; the masks are kept bool until then) and rows 0..len - 1; else unchanged."""
    if not _features_computed(data):
        return data, rows
    return gather_rows(data, rows), np.arange(len(rows))


def gather_rows(data: Batch, rows: np.ndarray | slice) -> Batch:
    """The rows of `data` as a Batch of float32 arrays (features computed, masks made float32 when they are
    not yet; a slice of float32 arrays is a view)."""
    gathered = (np.ascontiguousarray(a[rows], dtype=np.float32) for a in data[:6])
    return Batch(*gathered, None if data.group is None else data.group[rows])


class NumbaRunner:
    """Epochs on the Numba trainer: blocks of STEPS_PER_CALL minibatches per call, rows gathered in the kernel."""

    def __init__(self, config: TrainConfig, train: Batch | None):
        from rgou.nn.numba_trainer import NumbaTrainer

        self.trainer = NumbaTrainer(config)
        self.data = train

    def init(self, value: np.ndarray, policy: np.ndarray) -> TrainState:
        return self.trainer.init(value, policy)

    def restore(self, state: TrainState) -> TrainState:
        return state

    def to_numpy(self, state: TrainState) -> TrainState:
        return state

    def set_value_targets(self, targets: np.ndarray) -> None:
        self.data.value_target[:] = targets

    def epoch(self, state: TrainState, order: np.ndarray, batch_size: int, lr: float) -> tuple[TrainState, np.ndarray]:
        from rgou.nn.numba_trainer import single_threaded_blas

        steps = len(order) // batch_size
        losses = np.zeros((steps, 2))
        block = _block_steps(self.data, batch_size, STEPS_PER_CALL)
        with single_threaded_blas():
            for first in range(0, steps, block):
                last = min(steps, first + block)
                data, rows = _gathered(self.data, order[first * batch_size : last * batch_size])
                state, losses[first:last] = self.trainer.steps(state, data, rows, batch_size, lr)
        return state, losses

    def steps(self, state: TrainState, batches: Iterator[Batch], lr: float) -> tuple[TrainState, np.ndarray]:
        """One step per batch of a stream (each of exactly the batch size)."""
        from rgou.nn.numba_trainer import single_threaded_blas

        losses = []
        with single_threaded_blas():
            for batch in batches:
                state, step_losses = self.trainer.step(state, batch, lr)
                losses.append(step_losses)
        return state, np.array(losses, dtype=np.float64).reshape(-1, 2)

    def validate(self, state: TrainState, batch: Batch) -> tuple[float, float, np.ndarray]:
        """(value loss, policy loss, policy logits) in one forward pass per net."""
        logits = np.empty((len(batch.x), self.trainer.config.policy_cfg.output_size), np.float32)
        vloss, ploss = self.trainer.losses(state, batch, logits)
        return vloss, ploss, logits

    def outputs(self, state: TrainState, x: np.ndarray, net: str) -> np.ndarray:
        return self.trainer.outputs(state, x, net)


class JaxRunner:
    """Epochs on the JAX trainer: the training rows live on the device; one dispatch per block of steps."""

    def __init__(self, config: TrainConfig, train: Batch | None):
        require_jax()
        from rgou.nn.jax_trainer import JaxTrainer

        self.trainer = JaxTrainer(config)
        self.host = train  # None when training from shards: batches arrive through steps()
        # None too when the features are computed when read: each block's rows go to the device in turn
        self.device = None if train is None or _features_computed(train) else self.trainer.device_batch(train)

    def init(self, value: np.ndarray, policy: np.ndarray) -> TrainState:
        return self.trainer.init(value, policy)

    def restore(self, state: TrainState) -> TrainState:
        return self.trainer.from_numpy(state)

    def to_numpy(self, state: TrainState) -> TrainState:
        return self.trainer.to_numpy(state)

    def set_value_targets(self, targets: np.ndarray) -> None:
        import jax.numpy as jnp

        self.host.value_target[:] = targets
        if self.device is not None:
            self.device = self.device._replace(value_target=jnp.asarray(targets))

    def epoch(self, state: TrainState, order: np.ndarray, batch_size: int, lr: float) -> tuple[TrainState, np.ndarray]:
        import jax.numpy as jnp

        steps = len(order) // batch_size
        parts = []
        block_steps = _block_steps(self.host, batch_size, JAX_BLOCK_STEPS)
        for start in range(0, steps, block_steps):
            count = min(block_steps, steps - start)
            rows = order[start * batch_size : (start + count) * batch_size]
            data = self.device
            if data is None:  # features computed when read: this block's rows only
                host, rows = _gathered(self.host, rows)
                data = self.trainer.device_batch(host)
            state, losses = self.trainer.run(state, data, jnp.asarray(rows, jnp.int32), batch_size, lr)
            parts.append(np.asarray(losses, dtype=np.float64))
        return state, (np.concatenate(parts) if parts else np.zeros((0, 2)))

    def steps(self, state: TrainState, batches: Iterator[Batch], lr: float) -> tuple[TrainState, np.ndarray]:
        """One step per batch of a stream: blocks of JAX_BLOCK_STEPS batches go to the device together."""
        import jax.numpy as jnp

        parts = []
        block: list[Batch] = []

        def flush(state: TrainState) -> TrainState:
            size = len(block[0].x)
            data = self.trainer.device_batch(concat_batches(block))
            state, losses = self.trainer.run(state, data, jnp.arange(len(block) * size, dtype=jnp.int32), size, lr)
            parts.append(np.asarray(losses, dtype=np.float64))
            block.clear()
            return state

        for batch in batches:
            block.append(map_batch(np.array, batch))
            if len(block) == JAX_BLOCK_STEPS:
                state = flush(state)
        if block:
            state = flush(state)
        return state, (np.concatenate(parts) if parts else np.zeros((0, 2)))

    def validate(self, state: TrainState, batch: Batch) -> tuple[float, float, np.ndarray]:
        """(value loss, policy loss, policy logits)."""
        return (*self.trainer.losses(state, batch), self.trainer.outputs(state, batch.x, "policy"))

    def outputs(self, state: TrainState, x: np.ndarray, net: str) -> np.ndarray:
        return self.trainer.outputs(state, x, net)


def make_runner(config: TrainConfig, backend: str, train: Batch | None):
    """The runner of `backend` ("numba" or "jax") for these nets and training rows (None: streamed batches)."""
    return (NumbaRunner if backend == "numba" else JaxRunner)(config, train)


def jax_device() -> str:
    """Which device the JAX trainer would use (e.g. 'gpu: NVIDIA H100 (1 device)'), or what is wrong."""
    try:
        return require_jax()
    except ValueError as e:
        return str(e)


def require_jax() -> str:
    """The device the JAX trainer would use, or a ValueError saying what to install or set: JAX missing, or a
    backend that does not start (JAX_PLATFORMS=cuda on a CPU build raised inside JAX, a traceback)."""
    try:
        from rgou.nn.jax_trainer import jax_device_description
    except ImportError as e:
        raise ValueError(f"--backend jax needs JAX: pip install 'rgou[jax]' (or jax[cuda12] for a GPU) ({e})") from e
    try:
        return jax_device_description()
    except Exception as e:  # JAX's own error, of whatever type its backend raises
        platforms = os.environ.get("JAX_PLATFORMS")
        setting = f" (JAX_PLATFORMS={platforms})" if platforms else ""
        detail = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        raise ValueError(f"--backend jax: JAX found no device to run on{setting} ({detail})") from e
