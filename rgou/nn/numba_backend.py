"""Hand-written CPU trainer and inference kernels over flat parameter vectors.

Parameters are the flat vectors of ``rgou.nn.layout`` (float32 in practice;
every kernel also compiles for float64, which the gradient checks use).
``sizes`` is always ``layout.layer_sizes(cfg)`` (int64 [L+1]).

Inference (njit-callable from other njit code, allocation-free)::

    forward_one_into(flat, sizes, x, out, work) -> None
        flat f32[P], sizes i64[L+1], x f32[in], out f32[out] (raw logits),
        work f32[INFERENCE_WORK_ROWS, >= max layer width] (scratch).
    value_policy_one(value_flat, value_sizes, policy_flat, policy_sizes,
                     x, policy_out, work) -> float
        tanh value of one position (P2's view) and its softmax policy written
        to policy_out f32[7]; work from make_inference_work().
    forward_logits_into(flat, sizes, X, out, work) -> None
        X f32[N, in] C-contiguous, out f32[N, out]: one row at a time.
    softmax_into(logits, out) -> None     stable softmax of a 1-D vector.

Python wrappers: ``make_inference_work(*cfgs)``, ``predict_value(flat, X)``
-> f32[N] and ``predict_policy(flat, X)`` -> f32[N, 7].

The single-position kernel accumulates ``y += x[i] * W[i, :]`` over the rows
of the ``[in][out]`` matrix (vectorised over outputs) and skips zero inputs,
which are most of the 150 features and about half of the ReLU activations.

Training (pure function pairs over one flat vector)::

    loss_and_grad(flat, cfg, X, targets, head, dropout_rate=0.0, seed=0)
        -> (loss, grad [P])  head "tanh_mse" (value) or "softmax_ce" (policy)
    adam_init(params) -> AdamState;  adam_update(params, grad, state, lr, ...)
    sgd_init(params) -> SGDState;    sgd_update(params, grad, state, lr)
    make_trainer(value_params, policy_params, ...) -> Trainer
    train_step(trainer, X, value_target, policy_target) -> (value_loss, policy_loss)
    evaluate_losses(trainer, X, value_target, policy_target) -> (value_loss, policy_loss)

Losses: value = mean over batch and outputs of (tanh(z) - t)^2; policy =
mean over the batch of -sum_j t_j log softmax(z)_j, from the logits via
log-sum-exp (gradient softmax(z) * sum(t) - t, i.e. softmax - t for one-hot
targets). Hidden layers use inverted dropout: a unit is kept when a
counter-based hash of (seed, layer, row, unit) is >= rate, and kept
activations are scaled by 1 / (1 - rate), so masks depend only on the seed,
never on threads or call order. Matrix products use BLAS (``np.dot`` inside
njit, multithreaded); the input gradient of the first layer is never computed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from numba import prange

from rgou._numba import njit
from rgou._random import splitmix64
from rgou.nn.layout import (
    POLICY_CONFIG,
    VALUE_CONFIG,
    NetConfig,
    bias_offset,
    check_flat,
    layer_sizes,
    weight_offset,
)

HEAD_TANH_MSE = 0
HEAD_SOFTMAX_CE = 1
HEADS = {"tanh_mse": HEAD_TANH_MSE, "softmax_ce": HEAD_SOFTMAX_CE}
DEFAULT_DROPOUT_RATE = 0.1
ADAM_BETA1 = 0.9
ADAM_BETA2 = 0.999
ADAM_EPS = 1e-8
INFERENCE_WORK_ROWS = 3  # two ping-pong rows for hidden layers, one for a net's output
STREAM_VALUE = 0  # dropout seed streams of the two nets
STREAM_POLICY = 1
_U53 = 1.0 / 9007199254740992.0  # 2**-53


# ---------------------------------------------------------------- inference


@njit
def _dense_one(flat, w_off, n_in, n_out, src, dst, relu):
    """dst[:n_out] = act(src[:n_in] @ W + b) for one row, skipping zero inputs."""
    # uint64 indices: numba then emits no negative-index wraparound, so LLVM
    # vectorises the inner loops (about 6x faster than int64 indices).
    b_off = w_off + n_in * n_out
    for j in range(n_out):
        dst[np.uint64(j)] = flat[np.uint64(b_off + j)]
    for i in range(n_in):
        xi = src[np.uint64(i)]
        if xi != 0.0:
            row = w_off + i * n_out
            for j in range(n_out):
                dst[np.uint64(j)] += xi * flat[np.uint64(row + j)]
    if relu:
        for j in range(n_out):
            if dst[np.uint64(j)] < 0.0:
                dst[np.uint64(j)] = 0.0


@njit
def forward_one_into(flat, sizes, x, out, work):
    """Raw output-layer values (logits) of one input.

    flat f32/f64 [P]; sizes int64 [L+1]; x [sizes[0]]; out [sizes[L]] (written);
    work [>=2, >= max hidden width] scratch. Allocates nothing.
    """
    forward_one_from_into(flat, sizes, 0, x, out, work)


@njit
def forward_one_from_into(flat, sizes, first, x, out, work):
    """Like forward_one_into, from layer `first` on: x is that layer's input.

    With first = 1, x holds the first hidden layer's activations, so callers
    that share most of the first layer between inputs compute it once.
    """
    n_layers = sizes.shape[0] - 1
    src = x
    for k in range(first, n_layers):
        w_off = weight_offset(sizes, k)
        if k == n_layers - 1:
            _dense_one(flat, w_off, sizes[k], sizes[k + 1], src, out, False)
        else:
            dst = work[k % 2]
            _dense_one(flat, w_off, sizes[k], sizes[k + 1], src, dst, True)
            src = dst


@njit
def dense_into(flat, sizes, layer, x, out, relu):
    """out[:n_out] = x @ W + b for layer `layer` alone (ReLU if relu), skipping zero inputs."""
    _dense_one(flat, weight_offset(sizes, layer), sizes[layer], sizes[layer + 1], x, out, relu)


@njit
def softmax_into(logits, out):
    """out[:] = softmax(logits) for a 1-D vector (max-shifted, stable)."""
    n = logits.shape[0]
    top = logits[0]
    for j in range(1, n):
        if logits[j] > top:
            top = logits[j]
    total = 0.0
    for j in range(n):
        e = np.exp(logits[j] - top)
        out[j] = e
        total += e
    inv = 1.0 / total
    for j in range(n):
        out[j] = out[j] * inv


@njit
def value_policy_one(value_flat, value_sizes, policy_flat, policy_sizes, x, policy_out, work):
    """tanh value of one position x [150], and its softmax policy into policy_out [7].

    work: make_inference_work() (row 2 holds the value net's output). No allocation.
    """
    value_out = work[2, : value_sizes[value_sizes.shape[0] - 1]]
    forward_one_into(value_flat, value_sizes, x, value_out, work)
    forward_one_into(policy_flat, policy_sizes, x, policy_out, work)
    softmax_into(policy_out, policy_out)
    return np.tanh(value_out[0])


@njit
def forward_logits_into(flat, sizes, X, out, work):
    """Raw outputs for a batch: X [N, in] C-contiguous -> out [N, out]."""
    for r in range(X.shape[0]):
        forward_one_into(flat, sizes, X[r], out[r], work)


def make_inference_work(*cfgs: NetConfig, dtype: Any = np.float32) -> np.ndarray:
    """Scratch for the inference kernels: [INFERENCE_WORK_ROWS, max width of cfgs]."""
    if not cfgs:
        cfgs = (VALUE_CONFIG, POLICY_CONFIG)
    width = max(int(layer_sizes(cfg)[1:].max()) for cfg in cfgs)
    return np.zeros((INFERENCE_WORK_ROWS, width), dtype=dtype)


def _as_batch(X: Any, cfg: NetConfig, dtype: Any) -> np.ndarray:
    X = np.ascontiguousarray(X, dtype=dtype)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] != cfg.input_size:
        raise ValueError(f"expected inputs of shape (N, {cfg.input_size}), got {X.shape}")
    return X


def predict_logits(flat: np.ndarray, X: np.ndarray, cfg: NetConfig) -> np.ndarray:
    """Raw outputs [N, cfg.output_size] of the net ``flat`` for inputs X [N, in] (dtype of flat)."""
    check_flat(flat, cfg)
    flat = np.ascontiguousarray(flat)
    X = _as_batch(X, cfg, flat.dtype)
    out = np.empty((X.shape[0], cfg.output_size), dtype=flat.dtype)
    forward_logits_into(flat, layer_sizes(cfg), X, out, make_inference_work(cfg, dtype=flat.dtype))
    return out


def predict_value(flat: np.ndarray, X: np.ndarray, cfg: NetConfig = VALUE_CONFIG) -> np.ndarray:
    """Value-net outputs tanh(z), shape [N] (P2's point of view), for X [N, 150]."""
    return np.tanh(predict_logits(flat, X, cfg)[:, 0])


def predict_policy(flat: np.ndarray, X: np.ndarray, cfg: NetConfig = POLICY_CONFIG) -> np.ndarray:
    """Policy-net softmax outputs [N, 7] for X [N, 150]."""
    logits = predict_logits(flat, X, cfg)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------- dropout


@njit
def _layer_stream(seed, layer):
    return splitmix64(seed ^ splitmix64(np.uint64(layer + 1)))


@njit
def _keep_unit(stream, index, rate):
    """True when unit ``index`` of a layer's stream survives dropout at ``rate``."""
    u = (splitmix64(stream ^ np.uint64(index)) >> np.uint64(11)) * _U53
    return u >= rate


@njit
def _mix_seed(seed, step, stream):
    return splitmix64(splitmix64(seed ^ splitmix64(np.uint64(step))) ^ np.uint64(stream))


@njit
def _dropout_scale_kernel(n_rows, n_cols, rate, seed, layer, out):
    stream = _layer_stream(seed, layer)
    inv_keep = 1.0 / (1.0 - rate)
    for r in range(n_rows):
        for j in range(n_cols):
            out[r, j] = inv_keep if _keep_unit(stream, r * n_cols + j, rate) else 0.0


def dropout_scale(shape: tuple[int, int], rate: float, seed: int, layer: int) -> np.ndarray:
    """The dropout multiplier f64 [rows, units] (0 or 1/(1-rate)) used for hidden layer ``layer``.

    ``seed`` is the per-step seed passed to ``loss_and_grad``.
    """
    _check_rate(rate)
    out = np.empty(shape, dtype=np.float64)
    _dropout_scale_kernel(shape[0], shape[1], float(rate), _seed64(seed), layer, out)
    return out


def _seed64(seed: int) -> np.uint64:
    """Any Python int as the uint64 seed the kernels take (two's complement for negatives)."""
    return np.uint64(int(seed) & 0xFFFFFFFFFFFFFFFF)


def _check_rate(rate: float) -> None:
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"expected a dropout rate in [0, 1), got {rate}")


# ---------------------------------------------------------------- training kernels


@njit
def _bias_activate(Z, flat, b_off, hidden, rate, seed, layer):
    """Z += b; for hidden layers ReLU then inverted dropout (in place)."""
    n, n_out = Z.shape
    for r in range(n):
        for j in range(n_out):
            Z[r, j] += flat[b_off + j]
    if not hidden:
        return
    if rate > 0.0:
        stream = _layer_stream(seed, layer)
        inv_keep = 1.0 / (1.0 - rate)
        for r in range(n):
            for j in range(n_out):
                z = Z[r, j]
                if z > 0.0 and _keep_unit(stream, r * n_out + j, rate):
                    Z[r, j] = z * inv_keep
                else:
                    Z[r, j] = 0.0
    else:
        for r in range(n):
            for j in range(n_out):
                if Z[r, j] < 0.0:
                    Z[r, j] = 0.0


@njit
def _head_loss_grad(Z, T, D, head):
    """Loss (float64) of the output layer Z [n, out] and dLoss/dZ into D [n, out]."""
    n, n_out = Z.shape
    loss = 0.0
    if head == HEAD_TANH_MSE:
        scale = 1.0 / (n * n_out)
        for r in range(n):
            for j in range(n_out):
                y = np.tanh(Z[r, j])
                diff = y - T[r, j]
                loss += diff * diff
                D[r, j] = 2.0 * scale * diff * (1.0 - y * y)
        return loss * scale
    inv_n = 1.0 / n
    for r in range(n):
        top = Z[r, 0]
        for j in range(1, n_out):
            if Z[r, j] > top:
                top = Z[r, j]
        total = 0.0
        t_sum = 0.0
        for j in range(n_out):
            e = np.exp(Z[r, j] - top)
            D[r, j] = e
            total += e
            t_sum += T[r, j]
        lse = top + np.log(total)
        for j in range(n_out):
            loss += T[r, j] * (lse - Z[r, j])
            D[r, j] = (D[r, j] / total * t_sum - T[r, j]) * inv_n
    return loss * inv_n


@njit
def _loss_and_grad_kernel(flat, sizes, X, T, head, rate, seed, acts, delta, grad, want_grad):
    """Forward (with dropout), loss and, if want_grad, the full gradient into grad.

    acts [>= n * sum(sizes[1:])] and delta [2, >= n * max width] are scratch.
    """
    n = X.shape[0]
    n_layers = sizes.shape[0] - 1
    a_off = 0
    p_off = 0
    for k in range(n_layers):
        n_in = sizes[k]
        n_out = sizes[k + 1]
        w_off = weight_offset(sizes, k)
        Z = acts[a_off : a_off + n * n_out].reshape((n, n_out))
        if k == 0:  # X may hold only a prefix of the inputs (the rest are zero)
            np.dot(X, flat[w_off : w_off + X.shape[1] * n_out].reshape((X.shape[1], n_out)), Z)
        else:
            W = flat[w_off : w_off + n_in * n_out].reshape((n_in, n_out))
            np.dot(acts[p_off : p_off + n * n_in].reshape((n, n_in)), W, Z)
        _bias_activate(Z, flat, bias_offset(sizes, k), k < n_layers - 1, rate, seed, k)
        p_off = a_off
        a_off += n * n_out

    n_last = sizes[n_layers]
    Z = acts[p_off : p_off + n * n_last].reshape((n, n_last))
    D = delta[0, : n * n_last].reshape((n, n_last))
    loss = _head_loss_grad(Z, T, D, head)
    if not want_grad:
        return loss

    inv_keep = 1.0 / (1.0 - rate)
    side = 0
    a_off = p_off  # start of layer k's activations
    for k in range(n_layers - 1, -1, -1):
        n_in = sizes[k]
        n_out = sizes[k + 1]
        w_off = weight_offset(sizes, k)
        b_off = bias_offset(sizes, k)
        gW = grad[w_off:b_off].reshape((n_in, n_out))
        for j in range(n_out):
            grad[b_off + j] = 0.0
        for r in range(n):
            for j in range(n_out):
                grad[b_off + j] += D[r, j]
        if k == 0:
            n_x = X.shape[1]
            np.dot(X.T, D, gW[:n_x])
            for i in range(n_x * n_out, n_in * n_out):
                grad[w_off + i] = 0.0
            break
        p_off = a_off - n * n_in
        P = acts[p_off:a_off].reshape((n, n_in))
        np.dot(P.T, D, gW)
        W = flat[w_off:b_off].reshape((n_in, n_out))
        side = 1 - side
        Dn = delta[side, : n * n_in].reshape((n, n_in))
        np.dot(D, W.T, Dn)
        # P > 0 exactly when the unit was active and kept by dropout
        for r in range(n):
            for i in range(n_in):
                if P[r, i] > 0.0:
                    Dn[r, i] = Dn[r, i] * inv_keep
                else:
                    Dn[r, i] = 0.0
        D = Dn
        a_off = p_off
    return loss


@njit
def _adam_kernel(params, grad, m, v, step, lr, b1, b2, eps):
    """Bias-corrected Adam in the parameters' precision (float32 runs twice as wide)."""
    t = step[0] + 1
    step[0] = t
    c = np.empty(8, dtype=params.dtype)  # the scalars, in the parameters' dtype
    c[0] = b1
    c[1] = 1.0 - b1
    c[2] = b2
    c[3] = 1.0 - b2
    c[4] = 1.0 - b1**t
    c[5] = 1.0 - b2**t
    c[6] = lr
    c[7] = eps
    b1_, one_b1, b2_, one_b2, bc1, bc2, lr_, eps_ = c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]
    for i in range(params.shape[0]):
        g = grad[i]
        m[i] = b1_ * m[i] + one_b1 * g
        v[i] = b2_ * v[i] + one_b2 * g * g
        params[i] -= lr_ * (m[i] / bc1) / (np.sqrt(v[i] / bc2) + eps_)


@njit
def _sgd_kernel(params, grad, step, lr):
    step[0] += 1
    for i in range(params.shape[0]):
        params[i] -= lr * grad[i]


# ---------------------------------------------------------------- pure functions


def _scratch(sizes: np.ndarray, n: int, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    acts = np.empty(n * int(sizes[1:].sum()), dtype=dtype)
    delta = np.empty((2, n * int(sizes[1:].max())), dtype=dtype)
    return acts, delta


def _check_batch(X: np.ndarray, targets: np.ndarray, cfg: NetConfig) -> None:
    if X.ndim != 2 or X.shape[1] != cfg.input_size or X.shape[0] == 0:
        raise ValueError(f"expected inputs of shape (N>0, {cfg.input_size}), got {X.shape}")
    if targets.shape != (X.shape[0], cfg.output_size):
        raise ValueError(f"expected targets of shape {(X.shape[0], cfg.output_size)}, got {targets.shape}")


def _head_code(head: str) -> int:
    if head not in HEADS:
        raise ValueError(f"expected head in {sorted(HEADS)}, got {head!r}")
    return HEADS[head]


def loss_and_grad(
    flat: np.ndarray,
    cfg: NetConfig,
    X: np.ndarray,
    targets: np.ndarray,
    head: str,
    dropout_rate: float = 0.0,
    seed: int = 0,
) -> tuple[float, np.ndarray]:
    """Mean loss and its gradient [P] (dtype of flat, f32 or f64).

    X [N, in] and targets [N, out] (or [N] for out 1) are cast to flat's dtype;
    head "tanh_mse" or "softmax_ce"; dropout on hidden layers with the masks of
    ``dropout_scale(..., seed, layer)``.
    """
    check_flat(flat, cfg)
    flat = np.ascontiguousarray(flat)
    X = np.ascontiguousarray(X, dtype=flat.dtype)
    targets = np.ascontiguousarray(targets, dtype=flat.dtype)
    if targets.ndim == 1:
        targets = targets[:, None]
    _check_batch(X, targets, cfg)
    _check_rate(dropout_rate)
    sizes = layer_sizes(cfg)
    acts, delta = _scratch(sizes, X.shape[0], flat.dtype)
    grad = np.empty_like(flat)
    loss = _loss_and_grad_kernel(
        flat, sizes, X, targets, _head_code(head), float(dropout_rate), _seed64(seed), acts, delta, grad, True
    )
    return float(loss), grad


class AdamState(NamedTuple):
    """Adam state over one flat vector."""

    m: np.ndarray  # [P] first moment, dtype of the params
    v: np.ndarray  # [P] second moment
    step: np.ndarray  # int64 [1], number of updates done


class SGDState(NamedTuple):
    """Plain SGD state (only a step counter)."""

    step: np.ndarray  # int64 [1]


def adam_init(params: np.ndarray) -> AdamState:
    """Zero moments for params [P]."""
    return AdamState(np.zeros_like(params), np.zeros_like(params), np.zeros(1, dtype=np.int64))


def adam_update(
    params: np.ndarray,
    grad: np.ndarray,
    state: AdamState,
    lr: float,
    b1: float = ADAM_BETA1,
    b2: float = ADAM_BETA2,
    eps: float = ADAM_EPS,
) -> None:
    """One bias-corrected Adam step, in place: p -= lr * m_hat / (sqrt(v_hat) + eps)."""
    _adam_kernel(params, grad, state.m, state.v, state.step, float(lr), float(b1), float(b2), float(eps))


def sgd_init(params: np.ndarray) -> SGDState:
    """SGD state for params [P]."""
    return SGDState(np.zeros(1, dtype=np.int64))


def sgd_update(params: np.ndarray, grad: np.ndarray, state: SGDState, lr: float) -> None:
    """p -= lr * grad, in place."""
    _sgd_kernel(params, grad, state.step, float(lr))


# ---------------------------------------------------------------- trainer


@dataclass
class Trainer:
    """Both nets, their optimizer states and preallocated scratch (make_trainer builds it)."""

    value_params: np.ndarray  # [P_value], trained in place
    policy_params: np.ndarray  # [P_policy]
    value_cfg: NetConfig
    policy_cfg: NetConfig
    value_opt: AdamState | SGDState
    policy_opt: AdamState | SGDState
    optimizer: str
    learning_rate: float
    dropout_rate: float
    seed: int
    max_batch: int
    step: int
    value_sizes: np.ndarray  # int64 [L+1]
    policy_sizes: np.ndarray
    value_grad: np.ndarray  # [P_value] scratch
    policy_grad: np.ndarray
    acts: np.ndarray  # scratch activations (value net; also evaluate_losses)
    delta: np.ndarray  # [2, max_batch * max width] scratch deltas
    policy_acts: np.ndarray  # the policy net's own scratch: the nets train on two threads
    policy_delta: np.ndarray
    xbuf: np.ndarray  # [max_batch * input_size] the batch without its all-zero trailing columns


OPTIMIZERS = ("adam", "sgd")


def make_trainer(
    value_params: np.ndarray,
    policy_params: np.ndarray,
    *,
    value_cfg: NetConfig = VALUE_CONFIG,
    policy_cfg: NetConfig = POLICY_CONFIG,
    max_batch: int = 1024,
    learning_rate: float = 1e-3,
    optimizer: str = "adam",
    dropout_rate: float = DEFAULT_DROPOUT_RATE,
    seed: int = 0,
    dtype: Any = np.float32,
) -> Trainer:
    """A Trainer owning copies of the two flat vectors (cast to dtype)."""
    check_flat(value_params, value_cfg)
    check_flat(policy_params, policy_cfg)
    if value_cfg.input_size != policy_cfg.input_size:
        raise ValueError(f"nets must share the input size, got {value_cfg.input_size} and {policy_cfg.input_size}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"expected optimizer in {OPTIMIZERS}, got {optimizer!r}")
    if max_batch < 1:
        raise ValueError(f"expected max_batch >= 1, got {max_batch}")
    _check_rate(dropout_rate)
    value = np.array(value_params, dtype=dtype, copy=True)
    policy = np.array(policy_params, dtype=dtype, copy=True)
    init = adam_init if optimizer == "adam" else sgd_init
    value_sizes, policy_sizes = layer_sizes(value_cfg), layer_sizes(policy_cfg)
    acts_len = max_batch * int(max(value_sizes[1:].sum(), policy_sizes[1:].sum()))
    width = int(max(value_sizes[1:].max(), policy_sizes[1:].max()))
    return Trainer(
        value_params=value,
        policy_params=policy,
        value_cfg=value_cfg,
        policy_cfg=policy_cfg,
        value_opt=init(value),
        policy_opt=init(policy),
        optimizer=optimizer,
        learning_rate=float(learning_rate),
        dropout_rate=float(dropout_rate),
        seed=int(seed),
        max_batch=int(max_batch),
        step=0,
        value_sizes=value_sizes,
        policy_sizes=policy_sizes,
        value_grad=np.empty_like(value),
        policy_grad=np.empty_like(policy),
        acts=np.empty(acts_len, dtype=dtype),
        delta=np.empty((2, max_batch * width), dtype=dtype),
        policy_acts=np.empty(acts_len, dtype=dtype),
        policy_delta=np.empty((2, max_batch * width), dtype=dtype),
        xbuf=np.empty(max_batch * value_cfg.input_size, dtype=dtype),
    )


def _coerce_batch(trainer: Trainer, X: Any, value_target: Any, policy_target: Any):
    dtype = trainer.value_params.dtype
    X = np.ascontiguousarray(X, dtype=dtype)
    vt = np.ascontiguousarray(value_target, dtype=dtype)
    pt = np.ascontiguousarray(policy_target, dtype=dtype)
    if vt.ndim == 1:
        vt = vt.reshape(-1, 1)
    _check_batch(X, vt, trainer.value_cfg)
    _check_batch(X, pt, trainer.policy_cfg)
    return X, vt, pt


@njit
def _active_prefix(X, xbuf):
    """X without its trailing all-zero columns: X itself, or a C-contiguous copy in xbuf.

    Features 78..149 are always zero, so the first layer's products shrink by
    half; zero inputs add exact zeros, so nothing but the summation length changes.
    """
    n, n_in = X.shape
    n_active = 1
    for r in range(n):
        for i in range(n_in - 1, n_active - 1, -1):
            if X[r, i] != 0.0:
                n_active = i + 1
                break
    if n_active == n_in:
        return X
    Xa = xbuf[: n * n_active].reshape((n, n_active))
    for r in range(n):
        for i in range(n_active):
            Xa[r, i] = X[r, i]
    return Xa


@njit
def _train_net(flat, sizes, grad, m, v, step_count, acts, delta, X, T, head, rate, seed, lr, use_adam):
    """Loss, gradient and one optimizer update of one net; returns the loss."""
    loss = _loss_and_grad_kernel(flat, sizes, X, T, head, rate, seed, acts, delta, grad, True)
    if use_adam:
        _adam_kernel(flat, grad, m, v, step_count, lr, ADAM_BETA1, ADAM_BETA2, ADAM_EPS)
    else:
        _sgd_kernel(flat, grad, step_count, lr)
    return loss


@njit(parallel=True)
def _train_both_kernel(
    vflat, vsizes, vgrad, vm, vv, vstep, vacts, vdelta,
    pflat, psizes, pgrad, pm, pv, pstep, pacts, pdelta,
    X, xbuf, vt, pt, rate, seed, step, lr, use_adam,
):  # fmt: skip
    """One step of both nets on the same minibatch, one net per thread; returns (value_loss, policy_loss)."""
    Xa = _active_prefix(X, xbuf)
    losses = np.empty(2)
    for net in prange(2):
        if net == 0:
            losses[0] = _train_net(vflat, vsizes, vgrad, vm, vv, vstep, vacts, vdelta, Xa, vt, HEAD_TANH_MSE,
                                   rate, _mix_seed(seed, step, STREAM_VALUE), lr, use_adam)
        else:
            losses[1] = _train_net(pflat, psizes, pgrad, pm, pv, pstep, pacts, pdelta, Xa, pt, HEAD_SOFTMAX_CE,
                                   rate, _mix_seed(seed, step, STREAM_POLICY), lr, use_adam)
    return losses[0], losses[1]


_BLAS_CONTROLLER = None
_BLAS_LIMIT_DEPTH = 0


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run BLAS on one thread while both nets train side by side on two threads.

    Two threads calling a multithreaded OpenBLAS at once oversubscribe the
    cores (measured 30x slower); one-threaded BLAS per net is fastest at every
    batch size. `train_step` enters this by itself; a training loop enters it
    once around all its steps, which saves switching BLAS threads every step.
    """
    global _BLAS_CONTROLLER, _BLAS_LIMIT_DEPTH
    if _BLAS_CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _BLAS_CONTROLLER = ThreadpoolController()
    with _BLAS_CONTROLLER.limit(limits=1, user_api="blas"):
        _BLAS_LIMIT_DEPTH += 1
        try:
            yield
        finally:
            _BLAS_LIMIT_DEPTH -= 1


def train_step(trainer: Trainer, X: np.ndarray, value_target: np.ndarray, policy_target: np.ndarray) -> tuple[float, float]:
    """One optimizer step of both nets on one minibatch; returns (value_loss, policy_loss).

    X [N, 150], value_target [N] or [N, 1], policy_target [N, 7], N <= max_batch.
    Dropout masks come from (trainer.seed, trainer.step, net), so runs repeat exactly.
    """
    X, vt, pt = _coerce_batch(trainer, X, value_target, policy_target)
    if X.shape[0] > trainer.max_batch:
        raise ValueError(f"expected at most max_batch={trainer.max_batch} rows, got {X.shape[0]}")
    use_adam = trainer.optimizer == "adam"
    vo, po = trainer.value_opt, trainer.policy_opt
    vm, vv = (vo.m, vo.v) if use_adam else (trainer.value_grad, trainer.value_grad)
    pm, pv = (po.m, po.v) if use_adam else (trainer.policy_grad, trainer.policy_grad)
    with single_threaded_blas() if _BLAS_LIMIT_DEPTH == 0 else nullcontext():
        vloss, ploss = _train_both_kernel(
            trainer.value_params, trainer.value_sizes, trainer.value_grad, vm, vv, vo.step, trainer.acts, trainer.delta,
            trainer.policy_params, trainer.policy_sizes, trainer.policy_grad, pm, pv, po.step,
            trainer.policy_acts, trainer.policy_delta,
            X, trainer.xbuf, vt, pt, trainer.dropout_rate, _seed64(trainer.seed), trainer.step,
            trainer.learning_rate, use_adam,
        )  # fmt: skip
    trainer.step += 1
    return float(vloss), float(ploss)


def evaluate_losses(
    trainer: Trainer, X: np.ndarray, value_target: np.ndarray, policy_target: np.ndarray
) -> tuple[float, float]:
    """Mean (value_loss, policy_loss) over any number of rows, without dropout or updates."""
    X, vt, pt = _coerce_batch(trainer, X, value_target, policy_target)
    n = X.shape[0]
    vsum = psum = 0.0
    for start in range(0, n, trainer.max_batch):
        stop = min(start + trainer.max_batch, n)
        rows = stop - start
        vsum += rows * _loss_and_grad_kernel(
            trainer.value_params, trainer.value_sizes, X[start:stop], vt[start:stop], HEAD_TANH_MSE,
            0.0, np.uint64(0), trainer.acts, trainer.delta, trainer.value_grad, False,
        )  # fmt: skip
        psum += rows * _loss_and_grad_kernel(
            trainer.policy_params, trainer.policy_sizes, X[start:stop], pt[start:stop], HEAD_SOFTMAX_CE,
            0.0, np.uint64(0), trainer.acts, trainer.delta, trainer.policy_grad, False,
        )  # fmt: skip
    return vsum / n, psum / n


__all__ = [
    "AdamState",
    "DEFAULT_DROPOUT_RATE",
    "HEADS",
    "SGDState",
    "Trainer",
    "adam_init",
    "adam_update",
    "dropout_scale",
    "evaluate_losses",
    "forward_logits_into",
    "dense_into",
    "forward_one_from_into",
    "forward_one_into",
    "loss_and_grad",
    "make_inference_work",
    "make_trainer",
    "predict_logits",
    "predict_policy",
    "predict_value",
    "sgd_init",
    "sgd_update",
    "single_threaded_blas",
    "softmax_into",
    "train_step",
    "value_policy_one",
]
