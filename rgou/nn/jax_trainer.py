"""The JAX trainer: the step contract of `rgou.nn.contract`, jitted, over the same flat vectors.

::

    trainer = JaxTrainer(TrainConfig(...))
    state = trainer.init(value_params, policy_params)     # TrainState of device arrays
    state, (value_loss, policy_loss) = trainer.step(state, batch)
    state, losses = trainer.run(state, data, order, batch_size)   # many steps in one dispatch
    value_loss, policy_loss = trainer.losses(state, batch)

The network is read from one flat vector through ``layout.unflatten`` (static
slices), so ``jax.grad`` of the loss is a flat vector and Adam's moments are
flat too. `run` keeps a whole block of data on the device and scans over its
minibatches (``lax.scan``), gathering each one by index: one dispatch for
hundreds of steps, the same arithmetic as calling `step` for each (on a GPU
XLA may fuse the two differently: equal to float32 rounding). Losses,
Adam (bias corrections computed in float64 on the host, as the Numba trainer
does) and dropout match ``rgou.nn.numba_trainer``: the masks are the
contract's 32-bit hash of (seed, step, net, layer, row, unit), computed on
the device, so one seed trains one model on either backend (up to float32
rounding) and a checkpoint of one resumes on the other. Standardised
inputs step the first layer as the Numba trainer does (`_adam_scaled_inputs`).

JAX places arrays on its default device: a GPU when jax sees one, else the
CPU. Float64 needs ``jax.enable_x64`` (tests only); this module never turns it on.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rgou.nn.contract import (
    ADAM_BETA1,
    ADAM_BETA2,
    ADAM_EPS,
    HASH_M1,
    HASH_M2,
    STREAM_POLICY,
    STREAM_VALUE,
    Batch,
    TrainConfig,
    TrainState,
    adam_scalars,
    check_batch,
    check_group,
    check_sibling,
    check_train_state,
    dropout_run_key,
    dropout_threshold,
    map_batch,
    shuffle_key,
)
from rgou.nn.layout import NetConfig, check_flat, unflatten

Array = Any
HEADS = ("tanh_mse", "softmax_ce")


def jax_device_description() -> str:
    """Which device JAX trains on, e.g. 'gpu: NVIDIA H100 (1 device)' or 'cpu: cpu (1 device)'."""
    devices = jax.devices()
    first = devices[0]
    kind = getattr(first, "device_kind", str(first))
    return f"{jax.default_backend()}: {kind} ({len(devices)} device{'s' if len(devices) != 1 else ''})"


# Full float32 products on every device, in the backward pass too: a recent NVIDIA GPU would otherwise
# multiply in TF32 (10-bit mantissas). Measured on an H200, 100 steps at batch 64: the parameters differ
# from the Numba trainer's by 9.1e-6 of what training changed with this, by 0.48 with JAX's default.
MATMUL_PRECISION = jax.lax.Precision.HIGHEST


def forward(flat: Array, cfg: NetConfig, X: Array, dropout_rate: float = 0.0, key: Array | None = None) -> Array:
    """Raw outputs [N, out] for X [N, in]; ReLU hidden layers with inverted dropout when key is given.

    key: the step's dropout key (uint32, `dropout_step_key_on_device`); hidden layer k keeps unit i
    (row * units + unit) when hash32(layer_key ^ i) >= T, as `rgou.nn.contract` states.
    """
    layers = unflatten(flat, cfg)
    h = X
    for k, (W, b) in enumerate(layers):
        h = jnp.matmul(h, W, precision=MATMUL_PRECISION) + b
        if k < len(layers) - 1:
            h = jax.nn.relu(h)
            if dropout_rate > 0.0 and key is not None:
                layer_key = _hash32(key ^ _hash32(jnp.uint32(k + 1)))
                rows, units = h.shape
                index = jnp.arange(rows, dtype=jnp.uint32)[:, None] * jnp.uint32(units) + jnp.arange(
                    units, dtype=jnp.uint32
                )
                keep = _hash32(layer_key ^ index) >= jnp.uint32(dropout_threshold(dropout_rate))
                h = jnp.where(keep, h * (1.0 / (1.0 - dropout_rate)), 0.0)
    return h


def dropout_step_key_on_device(run_key: int, step: Array, stream: int) -> Array:
    """`rgou.nn.contract.dropout_step_key` of a traced step count, uint32."""
    return _hash32(_hash32(jnp.uint32(run_key) + step.astype(jnp.uint32)) ^ jnp.uint32(stream))


def _weighted_mean(per_row: Array, weights: Array) -> Array:
    total = jnp.sum(weights)
    return jnp.where(total > 0, jnp.sum(weights * per_row) / jnp.where(total > 0, total, 1.0), 0.0)


def _head_loss(
    logits: Array,
    targets: Array,
    head: str,
    weights: Array,
    legal_mask: Array | None,
    group: Array | None = None,
    sibling_weight: float = 0.0,
) -> Array:
    if head == "tanh_mse":
        e = jnp.tanh(logits) - targets
        per_row = jnp.mean(e**2, axis=1)
        if sibling_weight > 0.0:
            per_row = per_row + sibling_weight * jnp.mean(_sibling_errors(e, weights, group) ** 2, axis=1)
        return _weighted_mean(per_row, weights)
    if head != "softmax_ce":
        raise ValueError(f"expected head in {HEADS}, got {head!r}")
    if legal_mask is not None:
        legal = legal_mask > 0
        legal = jnp.where(jnp.any(legal, axis=1, keepdims=True), legal, True)  # rows without a legal slot
        logits = jnp.where(legal, logits, -jnp.inf)
        targets = jnp.where(legal, targets, 0.0)
    log_probs = logits - jax.scipy.special.logsumexp(logits, axis=1, keepdims=True)
    if legal_mask is not None:
        log_probs = jnp.where(legal, log_probs, 0.0)
    return _weighted_mean(-jnp.sum(targets * log_probs, axis=1), weights)


def _sibling_errors(e: Array, weights: Array, group: Array) -> Array:
    """c [N, out]: each row's error e less the weighted mean error of its run of equal group ids."""
    n = e.shape[0]
    run = jnp.cumsum(jnp.concatenate([jnp.zeros(1, jnp.int32), (group[1:] != group[:-1]).astype(jnp.int32)]))
    w_run = jax.ops.segment_sum(weights, run, n)
    we_run = jax.ops.segment_sum(weights[:, None] * e, run, n)
    mean = jnp.where(w_run[:, None] > 0, we_run / jnp.where(w_run > 0, w_run, 1.0)[:, None], 0.0)
    return e - mean[run]


def loss(
    flat: Array,
    cfg: NetConfig,
    X: Array,
    targets: Array,
    head: str,
    dropout_rate: float = 0.0,
    key: Array | None = None,
    weights: Array | None = None,
    legal_mask: Array | None = None,
    group: Array | None = None,
    sibling_weight: float = 0.0,
) -> Array:
    """Weighted loss: "tanh_mse" (value) or "softmax_ce" (policy, from logits); targets [N, out].

    group [N] sibling ids and sibling_weight (a Python float): the sibling term
    of the value loss (`rgou.nn.contract`).
    """
    if targets.ndim == 1:
        targets = targets[:, None]
    if weights is None:
        weights = jnp.ones(X.shape[0], dtype=X.dtype)
    check_sibling(sibling_weight, group, head)
    logits = forward(flat, cfg, X, dropout_rate, key)
    return _head_loss(logits, targets, head, weights, legal_mask, group, sibling_weight)


def loss_and_grad(
    flat: Array,
    cfg: NetConfig,
    X: Array,
    targets: Array,
    head: str,
    weights: Array | None = None,
    legal_mask: Array | None = None,
    group: Array | None = None,
    sibling_weight: float = 0.0,
) -> tuple[Array, Array]:
    """(loss, d loss / d flat [P]) without dropout, by jax.value_and_grad."""
    check_flat(flat, cfg)
    arrays = [None if a is None else jnp.asarray(a) for a in (weights, legal_mask)]
    group = None if group is None else jnp.asarray(check_group(group, len(X)))
    return _jit_loss_and_grad(
        jnp.asarray(flat), cfg, jnp.asarray(X), jnp.asarray(targets), head, *arrays, group, float(sibling_weight)
    )


@partial(jax.jit, static_argnums=(1, 4, 8))
def _jit_loss_and_grad(flat, cfg, X, targets, head, weights, legal_mask, group, sibling_weight):
    return jax.value_and_grad(loss)(flat, cfg, X, targets, head, 0.0, None, weights, legal_mask, group, sibling_weight)


def _adam(params: Array, grad: Array, m: Array, v: Array, a: Array, s: Array):
    """One Adam update with the step's scalars of `adam_scalars`, in the Numba trainer's order of operations.

    Moments below the dtype's smallest normal number are flushed to zero, as the Numba trainer does.
    """
    tiny = jnp.finfo(params.dtype).tiny
    m = ADAM_BETA1 * m + (1.0 - ADAM_BETA1) * grad
    v = ADAM_BETA2 * v + (1.0 - ADAM_BETA2) * grad * grad
    m = jnp.where(jnp.abs(m) >= tiny, m, 0.0)
    v = jnp.where(v >= tiny, v, 0.0)
    return params - a * m / (jnp.sqrt(v) * s + ADAM_EPS), m, v


def _adam_scaled_inputs(
    params: Array, grad: Array, m: Array, v: Array, a: Array, s: Array, cfg: NetConfig, shift: Array, inv_scale: Array
):
    """`_adam` whose first layer steps in the coordinates of standardised inputs (`rgou.nn.contract`), in the
    Numba trainer's order of operations: the gradient mapped to them, Adam's steps computed from zero, mapped back."""
    n_in, units = cfg.input_size, (cfg.hidden_sizes or (cfg.output_size,))[0]
    n_w = n_in * units
    gw = grad[:n_w].reshape(n_in, units)
    gb = grad[n_w : n_w + units]
    gw = (gw - shift[:, None] * gb[None, :]) * inv_scale[:, None]
    grad = jnp.concatenate([gw.reshape(-1), grad[n_w:]])
    first = n_w + units
    step, m_first, v_first = _adam(jnp.zeros(first, params.dtype), grad[:first], m[:first], v[:first], a, s)
    rest, m_rest, v_rest = _adam(params[first:], grad[first:], m[first:], v[first:], a, s)
    d = step[:n_w].reshape(n_in, units) * inv_scale[:, None]
    w = params[:n_w] + d.reshape(-1)
    b = params[n_w:first] + (step[n_w:first] - jnp.sum(shift[:, None] * d, axis=0))
    return (
        jnp.concatenate([w, b, rest]),
        jnp.concatenate([m_first, m_rest]),
        jnp.concatenate([v_first, v_rest]),
    )


def shuffle_order_on_device(n: int, seed: int, epoch: int) -> Array:
    """`rgou.nn.contract.shuffle_order` computed by JAX (uint32 arithmetic wraps), int32 [n]."""
    key = jnp.uint32(shuffle_key(seed, epoch))
    return jnp.argsort(_hash32(_hash32(jnp.arange(n, dtype=jnp.uint32)) ^ key), stable=True).astype(jnp.int32)


def _hash32(x: Array) -> Array:
    """`rgou.nn.contract`'s 32-bit hash of the shuffle, on the device."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(HASH_M1)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(HASH_M2)
    return x ^ (x >> 16)


class JaxTrainer:
    """The JAX trainer: `init`, `step`, `run` and `evaluate` of `rgou.nn.contract` over device arrays."""

    name = "jax"

    def __init__(self, config: TrainConfig = TrainConfig(), dtype: Any = jnp.float32):
        self.config = config
        self.dtype = dtype
        self._legal = config.policy_loss == "legal"
        self._use_adam = config.optimizer == "adam"
        self._run_key = dropout_run_key(config.seed)
        # standardised inputs: shift and 1 / scale in the trainer's dtype (None: none)
        self._scaling = None
        if config.scaled_inputs:
            self._scaling = (np.array(config.input_shift), 1.0 / np.array(config.input_scale))  # float64
        self._step = jax.jit(self._step_impl)
        self._run = jax.jit(self._run_impl, static_argnames=("batch_size",))
        self._evaluate = jax.jit(self._evaluate_impl)

    def init(self, value_params: np.ndarray, policy_params: np.ndarray) -> TrainState:
        """Device copies of the two flat vectors, zero moments, step 0."""
        check_flat(value_params, self.config.value_cfg)
        check_flat(policy_params, self.config.policy_cfg)
        value = jnp.asarray(value_params, dtype=self.dtype)
        policy = jnp.asarray(policy_params, dtype=self.dtype)
        if self._use_adam:
            moments = [jnp.zeros_like(value), jnp.zeros_like(value), jnp.zeros_like(policy), jnp.zeros_like(policy)]
        else:
            moments = [jnp.zeros(0, self.dtype) for _ in range(4)]
        return TrainState(value, policy, *moments, jnp.asarray(0, jnp.int32))

    def from_numpy(self, state: TrainState) -> TrainState:
        """A state of NumPy arrays (a checkpoint, or the Numba trainer's) on the device."""
        arrays = [jnp.asarray(a, dtype=self.dtype) for a in state[:6]]
        return TrainState(*arrays, jnp.asarray(int(state.step), jnp.int32))

    def to_numpy(self, state: TrainState) -> TrainState:
        """The state as NumPy arrays and an int step (for checkpoints and weight files)."""
        arrays = [np.asarray(jax.device_get(a)) for a in state[:6]]
        return TrainState(*arrays, int(state.step))

    def _losses_and_grads(self, state: TrainState, b: Batch):
        cfg = self.config
        value_key = dropout_step_key_on_device(self._run_key, state.step, STREAM_VALUE)
        policy_key = dropout_step_key_on_device(self._run_key, state.step, STREAM_POLICY)
        mask = b.legal_mask if self._legal else None
        vloss, vgrad = jax.value_and_grad(loss)(
            state.value,
            cfg.value_cfg,
            b.x,
            b.value_target,
            "tanh_mse",
            cfg.dropout_rate,
            value_key,
            b.value_weight,
            None,
            b.group,
            float(cfg.sibling_weight),
        )
        ploss, pgrad = jax.value_and_grad(loss)(
            state.policy,
            cfg.policy_cfg,
            b.x,
            b.policy_target,
            "softmax_ce",
            cfg.dropout_rate,
            policy_key,
            b.policy_weight,
            mask,
        )
        return (vloss, ploss), (vgrad, pgrad)

    def _apply(self, state: TrainState, grads, a: Array, s: Array, lr: Array) -> TrainState:
        vgrad, pgrad = grads
        cfg = self.config
        if self._scaling is not None:
            shift, inv_scale = (jnp.asarray(x, self.dtype) for x in self._scaling)
            value, vm, vv = _adam_scaled_inputs(
                state.value, vgrad, state.value_m, state.value_v, a, s, cfg.value_cfg, shift, inv_scale
            )
            policy, pm, pv = _adam_scaled_inputs(
                state.policy, pgrad, state.policy_m, state.policy_v, a, s, cfg.policy_cfg, shift, inv_scale
            )
        elif self._use_adam:
            value, vm, vv = _adam(state.value, vgrad, state.value_m, state.value_v, a, s)
            policy, pm, pv = _adam(state.policy, pgrad, state.policy_m, state.policy_v, a, s)
        else:
            value, vm, vv = state.value - lr * vgrad, state.value_m, state.value_v
            policy, pm, pv = state.policy - lr * pgrad, state.policy_m, state.policy_v
        return TrainState(value, policy, vm, vv, pm, pv, state.step + 1)

    def _step_impl(self, state: TrainState, b: Batch, bc: Array):
        losses, grads = self._losses_and_grads(state, b)
        return self._apply(state, grads, bc[0], bc[1], bc[2]), losses

    def _run_impl(self, state: TrainState, data: Batch, order: Array, bc: Array, batch_size: int):
        def body(st, inputs):
            start, bc_row = inputs
            rows = jax.lax.dynamic_slice(order, (start,), (batch_size,))
            batch = map_batch(lambda a: jnp.take(a, rows, axis=0), data)
            st, (vloss, ploss) = self._step_impl(st, batch, bc_row)
            return st, jnp.stack([vloss, ploss])

        starts = jnp.arange(bc.shape[0], dtype=jnp.int32) * batch_size
        return jax.lax.scan(body, state, (starts, bc))

    def _step_constants(self, first_step: int, count: int, lr: float | None) -> Array:
        """Per step: Adam's scalars (`adam_scalars`, from float64) and the learning rate, float [count, 3]."""
        rate = self.config.learning_rate if lr is None else lr
        rows = [(*adam_scalars(first_step + k, rate, np.float32), np.float32(rate)) for k in range(count)]
        return jnp.asarray(np.array(rows, dtype=np.float32).reshape(count, 3), dtype=self.dtype)

    def device_batch(self, batch: Batch) -> Batch:
        """A batch as device arrays of the trainer's dtype (sibling ids int32)."""
        n = check_batch(batch, self.config)
        group = None if batch.group is None else jnp.asarray(check_group(batch.group, n))
        return Batch(*(jnp.asarray(a, dtype=self.dtype) for a in batch[:6]), group)

    def step(self, state: TrainState, batch: Batch, lr: float | None = None) -> tuple[TrainState, tuple[Array, Array]]:
        """One optimizer step of both nets on one minibatch; returns (new state, (value_loss, policy_loss)).

        lr: this step's learning rate (default: the config's).
        """
        check_train_state(state, self.config)
        bc = self._step_constants(int(state.step), 1, lr)[0]
        return self._step(state, self.device_batch(batch), bc)

    def run(
        self, state: TrainState, data: Batch, order: Array, batch_size: int, lr: float | None = None
    ) -> tuple[TrainState, Array]:
        """len(order) // batch_size steps over minibatches data[order[k*B:(k+1)*B]], in one dispatch.

        data: a Batch of device arrays (`device_batch`) holding the block; order:
        int32 row indices into it; lr: the steps' learning rate (default: the
        config's). Returns the new state and the losses f32 [steps, 2].
        """
        check_train_state(state, self.config)
        rows = check_batch(data, self.config)
        if int(batch_size) < 1:
            raise ValueError(f"expected a batch size >= 1, got {batch_size}")
        if len(np.shape(order)) != 1:
            raise ValueError(f"order must be 1-d row indices, got shape {np.shape(order)}")
        steps = int(order.shape[0]) // int(batch_size)
        if steps == 0:
            return state, jnp.zeros((0, 2), self.dtype)
        low, high = (int(v) for v in np.asarray(jnp.stack([jnp.min(order), jnp.max(order)])))  # one transfer
        # (an index out of range was read as a row of zeros)
        if low < 0 or high >= rows:
            raise ValueError(f"order must lie in [0, {rows}), got [{low}, {high}]")
        bc = self._step_constants(int(state.step), steps, lr)
        return self._run(state, data, jnp.asarray(order, jnp.int32), bc, batch_size=int(batch_size))

    def _evaluate_impl(self, state: TrainState, b: Batch):
        cfg = self.config
        mask = b.legal_mask if self._legal else None
        vsum = jnp.sum(b.value_weight)
        psum = jnp.sum(b.policy_weight)
        vloss = loss(state.value, cfg.value_cfg, b.x, b.value_target, "tanh_mse", weights=b.value_weight)
        ploss = loss(
            state.policy, cfg.policy_cfg, b.x, b.policy_target, "softmax_ce", weights=b.policy_weight, legal_mask=mask
        )
        return jnp.stack([vloss * vsum, ploss * psum, vsum, psum])

    def outputs(self, state: TrainState, x: np.ndarray, net: str, chunk: int = 65536) -> np.ndarray:
        """Raw outputs of one net ("value" or "policy") for rows x [N, 150], as NumPy float32 [N, out]."""
        flat, cfg = (state.value, self.config.value_cfg) if net == "value" else (state.policy, self.config.policy_cfg)
        parts = [
            np.asarray(_jit_forward(flat, cfg, jnp.asarray(x[s : s + chunk], dtype=self.dtype)))
            for s in range(0, len(x), chunk)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, cfg.output_size), np.float32)

    def losses(self, state: TrainState, batch: Batch, chunk: int = 65536) -> tuple[float, float]:
        """Weighted (value_loss, policy_loss) over any number of rows, without dropout or updates."""
        n = int(batch.x.shape[0])
        sums = np.zeros(4)
        for start in range(0, n, chunk):
            part = map_batch(lambda a, s=start: a[s : s + chunk], batch)
            sums += np.asarray(self._evaluate(state, self.device_batch(part)), dtype=np.float64)
        v = sums[0] / sums[2] if sums[2] > 0 else 0.0
        p = sums[1] / sums[3] if sums[3] > 0 else 0.0
        return float(v), float(p)


_jit_forward = jax.jit(forward, static_argnums=1)


def to_numpy(params: Array) -> np.ndarray:
    """A flat device vector back as a float32 NumPy vector (for weight files)."""
    return np.asarray(jax.device_get(params), dtype=np.float32)
