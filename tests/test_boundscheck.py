"""Run the kernels once with NUMBA_BOUNDSCHECK=1 (a fresh cache, so nothing unchecked is reused).

Numba does not bounds-check by default and its cache ignores the setting, so
this test compiles everything anew in a subprocess with its own cache folder
(conftest.py's `script` marker: it runs beside the rest of the suite).
"""

import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import numpy as np
    from rgou.testing import random_states
    from rgou.features import extract_features_batch
    from rgou.game import Position
    from rgou.search import expectiminimax
    from rgou.selfplay import generate
    from rgou.agents import MLAgent, make_agent
    from rgou.nn.layout import VALUE_CONFIG, POLICY_CONFIG, init_params
    from rgou.weights import Weights

    states, over = random_states(3)
    assert over
    extract_features_batch(states)
    for s in states[::50]:
        expectiminimax(Position.from_array(s), 2)
    data = generate(4, depth=2, seed=1)
    weights = Weights(init_params(VALUE_CONFIG, 0), init_params(POLICY_CONFIG, 1), VALUE_CONFIG, POLICY_CONFIG, {})
    agent = MLAgent(weights)
    for s in data.state[::20]:
        agent.decide(s)
        make_agent("heuristic").choose_move(s)
    print("ok", len(data))
    """
)


@pytest.mark.script(SCRIPT, env={"NUMBA_BOUNDSCHECK": "1"})
def test_kernels_pass_with_boundscheck(script_run):
    assert script_run.returncode == 0, script_run.stderr[-3000:]
    assert script_run.stdout.startswith("ok")
