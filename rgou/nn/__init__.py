"""Neural networks: the flat parameter layout and the trainers over it.

``rgou.nn.layout`` owns the layout; ``rgou.nn.numba_backend`` holds the CPU
trainer and the inference kernels; ``rgou.nn.jax_backend`` (optional, imports
jax) is the accelerated trainer. Importing this package never imports jax.
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
