"""The hand-written CPU trainer: the step contract of `rgou.nn.contract` over flat vectors.

::

    trainer = NumbaTrainer(TrainConfig(...))
    state = trainer.init(value_params, policy_params)          # TrainState, NumPy arrays
    state, (value_loss, policy_loss) = trainer.step(state, batch)   # in place; returns the state, step + 1
    value_loss, policy_loss = trainer.evaluate(state, batch)   # any number of rows
    loss_and_grad(flat, cfg, X, targets, head, ...) -> (loss, grad [P])   # one net, for tests and tools

Both nets train on the same minibatch side by side, one per thread, each
with one-threaded BLAS (`single_threaded_blas`). Forward and backward are
written out per layer: matrix products are ``np.dot`` inside njit (SciPy's
BLAS); the input gradient of the first layer is never computed, and the
first layer multiplies only the leading feature columns that are not all
zero (features 78..149 always are), which changes no value. Hidden layers use
inverted dropout: a unit is kept when a counter-based hash of (seed, step,
net, layer, row, unit) is >= rate, so masks never depend on threads or call
order. Every kernel also compiles for float64 (the gradient checks use it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import numpy as np
from numba import prange

from rgou._numba import njit
from rgou._random import splitmix64
from rgou.nn.contract import (
    ADAM_BETA1,
    ADAM_BETA2,
    ADAM_EPS,
    STREAM_POLICY,
    STREAM_VALUE,
    Batch,
    TrainConfig,
    TrainState,
    bias_corrections,
)
from rgou.nn.layout import NetConfig, bias_offset, check_flat, layer_sizes, num_params, weight_offset

HEAD_TANH_MSE = 0
HEAD_SOFTMAX_CE = 1
EVAL_ROWS = 4096  # rows per forward pass when evaluating (large products run near the BLAS peak)
HEADS = {"tanh_mse": HEAD_TANH_MSE, "softmax_ce": HEAD_SOFTMAX_CE}
_U53 = 1.0 / 9007199254740992.0  # 2**-53


# Dropout.


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


# Training kernels.


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
def _head_loss_grad(Z, T, W, M, D, head, legal):
    """Weighted loss (float64) of the output layer Z [n, out] and dLoss/dZ into D [n, out].

    W [n] row weights (the loss is sum_i W_i loss_i / sum_i W_i); M [n, out]
    legal mask, read when `legal`: the softmax then runs over the slots with
    M > 0 and the others get no gradient.
    """
    n, n_out = Z.shape
    wsum = 0.0
    for r in range(n):
        wsum += W[r]
    if wsum <= 0.0:
        for r in range(n):
            for j in range(n_out):
                D[r, j] = 0.0
        return 0.0
    loss = 0.0
    if head == HEAD_TANH_MSE:
        scale = 1.0 / (wsum * n_out)
        for r in range(n):
            wr = W[r]
            for j in range(n_out):
                y = np.tanh(Z[r, j])
                diff = y - T[r, j]
                loss += wr * diff * diff
                D[r, j] = 2.0 * scale * wr * diff * (1.0 - y * y)
        return loss * scale
    inv_w = 1.0 / wsum
    for r in range(n):
        wr = W[r]
        top = -np.inf
        for j in range(n_out):
            if (not legal or M[r, j] > 0.0) and Z[r, j] > top:
                top = Z[r, j]
        if top == -np.inf:  # no legal slot: the row has no policy target
            for j in range(n_out):
                D[r, j] = 0.0
            continue
        total = 0.0
        t_sum = 0.0
        for j in range(n_out):
            if legal and M[r, j] <= 0.0:
                D[r, j] = 0.0
                continue
            e = np.exp(Z[r, j] - top)
            D[r, j] = e
            total += e
            t_sum += T[r, j]
        lse = top + np.log(total)
        for j in range(n_out):
            if legal and M[r, j] <= 0.0:
                continue
            loss += wr * (T[r, j] * (lse - Z[r, j]))
            D[r, j] = (D[r, j] / total * t_sum - T[r, j]) * (wr * inv_w)
    return loss * inv_w


@njit
def _loss_and_grad_kernel(flat, sizes, X, T, RW, M, head, legal, rate, seed, acts, delta, grad, want_grad):
    """Forward (with dropout), weighted loss and, if want_grad, the full gradient into grad.

    RW [n] row weights; M [n, out] legal mask (read when legal); acts
    [>= n * sum(sizes[1:])] and delta [2, >= n * max width] are scratch.
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
    loss = _head_loss_grad(Z, T, RW, M, D, head, legal)
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
def _forward_batch(flat, sizes, X, acts, out):
    """Raw outputs of the net for rows X [n, in] into out [n, out] (no dropout); acts is scratch."""
    n = X.shape[0]
    n_layers = sizes.shape[0] - 1
    a_off = 0
    p_off = 0
    for k in range(n_layers):
        n_in = sizes[k]
        n_out = sizes[k + 1]
        w_off = weight_offset(sizes, k)
        W = flat[w_off : w_off + n_in * n_out].reshape((n_in, n_out))
        Z = acts[a_off : a_off + n * n_out].reshape((n, n_out))
        if k == 0:
            np.dot(X, W, Z)
        else:
            np.dot(acts[p_off : p_off + n * n_in].reshape((n, n_in)), W, Z)
        _bias_activate(Z, flat, bias_offset(sizes, k), k < n_layers - 1, 0.0, np.uint64(0), k)
        p_off = a_off
        a_off += n * n_out
    out[:, :] = acts[p_off : p_off + n * sizes[n_layers]].reshape((n, sizes[n_layers]))


@njit
def _adam_kernel(params, grad, m, v, lr, bc1, bc2, tiny):
    """One Adam update in the parameters' precision; bc1, bc2 are the bias corrections (`bias_corrections`).

    Moments below `tiny` (the smallest normal number of the dtype) are flushed
    to zero: a moment that decays towards zero would otherwise turn subnormal
    and slow every later operation on it down about 100 times.
    """
    c = np.empty(7, dtype=params.dtype)  # the scalars, rounded to the parameters' dtype
    c[0] = ADAM_BETA1
    c[1] = 1.0 - ADAM_BETA1
    c[2] = ADAM_BETA2
    c[3] = 1.0 - ADAM_BETA2
    c[4] = lr
    c[5] = ADAM_EPS
    c[6] = tiny
    b1, one_b1, b2, one_b2, lr_, eps, tiny_ = c[0], c[1], c[2], c[3], c[4], c[5], c[6]
    zero = c[6] - c[6]
    for i in range(params.shape[0]):
        g = grad[i]
        mi = b1 * m[i] + one_b1 * g
        vi = b2 * v[i] + one_b2 * g * g
        mi = mi if abs(mi) >= tiny_ else zero
        vi = vi if vi >= tiny_ else zero
        m[i] = mi
        v[i] = vi
        params[i] -= lr_ * (mi / bc1) / (np.sqrt(vi / bc2) + eps)


@njit
def _sgd_kernel(params, grad, lr):
    for i in range(params.shape[0]):
        params[i] -= lr * grad[i]


@njit
def _train_net(flat, sizes, grad, m, v, acts, delta, X, T, W, M, head, legal, rate, seed, lr, bc1, bc2, tiny, use_adam):
    """Loss, gradient and one optimizer update of one net; returns the loss."""
    loss = _loss_and_grad_kernel(flat, sizes, X, T, W, M, head, legal, rate, seed, acts, delta, grad, True)
    if use_adam:
        _adam_kernel(flat, grad, m, v, lr, bc1, bc2, tiny)
    else:
        _sgd_kernel(flat, grad, lr)
    return loss


@njit(parallel=True)
def _train_both_kernel(
    vflat,
    vsizes,
    vgrad,
    vm,
    vv,
    vacts,
    vdelta,
    pflat,
    psizes,
    pgrad,
    pm,
    pv,
    pacts,
    pdelta,
    X,
    xbuf,
    vt,
    pt,
    vw,
    pw,
    mask,
    legal,
    rate,
    seed,
    step,
    lr,
    bc1,
    bc2,
    tiny,
    use_adam,
):
    """One step of both nets on the same minibatch, one net per thread; returns (value_loss, policy_loss)."""
    Xa = _active_prefix(X, xbuf)
    losses = np.empty(2)
    for net in prange(2):
        if net == 0:
            losses[0] = _train_net(
                vflat,
                vsizes,
                vgrad,
                vm,
                vv,
                vacts,
                vdelta,
                Xa,
                vt,
                vw,
                mask,
                HEAD_TANH_MSE,
                False,
                rate,
                _mix_seed(seed, step, STREAM_VALUE),
                lr,
                bc1,
                bc2,
                tiny,
                use_adam,
            )
        else:
            losses[1] = _train_net(
                pflat,
                psizes,
                pgrad,
                pm,
                pv,
                pacts,
                pdelta,
                Xa,
                pt,
                pw,
                mask,
                HEAD_SOFTMAX_CE,
                legal,
                rate,
                _mix_seed(seed, step, STREAM_POLICY),
                lr,
                bc1,
                bc2,
                tiny,
                use_adam,
            )
    return losses[0], losses[1]


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


_BLAS_CONTROLLER = None
_BLAS_LIMIT_DEPTH = 0


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run BLAS on one thread while both nets train side by side on two threads.

    Two threads calling a multithreaded OpenBLAS at once oversubscribe the
    cores (measured 30x slower); one-threaded BLAS per net is fastest at every
    batch size. `NumbaTrainer.step` enters this by itself; a training loop enters it
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


# Python edge.


def _scratch(sizes: np.ndarray, n: int, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    acts = np.empty(n * int(sizes[1:].sum()), dtype=dtype)
    delta = np.empty((2, n * int(sizes[1:].max())), dtype=dtype)
    return acts, delta


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
    weights: np.ndarray | None = None,
    legal_mask: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """Loss of one net and its gradient [P] (dtype of flat, f32 or f64).

    X [N, in] and targets [N, out] (or [N] for out 1) are cast to flat's dtype;
    head "tanh_mse" or "softmax_ce"; weights [N] (default ones) weight the rows;
    legal_mask [N, out] restricts the softmax to the legal slots; dropout on
    hidden layers with the masks of ``dropout_scale(..., seed, layer)``.
    """
    check_flat(flat, cfg)
    flat = np.ascontiguousarray(flat)
    X = np.ascontiguousarray(X, dtype=flat.dtype)
    targets = np.ascontiguousarray(targets, dtype=flat.dtype)
    if targets.ndim == 1:
        targets = targets[:, None]
    if X.ndim != 2 or X.shape[1] != cfg.input_size or X.shape[0] == 0:
        raise ValueError(f"expected inputs of shape (N>0, {cfg.input_size}), got {X.shape}")
    if targets.shape != (X.shape[0], cfg.output_size):
        raise ValueError(f"expected targets of shape {(X.shape[0], cfg.output_size)}, got {targets.shape}")
    _check_rate(dropout_rate)
    n = X.shape[0]
    W = np.ones(n, flat.dtype) if weights is None else np.ascontiguousarray(weights, dtype=flat.dtype)
    M = np.ones(targets.shape, flat.dtype) if legal_mask is None else np.ascontiguousarray(legal_mask, flat.dtype)
    sizes = layer_sizes(cfg)
    acts, delta = _scratch(sizes, n, flat.dtype)
    grad = np.empty_like(flat)
    loss = _loss_and_grad_kernel(
        flat,
        sizes,
        X,
        targets,
        W,
        M,
        _head_code(head),
        legal_mask is not None,
        float(dropout_rate),
        _seed64(seed),
        acts,
        delta,
        grad,
        True,
    )
    return float(loss), grad


class NumbaTrainer:
    """The CPU trainer: `init`, `step` and `evaluate` of `rgou.nn.contract` over NumPy arrays.

    Owns preallocated scratch for batches of up to `config.max_batch` rows, so
    a step allocates no buffers. `step` updates the state's arrays in place.
    """

    name = "numba"

    def __init__(self, config: TrainConfig = TrainConfig(), dtype: Any = np.float32):
        self.config = config
        self.dtype = np.dtype(dtype)
        vc, pc = config.value_cfg, config.policy_cfg
        self.value_sizes, self.policy_sizes = layer_sizes(vc), layer_sizes(pc)
        b = int(config.max_batch)
        acts_len = b * int(max(self.value_sizes[1:].sum(), self.policy_sizes[1:].sum()))
        width = int(max(self.value_sizes[1:].max(), self.policy_sizes[1:].max()))
        self._value_grad = np.empty(num_params(vc), self.dtype)
        self._policy_grad = np.empty(num_params(pc), self.dtype)
        self._acts = np.empty(acts_len, self.dtype)
        self._delta = np.empty((2, b * width), self.dtype)
        self._policy_acts = np.empty(acts_len, self.dtype)
        self._policy_delta = np.empty((2, b * width), self.dtype)
        self._xbuf = np.empty(b * vc.input_size, self.dtype)
        self._use_adam = config.optimizer == "adam"
        self._tiny = float(np.finfo(self.dtype).tiny)
        self._legal = config.policy_loss == "legal"
        self._eval: tuple[np.ndarray, np.ndarray] | None = None

    def init(self, value_params: np.ndarray, policy_params: np.ndarray) -> TrainState:
        """A fresh state owning copies of the two flat vectors (zero moments, step 0)."""
        check_flat(value_params, self.config.value_cfg)
        check_flat(policy_params, self.config.policy_cfg)
        value = np.array(value_params, dtype=self.dtype, copy=True)
        policy = np.array(policy_params, dtype=self.dtype, copy=True)
        if self._use_adam:
            moments = [np.zeros_like(value), np.zeros_like(value), np.zeros_like(policy), np.zeros_like(policy)]
        else:
            moments = [np.zeros(0, self.dtype) for _ in range(4)]
        return TrainState(value, policy, *moments, 0)

    def _coerce(self, batch: Batch) -> Batch:
        cast = [np.ascontiguousarray(a, dtype=self.dtype) for a in batch]
        x = cast[0]
        if x.ndim != 2 or x.shape[1] != self.config.value_cfg.input_size or x.shape[0] == 0:
            raise ValueError(f"expected features of shape (B>0, {self.config.value_cfg.input_size}), got {x.shape}")
        return Batch(*cast)

    def step(self, state: TrainState, batch: Batch, lr: float | None = None) -> tuple[TrainState, tuple[float, float]]:
        """One optimizer step of both nets on one minibatch (B <= max_batch); returns (state, losses).

        lr: this step's learning rate (default: the config's).
        """
        b = self._coerce(batch)
        if b.x.shape[0] > self.config.max_batch:
            raise ValueError(f"expected at most max_batch={self.config.max_batch} rows, got {b.x.shape[0]}")
        cfg = self.config
        bc1, bc2 = bias_corrections(state.step, self.dtype.type)
        with single_threaded_blas() if _BLAS_LIMIT_DEPTH == 0 else nullcontext():
            vloss, ploss = _train_both_kernel(
                state.value,
                self.value_sizes,
                self._value_grad,
                state.value_m,
                state.value_v,
                self._acts,
                self._delta,
                state.policy,
                self.policy_sizes,
                self._policy_grad,
                state.policy_m,
                state.policy_v,
                self._policy_acts,
                self._policy_delta,
                b.x,
                self._xbuf,
                b.value_target.reshape(-1, 1),
                b.policy_target,
                b.value_weight,
                b.policy_weight,
                b.legal_mask,
                self._legal,
                float(cfg.dropout_rate),
                _seed64(cfg.seed),
                int(state.step),
                float(cfg.learning_rate if lr is None else lr),
                bc1,
                bc2,
                self._tiny,
                self._use_adam,
            )
        return state._replace(step=int(state.step) + 1), (float(vloss), float(ploss))

    def _eval_scratch(self) -> tuple[np.ndarray, np.ndarray]:
        """Scratch for forward passes over EVAL_ROWS rows at a time (allocated on first use)."""
        if self._eval is None:
            vs, ps = self.value_sizes[1:], self.policy_sizes[1:]
            acts = np.empty(EVAL_ROWS * int(max(vs.sum(), ps.sum())), self.dtype)
            delta = np.empty((2, EVAL_ROWS * int(max(vs.max(), ps.max()))), self.dtype)
            self._eval = (acts, delta)
        return self._eval

    def evaluate(self, state: TrainState, batch: Batch) -> tuple[float, float]:
        """Weighted (value_loss, policy_loss) over any number of rows, without dropout or updates."""
        b = self._coerce(batch)
        acts, delta = self._eval_scratch()
        grad = np.empty(0, self.dtype)  # not written: no gradient
        nets = (
            (state.value, self.value_sizes, b.value_target.reshape(-1, 1), b.value_weight, False, HEAD_TANH_MSE),
            (state.policy, self.policy_sizes, b.policy_target, b.policy_weight, self._legal, HEAD_SOFTMAX_CE),
        )
        losses = []
        for flat, sizes, targets, weights, legal, head in nets:
            total, weight = 0.0, 0.0
            for start in range(0, b.x.shape[0], EVAL_ROWS):
                rows = slice(start, start + EVAL_ROWS)
                w = float(weights[rows].sum(dtype=np.float64))
                if w > 0.0:
                    loss = _loss_and_grad_kernel(
                        flat,
                        sizes,
                        b.x[rows],
                        targets[rows],
                        weights[rows],
                        b.legal_mask[rows],
                        head,
                        legal,
                        0.0,
                        np.uint64(0),
                        acts,
                        delta,
                        grad,
                        False,
                    )
                    total += w * loss
                    weight += w
            losses.append(total / weight if weight > 0.0 else 0.0)
        return float(losses[0]), float(losses[1])

    def outputs(self, state: TrainState, x: np.ndarray, net: str) -> np.ndarray:
        """Raw outputs of one net ("value" or "policy") for rows x [N, 150]: float [N, out], no dropout."""
        flat, sizes = (state.value, self.value_sizes) if net == "value" else (state.policy, self.policy_sizes)
        x = np.ascontiguousarray(x, dtype=self.dtype)
        acts, _ = self._eval_scratch()
        out = np.empty((x.shape[0], int(sizes[-1])), self.dtype)
        with single_threaded_blas() if _BLAS_LIMIT_DEPTH == 0 else nullcontext():
            for start in range(0, x.shape[0], EVAL_ROWS):
                _forward_batch(flat, sizes, x[start : start + EVAL_ROWS], acts, out[start : start + EVAL_ROWS])
        return out
