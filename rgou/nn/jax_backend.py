"""JAX trainer over the same flat parameter vectors as the Numba trainer.

The network is read from one flat vector through ``layout.unflatten`` (static
slices, so ``jax.grad`` of ``loss(flat)`` is a flat vector and the optimizer
state is flat too). Losses, Adam and the dropout placement match
``rgou.nn.numba_backend``; dropout masks come from ``jax.random`` and so differ
from the Numba ones (both are inverted dropout at the same rate).

Contract::

    forward(flat, cfg, X, dropout_rate=0.0, key=None) -> logits [N, out]
    loss(flat, cfg, X, targets, head, dropout_rate=0.0, key=None) -> scalar
    loss_and_grad(flat, cfg, X, targets, head) -> (loss, grad [P])   (no dropout)
    adam_init(params) -> AdamState;  adam_update(params, grad, state, lr) -> (params, state)
    init_train_state(value_params, policy_params, optimizer="adam") -> TrainState
    make_train_step(value_cfg, policy_cfg, learning_rate, dropout_rate, optimizer)
        -> jitted step(state, X, value_target [N], policy_target [N, 7], key)
           -> (state, (value_loss, policy_loss))
    make_eval_losses(value_cfg, policy_cfg) -> jitted fn(state, X, vt, pt) -> (vloss, ploss)
    jax_device_description() -> str

JAX places arrays on its default device: a GPU when jax sees one, else the
CPU. Float64 needs ``jax.enable_x64`` (tests only); this module never turns it on.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from rgou.nn.layout import POLICY_CONFIG, VALUE_CONFIG, NetConfig, check_flat, unflatten
from rgou.nn.numba_backend import ADAM_BETA1, ADAM_BETA2, ADAM_EPS, DEFAULT_DROPOUT_RATE, HEADS, OPTIMIZERS

Array = Any


def jax_device_description() -> str:
    """Which device JAX trains on, e.g. 'gpu: NVIDIA H100 (1 device)' or 'cpu: cpu (1 device)'."""
    devices = jax.devices()
    first = devices[0]
    kind = getattr(first, "device_kind", str(first))
    return f"{jax.default_backend()}: {kind} ({len(devices)} device{'s' if len(devices) != 1 else ''})"


def forward(flat: Array, cfg: NetConfig, X: Array, dropout_rate: float = 0.0, key: Array | None = None) -> Array:
    """Raw outputs [N, out] for X [N, in]; ReLU hidden layers with inverted dropout when key is given."""
    layers = unflatten(flat, cfg)
    h = X
    for k, (W, b) in enumerate(layers):
        h = h @ W + b
        if k < len(layers) - 1:
            h = jax.nn.relu(h)
            if dropout_rate > 0.0 and key is not None:
                keep = jax.random.bernoulli(jax.random.fold_in(key, k), 1.0 - dropout_rate, h.shape)
                h = jnp.where(keep, h / (1.0 - dropout_rate), 0.0)
    return h


def _head_loss(logits: Array, targets: Array, head: str) -> Array:
    if head == "tanh_mse":
        return jnp.mean((jnp.tanh(logits) - targets) ** 2)
    if head == "softmax_ce":
        log_probs = logits - jax.scipy.special.logsumexp(logits, axis=1, keepdims=True)
        return -jnp.mean(jnp.sum(targets * log_probs, axis=1))
    raise ValueError(f"expected head in {sorted(HEADS)}, got {head!r}")


def loss(
    flat: Array,
    cfg: NetConfig,
    X: Array,
    targets: Array,
    head: str,
    dropout_rate: float = 0.0,
    key: Array | None = None,
) -> Array:
    """Mean loss: "tanh_mse" (value) or "softmax_ce" (policy, from logits). targets [N, out]."""
    if targets.ndim == 1:
        targets = targets[:, None]
    return _head_loss(forward(flat, cfg, X, dropout_rate, key), targets, head)


def loss_and_grad(flat: Array, cfg: NetConfig, X: Array, targets: Array, head: str) -> tuple[Array, Array]:
    """(loss, d loss / d flat [P]) without dropout, by jax.value_and_grad."""
    check_flat(flat, cfg)
    return _jit_loss_and_grad(jnp.asarray(flat), cfg, jnp.asarray(X), jnp.asarray(targets), head)


_jit_loss_and_grad = jax.jit(jax.value_and_grad(loss), static_argnums=(1, 4))


class AdamState(NamedTuple):
    """Adam state over one flat vector."""

    m: Array  # [P] first moment
    v: Array  # [P] second moment
    step: Array  # int32 scalar, updates done


def adam_init(params: Array) -> AdamState:
    """Zero moments for params [P]."""
    return AdamState(jnp.zeros_like(params), jnp.zeros_like(params), jnp.zeros((), jnp.int32))


def adam_update(
    params: Array,
    grad: Array,
    state: AdamState,
    lr: float,
    b1: float = ADAM_BETA1,
    b2: float = ADAM_BETA2,
    eps: float = ADAM_EPS,
) -> tuple[Array, AdamState]:
    """One bias-corrected Adam step: p - lr * m_hat / (sqrt(v_hat) + eps)."""
    step = state.step + 1
    m = b1 * state.m + (1.0 - b1) * grad
    v = b2 * state.v + (1.0 - b2) * grad * grad
    t = step.astype(params.dtype)
    m_hat = m / (1.0 - b1**t)
    v_hat = v / (1.0 - b2**t)
    return params - lr * m_hat / (jnp.sqrt(v_hat) + eps), AdamState(m, v, step)


class SGDState(NamedTuple):
    """Plain SGD state."""

    step: Array  # int32 scalar


def sgd_init(params: Array) -> SGDState:
    """SGD state for params [P]."""
    return SGDState(jnp.zeros((), jnp.int32))


def sgd_update(params: Array, grad: Array, state: SGDState, lr: float) -> tuple[Array, SGDState]:
    """p - lr * grad."""
    return params - lr * grad, SGDState(state.step + 1)


class TrainState(NamedTuple):
    """Both nets and their optimizer states (a pytree)."""

    value: Array  # [P_value]
    policy: Array  # [P_policy]
    value_opt: AdamState | SGDState
    policy_opt: AdamState | SGDState


def init_train_state(
    value_params: np.ndarray, policy_params: np.ndarray, optimizer: str = "adam", dtype: Any = jnp.float32
) -> TrainState:
    """Device copies of the two flat vectors plus fresh optimizer states."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"expected optimizer in {OPTIMIZERS}, got {optimizer!r}")
    value = jnp.asarray(value_params, dtype=dtype)
    policy = jnp.asarray(policy_params, dtype=dtype)
    init = adam_init if optimizer == "adam" else sgd_init
    return TrainState(value, policy, init(value), init(policy))


def make_train_step(
    value_cfg: NetConfig = VALUE_CONFIG,
    policy_cfg: NetConfig = POLICY_CONFIG,
    learning_rate: float = 1e-3,
    dropout_rate: float = DEFAULT_DROPOUT_RATE,
    optimizer: str = "adam",
) -> Callable[..., tuple[TrainState, tuple[Array, Array]]]:
    """A jitted step(state, X [N,in], vt [N], pt [N,7], key) -> (state, (value_loss, policy_loss)).

    Both nets see the same minibatch; key (jax.random key) drives dropout.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"expected optimizer in {OPTIMIZERS}, got {optimizer!r}")
    if not 0.0 <= dropout_rate < 1.0:
        raise ValueError(f"expected a dropout rate in [0, 1), got {dropout_rate}")
    update = adam_update if optimizer == "adam" else sgd_update
    value_grad = jax.value_and_grad(partial(loss, cfg=value_cfg, head="tanh_mse", dropout_rate=dropout_rate))
    policy_grad = jax.value_and_grad(partial(loss, cfg=policy_cfg, head="softmax_ce", dropout_rate=dropout_rate))

    @jax.jit
    def step(state: TrainState, X: Array, value_target: Array, policy_target: Array, key: Array):
        value_key, policy_key = jax.random.split(key)
        vloss, vgrad = value_grad(state.value, X=X, targets=value_target, key=value_key)
        ploss, pgrad = policy_grad(state.policy, X=X, targets=policy_target, key=policy_key)
        value, value_opt = update(state.value, vgrad, state.value_opt, learning_rate)
        policy, policy_opt = update(state.policy, pgrad, state.policy_opt, learning_rate)
        return TrainState(value, policy, value_opt, policy_opt), (vloss, ploss)

    return step


def make_eval_losses(
    value_cfg: NetConfig = VALUE_CONFIG, policy_cfg: NetConfig = POLICY_CONFIG
) -> Callable[..., tuple[Array, Array]]:
    """A jitted fn(state, X, vt, pt) -> (value_loss, policy_loss) without dropout."""

    @jax.jit
    def evaluate(state: TrainState, X: Array, value_target: Array, policy_target: Array):
        return (
            loss(state.value, value_cfg, X, value_target, "tanh_mse"),
            loss(state.policy, policy_cfg, X, policy_target, "softmax_ce"),
        )

    return evaluate


def to_numpy(params: Array) -> np.ndarray:
    """A flat device vector back as a float32 NumPy vector (for weight files)."""
    return np.asarray(jax.device_get(params), dtype=np.float32)
