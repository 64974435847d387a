"""How far two training runs drift apart from a tiny difference, and where: the Numba trainer against itself with
its start weights changed by 1e-6 (relative), and against the JAX trainer from the same start.

    python benchmarks/experiments/trajectory_sensitivity.py [--steps 100]
    python benchmarks/experiments/trajectory_sensitivity.py --branches   # dropout 0.1: JAX against perturbed Numba runs
    python benchmarks/experiments/trajectory_sensitivity.py --parting    # dropout 0.1: step by step, whose weights part
    python benchmarks/experiments/trajectory_sensitivity.py --seeds 20   # Numba against JAX, 20 seeds of start and run

The data and steps are those of tests/test_jax_trainer.py's parity tests (40 depth-2 games, seed 3; batch 64;
the full-size nets; seed 1). For each pair of runs and each net it prints the distance between the two runs'
parameters as a share of what training changed, every 10 steps, and, at the end, what the parameters that differ
most have in common: their Adam second moment v (the gradient's scale: sqrt(v)) against the net's median, and how
many of them one run left exactly where they started (a unit that is dead in one run and barely alive in the other).
"""

from __future__ import annotations

import argparse

import numpy as np

import rgou.nn.numba_trainer as nt
from rgou.nn.contract import TrainConfig, make_batch, shuffle_order
from rgou.nn.layout import POLICY_CONFIG, VALUE_CONFIG, init_params
from rgou.selfplay import generate

BATCH = 64
EVERY = 10
WORST = 100  # the parameters that differ most, examined at the end
PERTURBATION = 1e-6


def batches(data, steps: int, seed: int = 1):
    order = shuffle_order(len(data), seed=seed, epoch=0)
    for k in range(steps):
        rows = order[(k * BATCH) % (len(data) - BATCH) :][:BATCH]
        yield make_batch(data.features[rows], data.value_target[rows], data.policy_target[rows])


def copied(state):
    """A copy of a Numba trainer's state, which its later steps update in place."""
    return state._replace(**{name: np.copy(getattr(state, name)) for name in state._fields[:6]})


def run(trainer, to_numpy, state, data, steps: int, seed: int = 1) -> list:
    """The NumPy states (copies) after every EVERY steps."""
    out = []
    for k, batch in enumerate(batches(data, steps, seed), 1):
        state, _ = trainer.step(state, batch)
        if k % EVERY == 0:
            out.append(to_numpy(state))
    return out


def perturbed(start: np.ndarray, size: float, seed: int) -> np.ndarray:
    """start with every parameter multiplied by 1 + size * a standard normal draw."""
    rng = np.random.default_rng(seed)
    return (start * (1 + size * rng.standard_normal(start.shape))).astype(np.float32)


def jax_trainer():
    try:
        import rgou.nn.jax_trainer as jt
    except ImportError as e:
        raise SystemExit(f"this comparison needs JAX: pip install 'rgou[jax]' ({e})") from None
    return jt


def branches(data, v0, p0, steps: int) -> None:
    """Dropout 0.1: the JAX run and the unperturbed Numba run against Numba runs from perturbed starts."""
    jt = jax_trainer()
    config = TrainConfig(dropout_rate=0.1, max_batch=BATCH, seed=1)
    ntr, jtr = nt.NumbaTrainer(config), jt.JaxTrainer(config)
    theirs = run(jtr, jtr.to_numpy, jtr.init(v0, p0), data, steps)[-1]
    plain = None
    print(f"value net after {steps} steps, distance / what training changed:")
    print("| start of the Numba run | to the JAX run | to the unperturbed Numba run |\n|---|---:|---:|")
    for size, seed in ((0.0, 0), (1e-7, 0), (1e-6, 0), (1e-6, 1), (1e-5, 0)):
        start = ntr.init(perturbed(v0, size, seed), perturbed(p0, size, seed))
        ours = run(ntr, copied, start, data, steps)[-1]
        plain = ours if plain is None else plain
        change = np.linalg.norm(theirs.value - v0)
        to_jax, to_plain = (np.linalg.norm(ours.value - other.value) / change for other in (theirs, plain))
        name = "unchanged" if size == 0 else f"changed by {size:g} (draw {seed})"
        print(f"| {name} | {to_jax:.2e} | {to_plain:.2e} |")


def parting(data, v0, p0, steps: int) -> None:
    """Dropout 0.1, Numba and JAX from the same start: each step's distance; whose weights differ most."""
    from rgou.nn.layout import weight_offset

    jt = jax_trainer()
    config = TrainConfig(dropout_rate=0.1, max_batch=BATCH, seed=1)
    ntr, jtr = nt.NumbaTrainer(config), jt.JaxTrainer(config)
    ours, theirs = ntr.init(v0.copy(), p0.copy()), jtr.init(v0, p0)
    sizes = np.array([VALUE_CONFIG.input_size, *VALUE_CONFIG.hidden_sizes, VALUE_CONFIG.output_size])
    for k, batch in enumerate(batches(data, steps), 1):
        ours, _ = ntr.step(ours, batch)
        theirs, _ = jtr.step(theirs, batch)
        value = jtr.to_numpy(theirs).value
        diff = np.abs(ours.value - value)
        share = np.linalg.norm(diff) / np.linalg.norm(value - v0)
        where = []
        for index in np.argsort(diff)[-6:]:
            layer = max(j for j in range(len(sizes) - 1) if weight_offset(sizes, j) <= index)
            local = index - weight_offset(sizes, layer)
            n_in, n_out = sizes[layer], sizes[layer + 1]
            kind = f"W[{local // n_out}, {local % n_out}]" if local < n_in * n_out else f"b[{local - n_in * n_out}]"
            where.append(f"layer {layer} {kind}")
        print(f"step {k}: {share:.2e}; differ most: {', '.join(where)}")


def seeds(data, count: int, steps: int) -> None:
    """Numba against JAX from the same start, for `count` seeds of the start weights, the minibatches' order and
    the dropout masks: the distance after `steps` steps as a share of the change, dropout 0 and 0.1."""
    jt = jax_trainer()
    print(f"distance after {steps} steps / what training changed, value net and policy net")
    print("| seed | dropout 0: value | policy | dropout 0.1: value | policy |\n|---:|---:|---:|---:|---:|")
    worst = {0.0: [], 0.1: []}
    for seed in range(1, count + 1):
        v0, p0 = init_params(VALUE_CONFIG, 2 * seed + 1), init_params(POLICY_CONFIG, 2 * seed + 2)
        cells = []
        for rate in (0.0, 0.1):
            config = TrainConfig(dropout_rate=rate, max_batch=BATCH, seed=seed)
            ntr, jtr = nt.NumbaTrainer(config), jt.JaxTrainer(config)
            ours = run(ntr, copied, ntr.init(v0.copy(), p0.copy()), data, steps, seed)[-1]
            theirs = run(jtr, jtr.to_numpy, jtr.init(v0, p0), data, steps, seed)[-1]
            shares = [
                np.linalg.norm(getattr(ours, net) - getattr(theirs, net)) / np.linalg.norm(getattr(ours, net) - start)
                for net, start in (("value", v0), ("policy", p0))
            ]
            worst[rate].append(max(shares))
            cells += [f"{x:.1e}" for x in shares]
        print(f"| {seed} | " + " | ".join(cells) + " |", flush=True)
    for rate, values in worst.items():
        within = sum(v <= 1e-3 for v in values)
        print(
            f"dropout {rate}: both nets within 1e-3 in {within} of {count} seeds; median of the larger share "
            f"{np.median(values):.1e}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help=f"a multiple of {EVERY} (default 100)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--branches", action="store_true", help="JAX against Numba runs from perturbed starts")
    mode.add_argument("--parting", action="store_true", help="Numba against JAX step by step, dropout 0.1")
    mode.add_argument("--seeds", type=int, metavar="N", help="Numba against JAX for seeds 1 to N (start and run)")
    args = parser.parse_args()
    if args.steps < EVERY or args.steps % EVERY:
        parser.error(f"--steps must be a positive multiple of {EVERY}, got {args.steps}")
    data = generate(40, depth=2, seed=3)
    v0, p0 = init_params(VALUE_CONFIG, 1), init_params(POLICY_CONFIG, 2)
    if args.branches:
        return branches(data, v0, p0, args.steps)
    if args.parting:
        return parting(data, v0, p0, args.steps)
    if args.seeds:
        return seeds(data, args.seeds, args.steps)
    v1, p1 = perturbed(v0, PERTURBATION, 0), perturbed(p0, PERTURBATION, 0)
    try:
        import rgou.nn.jax_trainer as jt
    except ImportError:
        jt = None
        print("JAX is not installed (pip install 'rgou[jax]'): Numba against Numba only")
    for rate in (0.0, 0.1):
        config = TrainConfig(dropout_rate=rate, max_batch=BATCH, seed=1)
        ntr = nt.NumbaTrainer(config)
        base = run(ntr, copied, ntr.init(v0.copy(), p0.copy()), data, args.steps)
        pairs = {"Numba, start changed by 1e-6": run(ntr, copied, ntr.init(v1, p1), data, args.steps)}
        if jt is not None:
            jtr = jt.JaxTrainer(config)
            pairs["JAX, same start"] = run(jtr, jtr.to_numpy, jtr.init(v0, p0), data, args.steps)
        for name, other in pairs.items():
            print(f"\ndropout {rate}: Numba against {name} (distance / what training changed)")
            print("| step | value net | policy net |\n|---:|---:|---:|")
            for k, (a, b) in enumerate(zip(base, other), 1):
                shares = [
                    np.linalg.norm(getattr(a, net) - getattr(b, net)) / np.linalg.norm(getattr(a, net) - start)
                    for net, start in (("value", v0), ("policy", p0))
                ]
                print(f"| {k * EVERY} | {shares[0]:.2e} | {shares[1]:.2e} |")
            a, b = base[-1], other[-1]
            for net, start in (("value", v0), ("policy", p0)):
                diff = np.abs(getattr(a, net) - getattr(b, net))
                worst = np.argsort(diff)[-WORST:]
                scale = np.sqrt(getattr(a, f"{net}_v"))
                moved = getattr(a, net) != start
                still = int(np.sum(moved[worst] != (getattr(b, net) != start)[worst]))
                print(
                    f"{net} net, the {WORST} parameters that differ most: median sqrt(v) "
                    f"{np.median(scale[worst]):.1e} (all moved parameters: {np.median(scale[moved]):.1e}); "
                    f"left at their start by one run only: {still}"
                )


if __name__ == "__main__":
    main()
