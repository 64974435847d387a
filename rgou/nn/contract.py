"""The step contract both trainers implement, and what they share.

A trainer is built from a `TrainConfig` and offers three pure-looking
functions over a `TrainState` (exactly what a checkpoint saves)::

    state = trainer.init(value_params, policy_params)        # fresh moments, step 0
    state, (value_loss, policy_loss) = trainer.step(state, batch)
    value_loss, policy_loss = trainer.losses(state, batch)  # no dropout, no update

`rgou.nn.numba_trainer.NumbaTrainer` updates the state's arrays in place and
returns the state with its step advanced (the argument must not be used
again); `rgou.nn.jax_trainer.JaxTrainer` returns new arrays. Both draw the
same dropout masks from (seed, step) alone, so the state's step count is the
whole random-number position: resuming from a saved state repeats a run bit
for bit, and a state saved by one trainer resumes on the other.

Dropout (inverted, on the hidden layers) keeps unit j of row r of hidden
layer k (index i = r * units + j) in the step of the net with stream s
(`STREAM_VALUE`, `STREAM_POLICY`) when hash32(layer_key ^ i) >= T, with

    run_key   = hash32(hash32(lo ^ 0x9E3779B9) ^ hi)  (lo, hi: the seed's 32-bit halves, mod 2**64)
    step_key  = hash32(hash32(run_key + step) ^ s)     (step: the state's step count, mod 2**32)
    layer_key = hash32(step_key ^ hash32(k + 1))
    T         = min(ceil(rate * 2**32), 2**32 - 1)

hash32 being lowbias32, the shuffle's hash, in wrapping 32-bit arithmetic:
one seed gives one model whatever the backend, up to float32 rounding
(`dropout_run_key`, `dropout_step_key`, `dropout_layer_key`,
`dropout_threshold` compute the keys on the host).

Losses, over the rows of a `Batch` with weights w (0 drops a row):
value = sum_i w_i * mean_j (tanh(z_ij) - t_ij)^2 / sum_i w_i; policy =
sum_i w_i * (-sum_j t_ij log softmax(z_i)_j) / sum_i w_i, where with
``policy_loss="legal"`` the softmax runs over the legal slots only (the
logits of illegal slots get no gradient). A batch whose weights are all zero
has loss 0 and gradient 0.

With ``sibling_weight`` beta > 0 and a batch's ``group`` ids, the value loss
adds beta * sum_i w_i * mean_j c_ij^2 / sum_i w_i, where c_ij = e_ij - (the
w-weighted mean of e over i's siblings), e = tanh(z) - t, and the siblings of
a row are the rows next to it with the same group id (a run). For the
positions after one decision's moves this is the error a depth-0 agent pays
for: an error common to all of them does not change its choice, yet MSE counts
it. Its gradient at e_ij is 2 beta w_i c_ij (times the MSE's scale), since the
c of a run sum to zero.

Adam (beta1 0.9, beta2 0.999, eps 1e-8) updates p -= a * m / (sqrt(v) * s + eps)
with the step's scalars a = lr / (1 - beta1^t) and s = 1 / sqrt(1 - beta2^t)
computed in float64 and rounded to the parameters' dtype (`adam_scalars`):
one division and one square root per parameter, and the two trainers'
updates agree to float32 rounding on equal gradients.
`shuffle_order(n, seed, epoch)` is the minibatch order both use: a stable
sort of 32-bit hashes, computable on a GPU as on the CPU.

Standardised inputs (``input_shift`` mu and ``input_scale`` sigma, one value
per input): Adam runs on the first layer as if the net read (x - mu) / sigma,
while the parameters stay those of a net that reads x, so every model reader
is unchanged. With the stored first layer W (inputs x outputs) and b, the
scaled net's are V[i] = sigma_i W[i] and c = b + sum_i mu_i W[i]; its
gradient is g_V[i] = (g_W[i] - mu_i g_b) / sigma_i and g_c = g_b. Adam turns
(g_V, g_c) into steps (d_V, d_c) with the moments it keeps in the scaled
coordinates, and they are mapped back: W[i] -= d_V[i] / sigma_i and
b -= d_c - sum_i mu_i d_V[i] / sigma_i. Features of very different ranges
(counts up to 7 beside fractions) then learn at one pace, which trains the
strong preset's nets two to three times as fast an epoch; the update is
exactly that of training on the scaled features, up to float32 rounding.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from rgou.dataset import run_starts
from rgou.nn.layout import POLICY_CONFIG, VALUE_CONFIG, NetConfig

ADAM_BETA1 = 0.9
ADAM_BETA2 = 0.999
ADAM_EPS = 1e-8
DEFAULT_DROPOUT_RATE = 0.1
DEFAULT_LEARNING_RATE = 1e-3
OPTIMIZERS = ("adam", "sgd")
POLICY_LOSSES = ("full", "legal")
MAX_SIBLING_WEIGHT = 1000.0
MAX_NET_PARAMS = 1 << 22  # parameters of one net (51x the default nets): what weight files and checkpoints may hold
STREAM_VALUE = 0  # dropout seed streams of the two nets
STREAM_POLICY = 1

# 32-bit mixing constants of the shuffle hash (lowbias32 by C. Wellons)
HASH_M1 = 0x7FEB352D  # the shuffle hash's multipliers (shuffle_order; JAX's copy reads these)
HASH_M2 = 0x846CA68B
_SEED_SALT = 0x9E3779B9
_MASK32 = 0xFFFFFFFF


@dataclass(frozen=True)
class TrainConfig:
    """Everything a trainer needs besides the data: nets, optimizer, dropout, seed, loss options."""

    value_cfg: NetConfig = VALUE_CONFIG
    policy_cfg: NetConfig = POLICY_CONFIG
    learning_rate: float = DEFAULT_LEARNING_RATE
    optimizer: str = "adam"
    dropout_rate: float = DEFAULT_DROPOUT_RATE
    seed: int = 0
    max_batch: int = 1024  # the Numba trainer preallocates its scratch for this many rows
    policy_loss: str = "full"
    sibling_weight: float = 0.0  # beta of the sibling term of the value loss (needs Batch.group)
    input_shift: tuple[float, ...] = ()  # mu of the standardised inputs (empty: none; see the module docstring)
    input_scale: tuple[float, ...] = ()  # sigma, each > 0

    def __post_init__(self) -> None:
        for name, cfg in (("value", self.value_cfg), ("policy", self.policy_cfg)):
            check_net_params(cfg, f"the {name} net")
        if self.value_cfg.input_size != self.policy_cfg.input_size:
            raise ValueError(
                f"nets must share the input size, got {self.value_cfg.input_size} and {self.policy_cfg.input_size}"
            )
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.policy_loss not in POLICY_LOSSES:
            raise ValueError(f"policy_loss must be one of {', '.join(POLICY_LOSSES)}, got {self.policy_loss!r}")
        if not 0.0 <= float(self.dropout_rate) < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {self.dropout_rate!r}")
        sibling_beta(self.sibling_weight)
        if not float(self.learning_rate) > 0.0:
            raise ValueError(f"learning rate must be positive, got {self.learning_rate!r}")
        if isinstance(self.max_batch, bool) or not isinstance(self.max_batch, (int, np.integer)) or self.max_batch < 1:
            raise ValueError(f"max_batch must be a positive integer, got {self.max_batch!r}")
        self._check_scaling()

    def _check_scaling(self) -> None:
        """Shift and scale are both empty, or hold one finite value per input (the scales > 0), with Adam."""
        shift = tuple(float(v) for v in self.input_shift)
        scale = tuple(float(v) for v in self.input_scale)
        object.__setattr__(self, "input_shift", shift)
        object.__setattr__(self, "input_scale", scale)
        if not shift and not scale:
            return
        n = self.value_cfg.input_size
        if len(shift) != n or len(scale) != n:
            raise ValueError(f"input_shift and input_scale need {n} values each, got {len(shift)} and {len(scale)}")
        if not all(math.isfinite(v) for v in shift) or not all(math.isfinite(v) and v > 0.0 for v in scale):
            raise ValueError("input_shift must be finite and input_scale finite and > 0")
        if self.optimizer != "adam":
            raise ValueError("standardised inputs (input_shift, input_scale) need the adam optimizer")

    @property
    def scaled_inputs(self) -> bool:
        """Whether the first layer trains on standardised inputs."""
        return bool(self.input_scale)


class TrainState(NamedTuple):
    """Parameters, optimizer moments and step count of both nets: what a checkpoint holds.

    Arrays are NumPy (Numba trainer) or JAX (JAX trainer); the moments are
    empty for SGD. `step` is the number of updates done (int, or a JAX scalar).
    """

    value: Any  # f32 [P_value]
    policy: Any  # f32 [P_policy]
    value_m: Any  # f32 [P_value] Adam first moment ([0] for SGD)
    value_v: Any  # f32 [P_value] Adam second moment
    policy_m: Any  # f32 [P_policy]
    policy_v: Any  # f32 [P_policy]
    step: Any  # updates done


STATE_ARRAYS = ("value", "policy", "value_m", "value_v", "policy_m", "policy_v")


class Batch(NamedTuple):
    """One minibatch (rows share the first axis B).

    The training rows of a dataset that computes its features when read are a Batch too, with x a
    `rgou.dataset.StateFeatures` and bool masks; the runners gather them into this form (`rgou.train.runners`).
    """

    x: np.ndarray  # f32 [B, 150]
    value_target: np.ndarray  # f32 [B], P2's point of view
    policy_target: np.ndarray  # f32 [B, 7], one-hot of the expert's move (zeros: no policy target)
    value_weight: np.ndarray  # f32 [B], 0 drops the row from the value loss
    policy_weight: np.ndarray  # f32 [B], 0 drops the row from the policy loss
    legal_mask: np.ndarray  # f32 [B, 7], 1 on legal slots (read with policy_loss="legal")
    group: np.ndarray | None = None  # int32 [B]: neighbouring rows with equal ids are siblings (sibling_weight)


def make_batch(
    x: Any,
    value_target: Any,
    policy_target: Any,
    value_weight: Any = None,
    policy_weight: Any = None,
    legal_mask: Any = None,
    group: Any = None,
) -> Batch:
    """A float32 C-contiguous `Batch`; weights default to ones and the legal mask to all slots.

    group: sibling ids (int32 [B]) for the sibling term of the value loss, or None.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"expected features of shape (B, F), got {x.shape}")
    n = x.shape[0]
    vt = np.ascontiguousarray(value_target, dtype=np.float32).reshape(-1)
    pt = np.ascontiguousarray(policy_target, dtype=np.float32)
    vw = np.ones(n, np.float32) if value_weight is None else np.ascontiguousarray(value_weight, dtype=np.float32)
    pw = np.ones(n, np.float32) if policy_weight is None else np.ascontiguousarray(policy_weight, dtype=np.float32)
    if legal_mask is None:
        mask = np.ones(pt.shape, np.float32)
    else:
        mask = np.ascontiguousarray(legal_mask, dtype=np.float32)
    for name, arr, shape in (
        ("value_target", vt, (n,)),
        ("value_weight", vw, (n,)),
        ("policy_weight", pw, (n,)),
        ("legal_mask", mask, pt.shape),
    ):
        if arr.shape != shape:
            raise ValueError(f"{name}: expected shape {shape}, got {arr.shape}")
    if pt.ndim != 2 or pt.shape[0] != n:
        raise ValueError(f"policy_target: expected shape ({n}, outputs), got {pt.shape}")
    return Batch(x, vt, pt, vw, pw, mask, check_group(group, n))


def map_batch(fn: Any, batch: Batch) -> Batch:
    """`fn` applied to each array of a batch (a missing group stays None)."""
    return Batch(*(None if a is None else fn(a) for a in batch))


def concat_batches(batches: list[Batch]) -> Batch:
    """The rows of several batches one after another (sibling ids kept only if every batch has them)."""
    fields = list(zip(*batches))
    group = None if any(g is None for g in fields[6]) else np.concatenate(fields[6])
    return Batch(*(np.concatenate(f) for f in fields[:6]), group)


def check_net_params(cfg: NetConfig, what: str) -> None:
    """ValueError naming `what` when a net of `cfg` has more parameters than a weight file or checkpoint holds."""
    if net_params(cfg) > MAX_NET_PARAMS:
        raise ValueError(
            f"{what} has {net_params(cfg):,} parameters, more than the {MAX_NET_PARAMS:,} "
            "a weight file or checkpoint may hold"
        )


def net_params(cfg: NetConfig) -> int:
    """`rgou.nn.layout.num_params` in Python integers: exact (no int64 overflow) for any widths."""
    sizes = (int(cfg.input_size), *(int(h) for h in cfg.hidden_sizes), int(cfg.output_size))
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def check_batch(batch: Batch, config: TrainConfig) -> int:
    """The rows B of a batch whose every array has B rows and its net's width; else a ValueError naming it.

    A target or weight of another length was read past its end by the kernels
    (a loss of NaN, or a plausible one), so both trainers check before any.
    """
    n_in, n_out = config.value_cfg.input_size, config.policy_cfg.output_size
    x = np.shape(batch.x)
    if len(x) != 2 or x[1] != n_in or x[0] == 0:
        raise ValueError(f"expected features of shape (B>0, {n_in}), got {x}")
    rows = x[0]
    for name, shapes in (
        ("value_target", ((rows,), (rows, 1))),
        ("policy_target", ((rows, n_out),)),
        ("value_weight", ((rows,), (rows, 1))),
        ("policy_weight", ((rows,), (rows, 1))),
        ("legal_mask", ((rows, n_out),)),
    ):
        if np.shape(getattr(batch, name)) not in shapes:
            raise ValueError(f"batch.{name} has shape {np.shape(getattr(batch, name))}, expected {shapes[0]}")
    return rows


def check_train_state(state: TrainState, config: TrainConfig) -> None:
    """Each net's parameters, and with Adam its two moments, hold `num_params` values; else a ValueError naming the
    field (a short vector was read and written past its end)."""
    for net, names, size in _state_vectors(config):
        for name in names:
            shape = np.shape(getattr(state, name))
            if shape != (size,):
                raise ValueError(f"state.{name} has shape {shape}, expected ({size},) for the {net} net")


@functools.lru_cache(maxsize=16)
def _state_vectors(config: TrainConfig) -> tuple[tuple[str, tuple[str, ...], int], ...]:
    """(net, the state's vectors of that net, their length) of a config (a step checks them: computed once)."""
    out = []
    for net, cfg in (("value", config.value_cfg), ("policy", config.policy_cfg)):
        names = (net, f"{net}_m", f"{net}_v") if config.optimizer == "adam" else (net,)
        out.append((net, names, net_params(cfg)))
    return tuple(out)


def check_group(group: Any, n: int) -> np.ndarray | None:
    """Sibling ids as int32 [n] (C-contiguous), or None; refuses another shape or non-integers."""
    if group is None:
        return None
    g = np.asarray(group)
    if g.shape != (n,) or not (np.issubdtype(g.dtype, np.integer) or g.dtype == np.bool_):
        raise ValueError(f"group: expected {n} integer sibling ids, got {g.dtype} {g.shape}")
    return np.ascontiguousarray(g, dtype=np.int32)


def sibling_beta(weight: float) -> float:
    """The sibling term's weight as a float; refuses one outside [0, MAX_SIBLING_WEIGHT]."""
    beta = float(weight)
    if not 0.0 <= beta <= MAX_SIBLING_WEIGHT:
        raise ValueError(f"sibling weight must be in [0, {MAX_SIBLING_WEIGHT:g}], got {weight!r}")
    return beta


def check_sibling(weight: float, group: Any, head: str) -> float:
    """`sibling_beta`, also refusing a weight > 0 without sibling ids or on another head than the value's."""
    beta = sibling_beta(weight)
    if beta > 0.0 and group is None:
        raise ValueError("a sibling weight > 0 needs the batch's sibling ids (group)")
    if beta > 0.0 and head != "tanh_mse":
        raise ValueError("the sibling term belongs to the value (tanh_mse) head")
    return beta


def adam_scalars(step: int, lr: float, dtype: Any = np.float32) -> tuple[Any, Any]:
    """Adam's (lr / (1 - beta1^t), 1 / sqrt(1 - beta2^t)) for update number t = step + 1, float64 rounded to dtype."""
    t = int(step) + 1
    return dtype(float(lr) / (1.0 - ADAM_BETA1**t)), dtype(1.0 / math.sqrt(1.0 - ADAM_BETA2**t))


def hash32(x: np.ndarray) -> np.ndarray:
    """lowbias32 of uint32 values (wrapping arithmetic), uint32 of the same shape."""
    x = np.array(x, dtype=np.uint32, ndmin=1)  # arrays wrap silently; NumPy scalars would warn
    x = x ^ (x >> np.uint32(16))
    x = x * np.uint32(HASH_M1)
    x = x ^ (x >> np.uint32(15))
    x = x * np.uint32(HASH_M2)
    return x ^ (x >> np.uint32(16))


def dropout_run_key(seed: int) -> int:
    """The 32-bit key of a run's dropout: a hash of the seed's two 32-bit halves (the seed taken mod 2**64)."""
    seed = int(seed) & 0xFFFFFFFFFFFFFFFF
    low = int(hash32((seed & _MASK32) ^ _SEED_SALT)[0])
    return int(hash32(low ^ (seed >> 32))[0])


def dropout_step_key(run_key: int, step: int, stream: int) -> int:
    """The 32-bit key of one net's dropout in one step (stream: `STREAM_VALUE` or `STREAM_POLICY`)."""
    return int(hash32(int(hash32((int(run_key) + int(step)) & _MASK32)[0]) ^ int(stream))[0])


def dropout_layer_key(step_key: int, layer: int) -> int:
    """The 32-bit key of hidden layer `layer` (0 first) in a step."""
    return int(hash32(int(step_key) ^ int(hash32(int(layer) + 1)[0]))[0])


def dropout_threshold(rate: float) -> int:
    """T: a unit survives when its 32-bit hash is >= T = min(ceil(rate * 2**32), 2**32 - 1)."""
    return min(math.ceil(float(rate) * 2.0**32), _MASK32)


def shuffle_key(seed: int, epoch: int) -> int:
    """The 32-bit key of an epoch's order: a hash of (seed, epoch)."""
    s = int(hash32((int(seed) ^ _SEED_SALT) & _MASK32)[0])
    return int(hash32((s + int(epoch)) & _MASK32)[0])


def shuffle_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """Row order of an epoch, int64 [n]: the stable argsort of hash32(key ^ hash32(i)).

    The JAX trainer computes the same order on its device (`jax_trainer.shuffle_order_on_device`).
    """
    key = np.uint32(shuffle_key(seed, epoch))
    keys = hash32(hash32(np.arange(n, dtype=np.uint32)) ^ key)
    return np.argsort(keys, kind="stable")


def shuffle_groups(rows: np.ndarray, group: np.ndarray, seed: int, epoch: int) -> np.ndarray:
    """`rows` (int64 [n]) with their runs of equal `group` ids kept together and the runs shuffled.

    The order of an epoch with the sibling loss: minibatches then hold whole
    runs (a run cut by a minibatch's end counts as two). group is indexed by
    row; the runs of group[rows] are shuffled by `shuffle_order`.
    """
    rows = np.asarray(rows, dtype=np.int64)
    if not len(rows):
        return rows
    starts = run_starts(np.asarray(group)[rows])
    sizes = np.diff(np.r_[starts, len(rows)])
    perm = shuffle_order(len(starts), seed, epoch)
    n = sizes[perm]
    return rows[np.repeat(starts[perm] - np.cumsum(np.r_[0, n[:-1]]), n) + np.arange(len(rows))]
