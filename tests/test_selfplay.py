"""Self-play data: reproducible whatever the thread count, targets as docs/training.md defines them."""

import json

import numba
import numpy as np
import oracle
import pytest

from rgou.dataset import Dataset, features_of, load_dataset
from rgou.features import extract_features_batch
from rgou.game import Position, is_over
from rgou.heuristic import DEFAULT_PARAMS
from rgou.search import expectiminimax
from rgou.selfplay import MAX_PLIES, generate, positions_after_moves


@pytest.fixture(scope="module")
def dataset():
    return generate(12, depth=2, seed=5)


def assert_same(a: Dataset, b: Dataset):
    for name, _, _ in Dataset.ARRAYS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two Numba threads")
def test_same_seed_same_dataset_with_one_and_two_threads():
    one = generate(10, depth=2, seed=11, threads=1, chunk_games=3)
    two = generate(10, depth=2, seed=11, threads=2)
    assert_same(one, two)
    other = generate(10, depth=2, seed=12, threads=2)
    assert not np.array_equal(one.state[: len(other)], other.state[: len(one)])


def test_epsilon_is_reproducible_and_changes_play():
    a = generate(6, depth=1, seed=3, epsilon=0.3)
    b = generate(6, depth=1, seed=3, epsilon=0.3)
    plain = generate(6, depth=1, seed=3)
    assert_same(a, b)
    assert len(a) != len(plain) or not np.array_equal(a.state, plain.state)


def test_samples_have_the_expert_targets(dataset):
    ds = dataset
    assert len(ds) > 100 and ds.num_games == 12
    np.testing.assert_array_equal(ds.features, extract_features_batch(ds.state))
    assert np.all(ds.policy_target.sum(1) == 1.0)
    moves = ds.policy_target.argmax(1)
    assert np.all(ds.legal_mask[np.arange(len(ds)), moves])
    assert np.all(ds.legal_mask.any(1)), "a sample without a legal move"
    for i in range(0, len(ds), 37):
        result = expectiminimax(Position.from_array(ds.state[i]), 2)
        assert result.best_move == moves[i]
        expected = np.float32(np.clip(result.value / DEFAULT_PARAMS.win_score, -1, 1))
        assert ds.value_target[i] == expected


def test_games_and_outcomes_are_consistent(dataset):
    ds = dataset
    for g in np.unique(ds.game_id):
        rows = np.flatnonzero(ds.game_id == g)
        assert np.all(np.diff(rows) == 1) and len(rows) <= MAX_PLIES
        assert len(set(ds.outcome[rows])) == 1
        assert not any(is_over(s) for s in ds.state[rows])
    assert set(np.unique(ds.outcome)) <= {-1, 0, 1}
    assert np.any(ds.outcome != 0)


def test_save_load_roundtrip_and_json_export(dataset, tmp_path):
    path = dataset.save(tmp_path / "d.npz")
    back = Dataset.load(path)
    assert_same(dataset, back)
    assert back.meta == dataset.meta and back.meta["depth"] == 2 and back.meta["seed"] == 5
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    js = dataset.to_json(tmp_path / "d.json")
    items = json.loads(js.read_text())
    assert len(items) == len(dataset)
    assert set(items[0]) == {"features", "value_target", "policy_target", "outcome", "game_id"}
    np.testing.assert_array_equal(np.array([it["features"] for it in items], dtype=np.float32), dataset.features)
    back = load_dataset(js)
    for name in ("features", "value_target", "policy_target", "outcome", "game_id"):
        np.testing.assert_array_equal(getattr(back, name), getattr(dataset, name), err_msg=name)


def test_bad_dataset_files_raise(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cannot read dataset"):
        Dataset.load(bad)
    partial = tmp_path / "partial.npz"
    np.savez(partial, features=np.zeros((1, 150), np.float32))
    with pytest.raises(ValueError, match="no meta"):
        Dataset.load(partial)
    np.savez(partial, state=np.zeros((1, 16), np.int8), meta=np.array('{"format": 2}'))
    with pytest.raises(ValueError, match="missing move, value_target, outcome, game_id"):
        Dataset.load(partial)
    np.savez(partial, meta=np.array('{"format": 9}'))
    with pytest.raises(ValueError, match="format 9"):
        Dataset.load(partial)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"games": 0}, "games"),
        ({"games": 2, "depth": 0}, "depth"),
        ({"games": 2, "epsilon": 1.5}, "epsilon"),
        ({"games": 2, "seed": -1}, "seed"),
        ({"games": 2, "threads": 99}, "threads"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate(**kwargs)


def test_games_of_one_run_are_all_different():
    ds = generate(300, depth=1, seed=0)
    games = {}
    for g in np.unique(ds.game_id):
        games.setdefault(ds.state[ds.game_id == g].tobytes(), []).append(int(g))
    duplicates = [ids for ids in games.values() if len(ids) > 1]
    assert not duplicates, f"identical games {duplicates}"


def test_self_play_of_another_agent_records_its_moves_and_values():
    from rgou.agents import make_agent

    ds = generate(3, seed=4, agent="ml", epsilon=0.1)
    agent = make_agent("ml")
    assert ds.meta["agent"] == "ml" and len(ds) > 100
    for i in range(0, len(ds), 50):
        decision = agent.decide(ds.state[i])
        assert ds.move[i] == decision.move
        assert -1.0 <= ds.value_target[i] <= 1.0
    with pytest.raises(ValueError, match="unknown agent"):
        generate(2, agent="oracle")


def _after_moves_reference(states, include_passes):
    """The oracle's positions after each distinct move (one entering move) of each state, unrolled, with parents."""
    out, parents = [], []
    for i, state in enumerate(states):
        s = [int(v) for v in state]
        pos = (s[:7], s[7:14], s[14], s[15])
        mine = pos[0] if pos[2] == 1 else pos[1]
        legal = oracle.legal_moves(pos)
        entering = [m for m in legal if mine[m] == -1]
        for m in legal:
            if mine[m] == -1 and m != entering[0]:
                continue
            child = oracle.apply_move(pos, m)
            if oracle.winner(child):
                continue
            if not include_passes and not any(oracle.legal_moves((*child[:3], r)) for r in range(1, 5)):
                continue
            out.append([*child[0], *child[1], child[2]])
            parents.append(i)
    return np.array(out, np.int8).reshape(-1, 15), np.array(parents, np.int64)


@pytest.mark.parametrize("include_passes", [False, True])
def test_positions_after_moves_match_the_oracle_and_roll_the_dice(dataset, include_passes):
    states, parents = positions_after_moves(dataset.state, dataset.game_id, 9, include_passes)
    expected, expected_parents = _after_moves_reference(dataset.state, include_passes)
    np.testing.assert_array_equal(states[:, :15], expected)
    np.testing.assert_array_equal(parents, expected_parents)
    moves = np.array([len(oracle.legal_moves((list(s[:7]), list(s[7:14]), int(s[14]), int(s[15])))) for s in states])
    if not include_passes:
        assert moves.min() > 0  # every roll moves
    # the rolls follow the dice (1:4:6:4:1; without passes the rolls 1..4, 4:6:4:1, as rolls that cannot
    # move are rare), each share within 5 standard errors
    weights = np.array([1, 4, 6, 4, 1], float)[0 if include_passes else 1 :]
    share = weights / weights.sum()
    counts = np.bincount(states[:, 15], minlength=5)[0 if include_passes else 1 :]
    n = len(states)
    assert np.all(np.abs(counts / n - share) <= 5 * np.sqrt(share * (1 - share) / n)), counts
    again, _ = positions_after_moves(dataset.state, dataset.game_id, 9, include_passes)
    np.testing.assert_array_equal(again, states)
    other, _ = positions_after_moves(dataset.state, dataset.game_id, 10, include_passes)
    assert not np.array_equal(other[:, 15], states[:, 15])


def test_positions_after_moves_are_the_same_per_game_whatever_the_split(dataset):
    """A game's rolls come from its own stream: a game alone gives its rows of the whole run."""
    states, parents = positions_after_moves(dataset.state, dataset.game_id, 9)
    for g in np.unique(dataset.game_id)[:4]:
        rows = np.flatnonzero(dataset.game_id == g)
        alone, _ = positions_after_moves(dataset.state[rows], dataset.game_id[rows], 9)
        np.testing.assert_array_equal(alone, states[np.isin(parents, rows)])


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two Numba threads")
def test_positions_after_moves_are_the_same_on_one_and_two_threads(dataset):
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = positions_after_moves(dataset.state, dataset.game_id, 9)
        numba.set_num_threads(2)
        two = positions_after_moves(dataset.state, dataset.game_id, 9)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])


def test_generate_runs_its_parallel_kernels_on_the_threads_asked_for(monkeypatch):
    import rgou.selfplay

    seen = []

    def recording(states, rules):
        seen.append(numba.get_num_threads())
        return features_of(states, rules)

    monkeypatch.setattr(rgou.selfplay, "features_of", recording)
    before = numba.get_num_threads()
    generate(2, depth=1, seed=3, threads=1, max_plies=20)
    assert seen == [1] and numba.get_num_threads() == before
    with pytest.raises(ZeroDivisionError):  # the setting comes back after an error too
        monkeypatch.setattr(rgou.selfplay, "features_of", lambda states, rules: 1 / 0)
        generate(2, depth=1, seed=3, threads=1, max_plies=20)
    assert numba.get_num_threads() == before


def test_positions_after_moves_edge_cases(dataset):
    empty, parents = positions_after_moves(dataset.state[:0], dataset.game_id[:0], 1)
    assert empty.shape == (0, 16) and len(parents) == 0
    passing = dataset.state[:1].copy()
    passing[0, 15] = 0  # a roll of 0: no move, so no position after one
    none, _ = positions_after_moves(passing, dataset.game_id[:1], 1)
    assert len(none) == 0
    split = np.array([0, 1, 0], np.int32)  # game 0's rows are not together
    with pytest.raises(ValueError, match="contiguous"):
        positions_after_moves(dataset.state[:3], split, 1)


def test_afterstates_need_exact_targets():
    with pytest.raises(ValueError, match=r"afterstates.*exact"):
        generate(2, depth=1, afterstates=True)


def test_a_bad_value_target_is_quoted_as_given():
    from rgou.selfplay import GenerateOptions

    with pytest.raises(ValueError, match=r"value_target must be search, exact or exact-unrolled, got 'zz'"):
        GenerateOptions(value_target="zz")
    with pytest.raises(ValueError, match=r"got 'td:0\.5'"):  # a target of training, not of generated data
        GenerateOptions(value_target="td:0.5")


def test_sizes_that_could_not_be_allocated_are_refused_when_the_options_are_made():
    from rgou.selfplay import MAX_PLIES_LIMIT, GenerateOptions
    from rgou.train.options import TrainOptions

    with pytest.raises(ValueError, match=f"max_plies must be in 1..{MAX_PLIES_LIMIT}"):
        GenerateOptions(max_plies=2**40)  # was a MemoryError of 16 TiB when generating
    too_large = r"hidden_sizes \(1000000, 1000000\): the policy net has 1,000,159,000,007 parameters"
    with pytest.raises(ValueError, match=too_large):
        TrainOptions(hidden_sizes=(10**6, 10**6))
    assert TrainOptions(hidden_sizes=(512, 256, 128, 64)).hidden_sizes == (512, 256, 128, 64)
