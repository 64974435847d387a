"""Neural networks: the flat parameter layout, inference, and the two trainers over it.

``rgou.nn.layout`` owns the layout; ``rgou.nn.inference`` the forward passes
(what agents need); ``rgou.nn.contract`` the step contract both trainers
implement; ``rgou.nn.numba_trainer`` the CPU trainer; ``rgou.nn.jax_trainer``
(optional, imports jax) the accelerated one. Importing this package never
imports jax.
"""

from rgou.nn.layout import (
    LAYOUT_IN_OUT,
    LAYOUT_OUT_IN,
    NUM_FEATURES,
    NUM_POLICY_OUTPUTS,
    POLICY_CONFIG,
    VALUE_CONFIG,
    NetConfig,
    init_params,
    layer_offsets,
    layer_sizes,
    num_params,
    unflatten,
)

__all__ = [
    "LAYOUT_IN_OUT",
    "LAYOUT_OUT_IN",
    "NUM_FEATURES",
    "NUM_POLICY_OUTPUTS",
    "POLICY_CONFIG",
    "VALUE_CONFIG",
    "NetConfig",
    "init_params",
    "layer_offsets",
    "layer_sizes",
    "num_params",
    "unflatten",
]
