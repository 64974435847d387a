"""Does a value loss on the differences between sibling positions make better decisions? A prototype.

A depth-0 ML agent ranks the positions after its legal moves (siblings). An
error common to all siblings costs it nothing, yet the value loss (MSE)
counts it. This prototype trains the value net alone on

    MSE + BETA * mean_i (c_i ** 2),  c_i = (v_i - mean of v over i's siblings) - (y_i - mean of y over them),

where the siblings are the positions after the distinct moves of one
decision. The gradient of the second term at v_i is 2 BETA c_i / rows:
each row's error gets its siblings' mean error taken off. Minibatches hold
whole decisions (256 rows, a decision cut by a minibatch's end counts as two).
BETA = 0 is the same training with MSE alone, the control.

Data: the 4,400 perfect-play games of benchmarks/experiments/afterstates.sh
(exploration 0.2, seed 21) and the positions after every distinct move of
their decisions, with exact values (needs the solved table, rgou solve).
Training: 8 epochs, Adam, learning rate 1e-3 decaying by 0.8 an epoch, no
dropout, 5% of the games held out. It is the prototype in JAX (jax on the CPU
is enough: about 15 s an epoch on one core) of what both of rgou's trainers
now do with `rgou train --sibling-weight BETA` (`rgou.nn.contract`). The
policy weights saved with the value net come from POLICY_MODEL (default: the
shipped model's; a depth-0 agent ranks by value alone). Then:

    python benchmarks/experiments/sibling_loss.py BETA SEED OUT.json.gz [POLICY_MODEL]
    rgou evaluate ml:OUT.json.gz --games 1000 --seed 6
"""

from __future__ import annotations

import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from rgou.agents import load_perfect_table
from rgou.exact import label_exactly
from rgou.features import extract_features_batch
from rgou.models import load_model
from rgou.nn.jax_trainer import loss
from rgou.nn.layout import VALUE_CONFIG, init_params
from rgou.selfplay import generate, positions_after_moves
from rgou.weights import Weights, save_weights

GAMES, EPSILON, DATA_SEED = 4400, 0.2, 21
EPOCHS, BATCH, LEARNING_RATE, DECAY, VALIDATION = 8, 256, 1e-3, 0.8, 0.05
ADAM_B1, ADAM_B2, ADAM_EPS = 0.9, 0.999, 1e-7


def sibling_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(features f32 [N, 150], exact values f32 [N], decision of each row int64 [N], game of each decision)."""
    games = generate(GAMES, agent="perfect", epsilon=EPSILON, seed=DATA_SEED, value_target="exact")
    decided = games.has_policy
    states, parent = positions_after_moves(games.state[decided], games.game_id[decided], DATA_SEED)
    values, _ = label_exactly(load_perfect_table(), states)
    starts = np.flatnonzero(np.r_[True, parent[1:] != parent[:-1]])
    return extract_features_batch(states), values.astype(np.float32), parent, games.game_id[decided][parent][starts]


def main(beta: float, seed: int, out: str, policy_model: str) -> None:
    policy = load_model(policy_model)  # before the work: a bad name fails at once
    x, y, parent, decision_game = sibling_data()
    starts = np.flatnonzero(np.r_[True, parent[1:] != parent[:-1]])
    sizes = np.diff(np.r_[starts, len(parent)])
    rng = np.random.default_rng(seed)
    ids = np.unique(decision_game)
    held_out = np.isin(decision_game, rng.choice(ids, int(VALIDATION * len(ids)), replace=False))
    train_decisions, val_decisions = np.flatnonzero(~held_out), np.flatnonzero(held_out)
    print(f"{len(y):,} rows, {len(starts):,} decisions ({len(val_decisions):,} held out)", flush=True)
    xd, yd = jnp.asarray(x), jnp.asarray(y)

    def batches(decisions: np.ndarray) -> tuple[jax.Array, jax.Array]:
        """Rows of these decisions in order, cut into minibatches [k, BATCH]; seg: decision number in the batch."""
        n = sizes[decisions]
        rows = np.repeat(starts[decisions] - np.cumsum(np.r_[0, n[:-1]]), n) + np.arange(n.sum())
        number = np.repeat(np.arange(len(decisions)), n)
        k = len(rows) // BATCH
        rows, number = rows[: k * BATCH].reshape(k, BATCH), number[: k * BATCH].reshape(k, BATCH)
        return jnp.asarray(rows.astype(np.int32)), jnp.asarray((number - number[:, :1]).astype(np.int32))

    def losses(p, batch):
        """(MSE, the sibling term) of a minibatch: rgou's value loss with weights 1 and 0 on the term."""
        rows, seg = batch
        mse = loss(p, VALUE_CONFIG, xd[rows], yd[rows], "tanh_mse")
        return mse, loss(p, VALUE_CONFIG, xd[rows], yd[rows], "tanh_mse", group=seg, sibling_weight=1.0) - mse

    def objective(p, batch):
        rows, seg = batch
        return loss(p, VALUE_CONFIG, xd[rows], yd[rows], "tanh_mse", group=seg, sibling_weight=beta)

    @jax.jit
    def epoch(state, order, lr):
        def body(st, batch):
            p, m, s, t = st
            grad = jax.grad(objective)(p, batch)
            t = t + 1
            m = ADAM_B1 * m + (1 - ADAM_B1) * grad
            s = ADAM_B2 * s + (1 - ADAM_B2) * grad * grad
            p = p - lr * (m / (1 - ADAM_B1**t)) / (jnp.sqrt(s / (1 - ADAM_B2**t)) + ADAM_EPS)
            return (p, m, s, t), None

        return jax.lax.scan(body, state, order)[0]

    @jax.jit
    def validate(p, order):
        def body(acc, batch):
            mse, centred = losses(p, batch)
            return (acc[0] + mse, acc[1] + centred), None

        total = jax.lax.scan(body, (0.0, 0.0), order)[0]
        return total[0] / order[0].shape[0], total[1] / order[0].shape[0]

    p = jnp.asarray(init_params(VALUE_CONFIG, seed))
    state = (p, jnp.zeros_like(p), jnp.zeros_like(p), 0.0)
    held = batches(val_decisions)
    for e in range(EPOCHS):
        start = time.time()
        state = epoch(state, batches(rng.permutation(train_decisions)), LEARNING_RATE * DECAY**e)
        mse, centred = validate(state[0], held)
        print(f"epoch {e + 1}: validation MSE {float(mse):.3e}, sibling term {float(centred):.3e}, "
              f"{time.time() - start:.0f} s", flush=True)  # fmt: skip
    value = np.asarray(state[0], np.float32)
    meta = {"experiment": f"benchmarks/experiments/sibling_loss.py, beta {beta}, seed {seed}"}
    save_weights(out, Weights(value, policy.policy, policy.value_config, policy.policy_config, meta))


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    main(float(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4] if len(sys.argv) == 5 else "default")
