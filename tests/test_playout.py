"""The one game loop: recorded samples, reproducibility, paired dice, per-agent results."""

import json

import numba
import numpy as np
import pytest
from reference import REFERENCE_DIR

from rgou.agents import ExpectiminimaxAgent, HeuristicAgent, RandomAgent, search_agent_data
from rgou.game import DICE, TO_MOVE, Position, is_over
from rgou.leaves import heuristic_leaf
from rgou.playout import NO_SAMPLE_MOVE, play_games
from rgou.search import expectiminimax
from rgou.selfplay import generate


def test_self_play_samples_are_bit_identical_to_rgou_0_1():
    """The refactor onto the one game loop changed no sample (recorded with rgou 0.1 before it)."""
    golden = np.load(REFERENCE_DIR / "selfplay-v1.npz")
    for name, options in json.loads(str(golden["cases"])).items():
        ds = generate(**options)
        np.testing.assert_array_equal(ds.state, golden[f"{name}__state"], err_msg=name)
        np.testing.assert_array_equal(ds.move, golden[f"{name}__policy"], err_msg=name)
        np.testing.assert_array_equal(ds.value_target, golden[f"{name}__value"], err_msg=name)
        np.testing.assert_array_equal(ds.outcome, golden[f"{name}__outcome"], err_msg=name)
        np.testing.assert_array_equal(ds.game_id, golden[f"{name}__game_id"], err_msg=name)


def _same(a, b):
    for field in ("winners", "plies", "decisions", "states", "moves", "values", "counts"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two threads")
def test_results_do_not_depend_on_threads_or_task_size():
    a, b = HeuristicAgent().data, RandomAgent().data
    one = play_games(a, b, 30, seed=4, paired=True, record_samples=300, threads=1)
    two = play_games(a, b, 30, seed=4, paired=True, record_samples=300, threads=2, task_games=7)
    _same(one, two)
    assert (two.time_ns > 0).all() and (two.decisions > 0).all()


def test_paired_games_roll_the_same_dice_with_colours_swapped():
    a, b = HeuristicAgent().data, RandomAgent().data
    rec = play_games(a, b, 20, seed=9, paired=True, record_samples=1000, record_passes=True)
    np.testing.assert_array_equal(rec.first_agent, np.arange(20) % 2)
    for k in range(10):
        even, odd = 2 * k, 2 * k + 1
        n = min(rec.counts[even], rec.counts[odd])
        # every turn is recorded (passes too): the k-th roll is the same in both games
        np.testing.assert_array_equal(rec.states[even, :n, DICE], rec.states[odd, :n, DICE])
    unpaired = play_games(a, b, 20, seed=9, record_samples=1000, record_passes=True)
    assert not np.array_equal(unpaired.states[1, :20, DICE], rec.states[1, :20, DICE])


def test_recorded_decisions_are_the_agents_and_games_end():
    heuristic = HeuristicAgent()
    emm = ExpectiminimaxAgent(2)
    rec = play_games(heuristic.data, emm.data, 6, seed=2, paired=True, record_samples=1000)
    assert set(np.unique(rec.winners)) <= {1, 2}
    for g in range(6):
        first = rec.first_agent[g]
        for i in range(rec.counts[g]):
            state = rec.states[g, i]
            assert not is_over(state)
            side = first if state[TO_MOVE] == 1 else 1 - first
            agent = heuristic if side == 0 else emm
            assert rec.moves[g, i] == agent.choose_move(state)
        assert rec.decisions[g].sum() == rec.counts[g] <= rec.plies[g]
    # an expert's recorded value is its search value / win score
    state = rec.states[1, 3]
    side = rec.first_agent[1] if state[TO_MOVE] == 1 else 1 - rec.first_agent[1]
    if side == 1:
        expected = np.clip(expectiminimax(Position.from_array(state), 2).value / 10000, -1, 1)
        assert rec.values[1, 3] == np.float32(expected)


def test_passing_positions_are_recorded_with_their_search_value():
    expert = search_agent_data(2, heuristic_leaf())
    rec = play_games(expert, expert, 4, seed=3, record_samples=1000, record_passes=True)
    passes = [(g, i) for g in range(4) for i in range(rec.counts[g]) if rec.moves[g, i] == NO_SAMPLE_MOVE]
    assert passes
    for g, i in passes[:20]:
        pos = Position.from_array(rec.states[g, i])
        assert pos.legal_moves() == []
        result = expectiminimax(pos, 2)
        assert rec.values[g, i] == np.float32(np.clip(result.value / 10000, -1, 1))


def test_exploration_plays_other_moves_but_records_the_experts():
    explorer = search_agent_data(1, heuristic_leaf(), epsilon=0.5)
    rec = play_games(explorer, explorer, 4, seed=5, record_samples=1000, record_passes=True, split_streams=False)
    states = rec.states[0, : rec.counts[0]]
    played_other = 0
    for i in range(len(states) - 1):
        if rec.moves[0, i] == NO_SAMPLE_MOVE:
            continue
        expert = HeuristicAgent().choose_move(states[i])
        assert rec.moves[0, i] == expert
        pos = Position.from_array(states[i])
        after = pos.play(expert)
        nxt = states[i + 1]
        if after.to_move == nxt[TO_MOVE] and (after.p1, after.p2) != (tuple(nxt[:7]), tuple(nxt[7:14])):
            played_other += 1
    assert played_other > 0


def test_cut_games_have_no_winner():
    a = RandomAgent().data
    rec = play_games(a, a, 5, seed=1, max_plies=10)
    assert (rec.winners == 0).all() and (rec.plies == 10).all()


def test_bad_arguments_raise():
    a = RandomAgent().data
    for kwargs, message in (
        ({"games": 0}, "games"),
        ({"games": 2, "seed": -1}, "seed"),
        ({"games": 2, "threads": 999}, "threads"),
        ({"games": 2, "max_plies": 0}, "max_plies"),
    ):
        with pytest.raises(ValueError, match=message):
            play_games(a, a, **{"seed": 0, **kwargs})


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two Numba threads for the pool")
def test_the_game_kernel_is_compiled_in_the_main_thread_before_the_pool(monkeypatch):
    """A review: a first compile in a pool thread held Ctrl-C for as long as it took (a minute), the main thread
    waiting for the pool to shut down."""
    import threading

    import rgou.playout

    kernel = rgou.playout.play_games_kernel
    calls = []

    class Watched:
        def compile(self, signature):
            calls.append(("compile", threading.current_thread() is threading.main_thread()))
            return kernel.compile(signature)

        def __call__(self, *args):
            calls.append(("play", threading.current_thread() is threading.main_thread()))
            return kernel(*args)

    monkeypatch.setattr(rgou.playout, "play_games_kernel", Watched())
    a = HeuristicAgent().data
    rec = play_games(a, a, 8, 1, threads=2, task_games=2)
    assert calls[0] == ("compile", True) and {call for call in calls[1:]} == {("play", False)}
    assert rec.winners.min() > 0
