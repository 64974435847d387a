"""Agents: each picks what its definition says, checked against independent computations."""

import numpy as np
import oracle
import pytest

from rgou.agents import ExpectiminimaxAgent, HeuristicAgent, MLAgent, RandomAgent, make_agent
from rgou.features import extract_features
from rgou.game import DICE, Position, apply_move, winner
from rgou.nn.layout import POLICY_CONFIG, VALUE_CONFIG, NetConfig, init_params, unflatten
from rgou.rules import P1_TRACK, P2_TRACK, ROLL_PROBS
from rgou.search import expectiminimax
from rgou.selfplay import generate
from rgou.weights import Weights


@pytest.fixture(scope="module")
def states():
    return generate(3, depth=1, seed=9).state[::5]


@pytest.fixture(scope="module")
def weights():
    return Weights(init_params(VALUE_CONFIG, 1), init_params(POLICY_CONFIG, 2), VALUE_CONFIG, POLICY_CONFIG, {})


def numpy_forward(flat, cfg: NetConfig, x):
    h = x.astype(np.float64)
    layers = unflatten(flat, cfg)
    for k, (w, b) in enumerate(layers):
        h = h @ w.astype(np.float64) + b
        if k < len(layers) - 1:
            h = np.maximum(h, 0.0)
    return h


def colour_swap(state):
    """The position for the other colour: each piece at the same track position of the other track."""
    tracks = (P1_TRACK, P2_TRACK)

    def moved(square, player):
        if square in (-1, 20):
            return square
        return tracks[2 - player][tracks[player - 1].index(square)]

    swapped = state.copy()
    swapped[:7] = [moved(sq, 2) for sq in state[7:14]]
    swapped[7:14] = [moved(sq, 1) for sq in state[:7]]
    swapped[14] = 3 - state[14]
    return swapped


def chance_value(weights, child):
    """The value net's mean over the five rolls of the unrolled position `child`."""
    child = child.copy()
    expected = 0.0
    for roll in range(5):
        child[DICE] = roll
        expected += ROLL_PROBS[roll] * np.tanh(numpy_forward(weights.value, VALUE_CONFIG, extract_features(child))[0])
    return expected


def reference_scores(weights, state, value_weight, policy_weight, mirrored=False):
    sign = 1.0 if state[14] == 2 else -1.0
    logits = numpy_forward(weights.policy, POLICY_CONFIG, extract_features(state))
    policy = np.exp(logits - logits.max())
    policy /= policy.sum()
    scores = {}
    mine = state[:7] if state[14] == 1 else state[7:14]
    for m in Position.from_array(state).legal_moves():
        # the search enters a piece as the lowest slot not yet entered (the same position)
        child = apply_move(state, int(np.argmax(mine == -1)) if mine[m] == -1 else m)
        if winner(child):
            expected = 1.0 if winner(child) == 2 else -1.0
        elif mirrored:
            expected = 0.5 * (chance_value(weights, child) - chance_value(weights, colour_swap(child)))
        else:
            expected = chance_value(weights, child)
        scores[m] = value_weight * sign * expected + policy_weight * policy[m]
    return scores, policy


@pytest.mark.parametrize("mirrored", [False, True])
def test_ml_agent_matches_numpy_reference(states, weights, mirrored):
    for mode, vw, pw in (("combined", 1.0, 0.5), ("value", 1.0, 0.0), ("policy", 0.0, 0.5)):
        agent = MLAgent(weights, mode=mode, value_weight=1.0, policy_weight=0.5, mirrored=mirrored)
        for state in states:
            expected, policy = reference_scores(weights, state, vw, pw, mirrored)
            decision = agent.decide(state)
            np.testing.assert_allclose(decision.policy, policy, atol=1e-6)
            for slot in range(7):
                if slot in expected:
                    assert decision.scores[slot] == pytest.approx(expected[slot], abs=1e-5)
                else:
                    assert decision.scores[slot] is None
            best = max(expected.values())
            assert expected[decision.move] == pytest.approx(best, abs=1e-5)
            assert agent.choose_move(state) == decision.move


def test_heuristic_agent_is_greedy_on_evaluate(states):
    agent = HeuristicAgent()
    for state in states:
        pos = (list(state[:7]), list(state[7:14]), int(state[14]), int(state[15]))
        sign = 1 if state[14] == 2 else -1
        values = {m: sign * oracle.evaluate(oracle.apply_move(pos, m)) for m in oracle.legal_moves(pos)}
        best = max(values.values())
        assert agent.choose_move(state) == min(m for m, v in values.items() if v == best)


def test_expectiminimax_and_random_agents(states):
    emm = make_agent("expectiminimax-2")
    a, b = RandomAgent(seed=3), RandomAgent(seed=3)
    picks = []
    for state in states:
        assert emm.choose_move(state) == expectiminimax(Position.from_array(state), 2).best_move
        m = a.choose_move(state)
        assert m == b.choose_move(state) and m in Position.from_array(state).legal_moves()
        picks.append(m)
    assert isinstance(emm, ExpectiminimaxAgent) and len(set(picks)) > 1


def test_agents_reject_positions_without_moves_and_bad_specs(weights):
    passing = Position.initial(dice=0).to_array()
    # a 2 with P2's last piece on 5 and P1's on the central rosette (7): the only move is blocked
    blocked = Position((7, -1, -1, -1, -1, -1, -1), (5, 20, 20, 20, 20, 20, 20), to_move=2, dice=2).to_array()
    for agent in (RandomAgent(), HeuristicAgent(), ExpectiminimaxAgent(1), MLAgent(weights)):
        for state in (passing, blocked):
            with pytest.raises(ValueError, match="no legal move"):
                agent.choose_move(state)
            with pytest.raises(ValueError, match="no legal move"):
                agent.decide(state)
        # a finished game: its position still has moves to the kernels (decide gave NaN scores and move -1)
        over = np.array([20] * 7 + [-1] * 7 + [2, 2], dtype=np.int8)
        for act in (agent.choose_move, agent.decide):
            with pytest.raises(ValueError, match=r"the game is over \(player 1 won\): there is no move to choose"):
                act(over)
    for spec in ("minimax", "expectiminimax-x", "emm-0"):
        with pytest.raises(ValueError):
            make_agent(spec)
    with pytest.raises(ValueError, match="mode"):
        MLAgent(weights, mode="greedy")


def test_make_agent_loads_ml_weights(tmp_path, weights, states):
    from rgou.weights import save_weights

    path = tmp_path / "w.json.gz"
    save_weights(path, weights)
    agent = make_agent(f"ml:{path}:value")
    assert agent.name == f"ml:{path}:value"  # agents are named by their spec
    assert agent.choose_move(states[0]) == MLAgent(weights, mode="value").choose_move(states[0])


def test_ml_agent_rejects_torch_layout(weights):
    from rgou.weights import convert_weights

    with pytest.raises(ValueError, match="layout"):
        MLAgent(convert_weights(weights, "rgou", "torch"))


@pytest.mark.parametrize("mirrored", [False, True])
def test_ml_agent_asks_an_unrolled_net_once_when_the_model_says_so(weights, states, mirrored):
    from rgou.leaves import UNROLLED_ROLL

    def net(child):
        child = child.copy()
        child[DICE] = UNROLLED_ROLL
        return np.tanh(numpy_forward(weights.value, VALUE_CONFIG, extract_features(child))[0])

    unrolled = Weights(weights.value, weights.policy, VALUE_CONFIG, POLICY_CONFIG, {"value_target": "exact-unrolled"})
    assert MLAgent(unrolled).unrolled and not MLAgent(weights).unrolled
    assert not MLAgent(unrolled, exact_passes=True).unrolled  # asked for: passes valued by the opponent's rolls
    assert MLAgent(weights, unrolled=True).unrolled
    agent = MLAgent(unrolled, mirrored=mirrored)
    for state in states:
        sign = 1.0 if state[14] == 2 else -1.0
        mine = state[:7] if state[14] == 1 else state[7:14]
        decision = agent.decide(state)
        for m in Position.from_array(state).legal_moves():
            child = apply_move(state, int(np.argmax(mine == -1)) if mine[m] == -1 else m)
            if winner(child):
                expected = sign * (1.0 if winner(child) == 2 else -1.0)
            elif mirrored:
                expected = sign * 0.5 * (net(child) - net(colour_swap(child)))
            else:
                expected = sign * net(child)
            assert decision.scores[m] == pytest.approx(expected, abs=1e-5)


def test_ml_agents_mirror_by_default_at_depth_0_alone(weights, states):
    assert MLAgent(weights).mirrored and make_agent("ml").mirrored
    assert not MLAgent(weights, depth=1).mirrored and not make_agent("ml-1").mirrored
    assert not MLAgent(weights, close_gap=0.01).mirrored and not make_agent("ml+").mirrored
    assert MLAgent(weights, depth=1, mirrored=True).mirrored and not MLAgent(weights, mirrored=False).mirrored
    assert not MLAgent(weights, mode="policy").mirrored and MLAgent(weights, mode="combined").mirrored
    # The name says a choice other than the default, and only then.
    assert MLAgent(weights).name == "ml" and MLAgent(weights, mirrored=True).name == "ml"
    assert MLAgent(weights, mirrored=False).name == "ml (unmirrored)"
    assert MLAgent(weights, depth=1).name == "ml-1" and MLAgent(weights, close_gap=0.01).name == "ml+"
    assert MLAgent(weights, depth=1, mirrored=True).name == "ml-1 (mirrored)"
    # the names are the specs make_agent takes for the default model, and gives its agents
    for spec, agent in (
        ("ml", MLAgent(weights)),
        ("ml-1", MLAgent(weights, depth=1)),
        ("ml:combined", MLAgent(weights, mode="combined")),
    ):
        assert make_agent(spec).name == agent.name == spec
    # The value of the rolled position itself (analyze's `value`) is the network's own answer.
    state = states[1]
    plain = np.tanh(numpy_forward(weights.value, VALUE_CONFIG, extract_features(state))[0])
    swapped = np.tanh(numpy_forward(weights.value, VALUE_CONFIG, extract_features(colour_swap(state)))[0])
    for mirrored in (True, False):
        assert MLAgent(weights, mirrored=mirrored).net_values(state)[0] == pytest.approx(plain, abs=1e-6)
    assert abs(plain + swapped) > 1e-3  # an untrained net: its two answers differ


def test_ml_plus_specs_search_close_calls_deeper(tmp_path, weights):
    from rgou.agents import CLOSE_GAP
    from rgou.weights import save_weights

    path = tmp_path / "w.json.gz"
    save_weights(path, weights)
    assert make_agent("ml").close_gap == 0.0
    assert make_agent("ml+").close_gap == CLOSE_GAP
    agent = make_agent(f"ml-1+:{path}:value")
    assert (agent.depth, agent.close_gap, agent.mode, agent.name) == (1, CLOSE_GAP, "value", f"ml-1+:{path}:value")
    for spec in ("ml++", "ml+1", "ml-+", "ml-1-2+"):
        with pytest.raises(ValueError, match=r"bad agent spec|unknown agent"):
            make_agent(spec)
    for gap in (-0.1, 2.5, float("nan"), True, "0.1"):
        with pytest.raises(ValueError, match="close-call gap"):
            MLAgent(weights, close_gap=gap)


def test_agent_data_says_its_plies_and_a_random_agent_has_no_heuristic(weights):
    from rgou.agents import ML_ROOT_PLY
    from rgou.leaves import LEAF_NONE, _leaf_fields

    assert make_agent("emm-3").data.plies == 3 and make_agent("heuristic").data.plies == 1
    assert MLAgent(weights).data.plies == ML_ROOT_PLY and MLAgent(weights, depth=2).data.plies == 2 + ML_ROOT_PLY
    assert _leaf_fields(RandomAgent().data.leaf)[0] == LEAF_NONE and RandomAgent().data.plies == 0


@pytest.mark.parametrize("mode", ["value", "combined", "policy"])
def test_the_reported_scores_rank_moves_as_the_decision_does(weights, states, mode):
    """One mixing rule (`move_score`): the move played is the best of the scores `decide` reports."""
    agent = MLAgent(weights, mode=mode)
    for state in states[:40]:
        decision = agent.decide(state)
        legal = [s for s in decision.scores if s is not None]
        assert decision.scores[decision.move] == max(legal)
        assert agent.choose_move(state) == decision.move


@pytest.mark.parametrize("option", ["value_weight", "policy_weight"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), 1e300, "1"])
def test_the_combined_modes_weights_are_finite_numbers(weights, option, bad):
    # a NaN weight would make every score NaN, and the agent quietly play its first legal move
    with pytest.raises(ValueError, match=option):
        MLAgent(weights, mode="combined", **{option: bad})


def test_an_ml_agent_takes_a_weight_file_or_a_packaged_models_name(weights, tmp_path):
    from rgou.models import load_model
    from rgou.weights import save_weights

    save_weights(tmp_path / "m.json", weights)
    state = Position([4, -1, -1, -1, -1, -1, -1], [9, -1, -1, -1, -1, -1, -1], 1, 2).to_array()
    assert MLAgent(tmp_path / "m.json").decide(state).scores == MLAgent(weights).decide(state).scores
    assert MLAgent("default").decide(state).scores == MLAgent(load_model("default")).decide(state).scores
    with pytest.raises(ValueError, match=r"missing\.json"):
        MLAgent(str(tmp_path / "missing.json"))


@pytest.mark.parametrize("spec", ["random", "heuristic", "emm-2", "ml"])
def test_an_agent_refuses_a_state_that_is_not_a_position(spec):
    # The compiled entry checks an int8 state itself (a square of 50 was searched as if it were one); another
    # dtype is checked before its cast to int8, which would wrap 300 to 44.
    agent = make_agent(spec)
    good = Position.initial(dice=2).to_array()
    for slot, value, message in ((0, 50, r"p1\[0\] = 50 is out of range"), (15, 9, "dice must be 0..4"),
                                 (14, 0, "to_move must be 1 or 2"), (1, 4, "two pieces on square 4")):  # fmt: skip
        bad = good.copy()
        bad[slot] = value
        if slot == 1:
            bad[0] = 4
        for call in (agent.choose_move, agent.decide):
            with pytest.raises(ValueError, match=f"state: {message}"):
                call(bad)
    wide = good.astype(np.int64)
    wide[0] = 300
    with pytest.raises(ValueError, match="300 is out of range"):
        agent.choose_move(wide)
    assert agent.choose_move(good) in Position.initial(dice=2).legal_moves()


def test_an_agent_of_another_rule_set_checks_by_its_own_rules():
    agent = make_agent("heuristic", rules="blitz")
    state = Position.initial(dice=2, rules="blitz").to_array()
    state[0] = state[1] = 4
    with pytest.raises(ValueError, match="two pieces on square 4"):
        agent.choose_move(state)
    with pytest.raises(ValueError, match=r"expected shape \(12,\)"):
        agent.choose_move(Position.initial(dice=2).to_array().astype(np.int64))
