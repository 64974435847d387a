"""Networks and training under every rule set: features, data, models, agents and the CLI.

The features of each rule set are compared, bit for bit, with the plain
feature reference (tests/oracle.py) given that rule set's tracks and rosettes
as the board tiles of tests/solve_oracle.py describe them, and the number of
legal moves that the tile reference allows. The ML agent's scores under a
rule set are recomputed from those features with a NumPy forward pass.
"""

import dataclasses
import json
import re
from dataclasses import replace

import numpy as np
import oracle as features_oracle
import pytest
import solve_oracle
from test_agents import numpy_forward
from test_rule_sets import BOARD_TILES, PATH_TILES, REFERENCE

from rgou.dataset import Dataset, check_stored, load_dataset
from rgou.features import feature_kernels
from rgou.game import engine
from rgou.rules import RULE_SETS
from rgou.selfplay import generate, positions_after_moves

ROSETTE_TILES = {"standard": solve_oracle.STANDARD_ROSETTES, "aseb": solve_oracle.ASEB_ROSETTES}


def tile_rules(name: str) -> tuple[dict, tuple]:
    """({1: track, 2: track}, rosettes) in rgou's square numbers, from the reference's board tiles."""
    board = RULE_SETS[name].board
    square_of = {tile: square for square, tile in BOARD_TILES[board].items()}
    light, dark = PATH_TILES[name]
    tracks = {1: [square_of[t] for t in light], 2: [square_of[t] for t in dark]}
    return tracks, tuple(square_of[t] for t in ROSETTE_TILES[board] if t in square_of)


def legal_count(name: str, state: np.ndarray) -> int:
    """How many of the mover's piece slots the roll moves (each piece off the board counted), by the tiles."""
    tracks, rosettes = tile_rules(name)
    n = RULE_SETS[name].pieces
    mover, roll = int(state[2 * n]), int(state[2 * n + 1])
    mine = [int(s) for s in (state[:n] if mover == 1 else state[n : 2 * n])]
    theirs = [int(s) for s in (state[n : 2 * n] if mover == 1 else state[:n])]
    track = tracks[mover]
    safe = REFERENCE[name].safe_rosettes
    count = 0
    for square in mine:
        if roll == 0 or square == 20:
            continue
        target = (-1 if square == -1 else track.index(square)) + roll
        if target > len(track):
            continue
        if target == len(track):
            count += 1
            continue
        to = track[target]
        if to in mine or (safe and to in rosettes and to in theirs):
            continue
        count += 1
    return count


def reference_features(name: str, state: np.ndarray) -> np.ndarray:
    tracks, rosettes = tile_rules(name)
    n = RULE_SETS[name].pieces
    pos = (list(state[:n]), list(state[n : 2 * n]), int(state[2 * n]), int(state[2 * n + 1]))
    values = features_oracle.features(pos, tracks, rosettes, legal_count(name, state))
    return np.array(values, np.float32)


def random_states(name: str, seed: int, count: int) -> list[np.ndarray]:
    """Rolled positions of random games of the rule set (captures, rosettes and finished pieces among them)."""
    kernels = engine(name)
    rng = np.random.default_rng(seed)
    out = np.empty(RULE_SETS[name].pieces, np.int8)
    states: list[np.ndarray] = []
    state = kernels.new_state()
    while len(states) < count:
        if kernels.is_over(state):
            state = kernels.new_state()
        state[kernels.DICE] = rng.choice(5, p=solve_oracle.FOUR_BINARY_DICE)
        states.append(state.copy())
        n = kernels.legal_moves(state, out)
        if n == 0:
            kernels.pass_turn_inplace(state)
        else:
            state = kernels.apply_move(state, np.int64(out[rng.integers(n)]))
    return states


def dataset_of(name: str, count: int) -> Dataset:
    """A small dataset of a rule set's random positions (each with a legal move), without self-play."""
    kernels = engine(name)
    states = np.array([s for s in random_states(name, 7, 3 * count) if kernels.count_legal_moves(s)][:count])
    moves = np.array([kernels.legal_move_list(s)[0] for s in states], np.int8)
    zeros = np.zeros(len(states))
    return Dataset.from_samples(states, moves, zeros, zeros.astype(np.int8), np.arange(len(states)), {"rules": name})


@pytest.mark.parametrize("name", list(RULE_SETS))
def test_every_rule_sets_features_are_the_plain_references(name):
    kernels = feature_kernels(name)
    states = random_states(name, 11, 200)
    batch = kernels.extract_features_batch(np.array(states))
    for k, state in enumerate(states):
        expected = reference_features(name, state)
        np.testing.assert_array_equal(batch[k], expected, err_msg=f"{name} {state.tolist()}")
        np.testing.assert_array_equal(kernels.extract_features(state), expected)
        assert kernels.legal_masks(state[None]).sum() == legal_count(name, state)
    if RULE_SETS[name].pieces == 5:  # the slots of the sixth and seventh pieces stay 0
        assert not batch[:, [5, 6, 12, 13]].any()


def test_finkel_features_stay_the_upstreams():
    # The copy mechanism changes nothing for Finkel: the module's kernels are the upstream's 150 inputs.
    import rgou.features as module

    assert feature_kernels("finkel") is module
    assert feature_kernels("blitz").features_into.py_func.__qualname__ == "features_into__blitz"


def test_a_rule_sets_data_records_it_and_is_never_mixed(tmp_path):
    data = generate(12, depth=1, seed=4, rules="aseb")
    assert data.meta["rules"] == data.rules == "aseb" and data.state.shape[1] == 12
    assert data.legal_mask.shape[1] == data.policy_target.shape[1] == 7 and not data.legal_mask[:, 5:].any()
    for k in range(0, len(data), 97):
        np.testing.assert_array_equal(data.features[k], reference_features("aseb", data.state[k]))
    path = data.save(tmp_path / "aseb.npz")
    back = load_dataset(path)
    assert back.rules == "aseb"
    np.testing.assert_array_equal(back.features, data.features)
    assert generate(12, depth=1, seed=4, rules="aseb").meta["rules"] == "aseb"  # the same games again
    np.testing.assert_array_equal(generate(12, depth=1, seed=4, rules="aseb").state, data.state)
    finkel = generate(2, depth=1, seed=4)
    assert finkel.rules == "finkel"
    with pytest.raises(ValueError, match=r"different rule sets \(aseb, finkel\): train one at a time"):
        Dataset.concatenate([data, finkel])
    with pytest.raises(ValueError, match=r"dataset array 'state': expected shape \(N, 16\)"):
        Dataset.from_samples(data.state, data.move, data.value_target, data.outcome, data.game_id, {})
    with pytest.raises(ValueError, match="meta 'rules' must be one of finkel, masters, blitz, aseb, got 'ur'"):
        Dataset.from_samples(data.state, data.move, data.value_target, data.outcome, data.game_id, {"rules": "ur"})
    move = data.move.copy()
    move[0] = 5  # a sixth piece: Aseb has five
    with pytest.raises(ValueError, match=r"'move' must hold slots 0..4 or -1"):
        check_stored({"state": data.state, "move": move}, "aseb")
    # A finkel meta on Aseb states is refused by the states' shape, before any kernel reads them.
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["meta"]))
    arrays["meta"] = np.array(json.dumps({**meta, "rules": "finkel"}))
    np.savez(tmp_path / "lying.npz", **arrays)
    with pytest.raises(ValueError, match=r"lying.npz: dataset array 'state': expected shape \(N, 16\), got"):
        load_dataset(tmp_path / "lying.npz")


def test_shards_of_one_rule_set_train_and_of_two_are_refused(tmp_path):
    from rgou.shards import ShardedData, rows_to_batch
    from rgou.train.loop import train
    from rgou.train.options import TrainOptions
    from rgou.train.sources import read_data

    a = generate(8, depth=1, seed=1, rules="aseb").save(tmp_path / "a.npz")
    b = generate(8, depth=1, seed=1, first_game=8, rules="aseb").save(tmp_path / "b.npz")
    shards = ShardedData.open([a, b])
    assert shards.rules == "aseb"
    rows = shards.read(0)
    x = np.empty((len(rows["state"]), 150), np.float32)
    batch = rows_to_batch(rows, rows["value_target"], np.ones(len(x), np.float32), x, "aseb")
    whole = load_dataset(a)
    np.testing.assert_array_equal(batch.x, whole.features)
    np.testing.assert_array_equal(batch.legal_mask, whole.legal_mask.astype(np.float32))
    result = train(shards, TrainOptions(epochs=1, batch_size=64, shuffle_buffer=256))
    assert result.weights.rules == "aseb" and result.weights.metadata["rules"] == "aseb"
    c = dataset_of("masters", 30).save(tmp_path / "c.npz")
    with pytest.raises(ValueError, match=r"shards are of different rule sets: aseb \(.*a.npz\), masters \(.*c.npz\)"):
        ShardedData.open([a, b, c])
    with pytest.raises(ValueError, match=r"--data: the files are of different rule sets: aseb \(.*a.npz\), masters"):
        read_data([str(a), str(c)], in_memory=True)


@pytest.fixture(scope="module")
def aseb_model(tmp_path_factory):
    """A small model trained on Aseb games (its file, its weights)."""
    from rgou.train.loop import train
    from rgou.train.options import TrainOptions
    from rgou.weights import save_weights

    data = generate(30, depth=1, seed=2, rules="aseb")
    result = train(data, TrainOptions(epochs=2, batch_size=64, hidden_sizes=(32, 16)))
    path = tmp_path_factory.mktemp("aseb") / "aseb.json.gz"
    save_weights(path, result.weights)
    return path, result.weights


def test_the_ml_agent_plays_its_models_rule_set_as_the_reference_computes(aseb_model):
    from rgou.agents import MLAgent, make_agent
    from rgou.leaves import ROLL_PROBS
    from rgou.weights import load_weights

    path, weights = aseb_model
    assert load_weights(path).rules == "aseb"
    agent = MLAgent(weights, mode="combined", value_weight=1.0, policy_weight=0.5, mirrored=False)
    assert agent.rules == "aseb"
    kernels = engine("aseb")
    checked = 0
    for state in random_states("aseb", 3, 120):
        if kernels.count_legal_moves(state) == 0:
            continue
        logits = numpy_forward(weights.policy, weights.policy_config, reference_features("aseb", state))
        policy = np.exp(logits - logits.max())
        policy /= policy.sum()
        decision = agent.decide(state)
        np.testing.assert_allclose(decision.policy, policy[:5], atol=1e-6)
        sign = 1.0 if state[10] == 2 else -1.0
        mine = state[:5] if state[10] == 1 else state[5:10]
        out = np.empty(5, np.int8)
        for slot in out[: kernels.legal_moves(state, out)]:
            slot = int(np.argmax(mine == -1)) if mine[slot] == -1 else int(slot)  # the lowest piece enters
            child = kernels.apply_move(state, np.int64(slot))
            if kernels.winner(child):
                expected = 1.0 if kernels.winner(child) == 2 else -1.0
            else:
                expected = 0.0
                for roll in range(5):
                    child[kernels.DICE] = roll
                    x = reference_features("aseb", child)
                    expected += ROLL_PROBS[roll] * np.tanh(numpy_forward(weights.value, weights.value_config, x)[0])
            assert decision.scores[slot] == pytest.approx(sign * expected + 0.5 * policy[slot], abs=1e-5)
            checked += 1
    assert checked > 100
    assert make_agent(f"ml:{path}", rules="aseb").rules == "aseb"
    with pytest.raises(
        ValueError, match=r"the model .*aseb.json.gz plays the aseb rules, not finkel; play it under its own rules"
    ):
        make_agent(f"ml:{path}")
    with pytest.raises(ValueError, match=r"agent 'ml': the model default plays the finkel rules, not blitz"):
        make_agent("ml", rules="blitz")


def test_training_a_rule_set_from_the_command_line(tmp_path, capsys):
    from rgou.cli import main

    data, model = tmp_path / "aseb.npz", tmp_path / "model.json.gz"
    assert main(["generate", "--rules", "aseb", "--games", "6", "--depth", "1", "--out", str(data)]) == 0
    assert "seed 0, aseb rules)" in capsys.readouterr().out
    args = ["train", "--data", str(data), "--epochs", "1", "--eval-games", "2", "--out", str(model), "--quiet"]
    assert main(args) == 2
    assert "--data holds positions of the aseb rules, not finkel: give --rules aseb" in capsys.readouterr().err
    assert not model.exists()
    assert main([*args, "--rules", "aseb"]) == 0
    printed = capsys.readouterr().out
    assert "aseb rules" in printed and f"rgou arena --rules aseb ml:{model} perfect" in printed
    assert main(["arena", f"ml:{model}", "heuristic", "--rules", "aseb", "--games", "4", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["arena", f"ml:{model}", "heuristic", "--games", "2", "--quiet"]) == 2
    assert "plays the aseb rules, not finkel" in capsys.readouterr().err
    assert main(["train", "--rules", "aseb", "--data", str(data), "--init", "default", "--epochs", "1",
                 "--out", str(tmp_path / "x.json.gz"), "--quiet"]) == 2  # fmt: skip
    assert "--init default: a model of the finkel rules, the data aseb's" in capsys.readouterr().err


def test_analyze_a_rule_sets_position_with_its_model(aseb_model, capsys, monkeypatch):
    import io

    from rgou.cli import main

    path, _ = aseb_model
    line = '{"p1": [5, -1, -1, -1, -1], "p2": [8, 20, -1, -1, -1], "to_move": 2, "dice": 3}'
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO((line + "\n").encode())))
    assert main(["analyze", "--rules", "aseb", "--model", str(path)]) == 0
    report = json.loads(capsys.readouterr().out)
    state = np.array([5, -1, -1, -1, -1, 8, 20, -1, -1, -1, 2, 3], np.int8)
    np.testing.assert_array_equal(np.float32(report["features"]), reference_features("aseb", state))
    assert len(report["policy"]) == 5 and report["ml_move"] in report["legal_moves"]
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO((line + "\n").encode())))
    assert main(["analyze", "--rules", "blitz", "--model", str(path)]) == 2
    assert "plays the aseb rules, not blitz" in capsys.readouterr().err


def test_exact_labels_of_a_rule_set_come_from_its_table():
    # Random values in a table of the Aseb game: the labels must be its look-ups, position by position.
    from rgou.solve import Table, position_count

    values = np.random.default_rng(5).random(position_count(5, "aseb"), dtype=np.float32)
    table = Table(n_pieces=5, values=values, tolerance=1e-7, residual=0.0, rules="aseb")
    data = generate(6, depth=1, seed=3, rules="aseb", value_target="exact", table=table)
    for k in range(0, len(data), 7):
        state, move = data.state[k], int(data.move[k])
        after = table.p2_win_after_moves(state)
        best = after.max() if state[10] == 2 else after.min()
        assert data.value_target[k] == pytest.approx(2 * best - 1, abs=1e-6)
        assert move == table.best_move(state)
    after = generate(6, depth=1, seed=3, rules="aseb", afterstates=True, value_target="exact-unrolled", table=table)
    assert after.rules == "aseb" and after.decision is not None
    for k in range(0, len(after), 5):
        state = after.state[k]
        mover_wins = table.win_probability(state)
        p2 = mover_wins if state[10] == 2 else 1 - mover_wins
        assert after.value_target[k] == pytest.approx(2 * p2 - 1, abs=1e-6)
    with pytest.raises(ValueError, match="perfect play under blitz needs its 5-piece table, got a 5-piece aseb one"):
        generate(2, depth=1, rules="blitz", value_target="exact", table=table)  # refused before any game


def colour_swap(name: str, state: np.ndarray) -> np.ndarray:
    """The position for the other colour, from the tile reference's tracks: each piece at its track position."""
    tracks, _ = tile_rules(name)
    n = RULE_SETS[name].pieces

    def moved(square, player):
        return square if square in (-1, 20) else tracks[3 - player][tracks[player].index(square)]

    out = state.copy()
    out[:n] = [moved(int(s), 2) for s in state[n : 2 * n]]
    out[n : 2 * n] = [moved(int(s), 1) for s in state[:n]]
    out[2 * n] = 3 - state[2 * n]
    return out


def net_chance(weights, state: np.ndarray) -> float:
    """The value net's mean over the five rolls of an Aseb position (P2's units), on the reference features."""
    from rgou.leaves import ROLL_PROBS

    state, total, dice = state.copy(), 0.0, engine("aseb").DICE
    for roll in range(5):
        state[dice] = roll
        x = reference_features("aseb", state)
        total += ROLL_PROBS[roll] * np.tanh(numpy_forward(weights.value, weights.value_config, x)[0])
    return total


def mirrored_leaf(weights, state: np.ndarray) -> float:
    """The default ML agent's value of an unrolled Aseb position: its net's, less its colour swap's, halved."""
    return 0.5 * (net_chance(weights, state) - net_chance(weights, colour_swap("aseb", state)))


def test_the_default_ml_agent_mirrors_its_rule_sets_positions(aseb_model):
    # At depth 0 the ML agent values a position as the mean of its net's value and minus its colour swap's.
    from rgou.agents import MLAgent

    _, weights = aseb_model
    agent, kernels = MLAgent(weights), engine("aseb")
    assert agent.mirrored
    checked = 0
    for state in random_states("aseb", 8, 60):
        moves = kernels.legal_move_list(state)
        if not moves:
            continue
        decision = agent.decide(state)
        sign = 1.0 if state[10] == 2 else -1.0
        mine = state[:5] if state[10] == 1 else state[5:10]
        for slot in moves:
            slot = int(np.argmax(mine == -1)) if mine[slot] == -1 else slot
            child = kernels.apply_move(state, np.int64(slot))
            if kernels.winner(child):
                continue
            assert decision.scores[slot] == pytest.approx(sign * mirrored_leaf(weights, child), abs=1e-5)
            checked += 1
    assert checked > 40


def test_checkpoints_and_exports_keep_to_their_rule_set(tmp_path, monkeypatch):
    from rgou.train.checkpoint import checkpoint_weights
    from rgou.train.loop import train
    from rgou.train.options import TrainOptions

    data = generate(10, depth=1, seed=6, rules="aseb")
    options = TrainOptions(epochs=1, batch_size=64, hidden_sizes=(16,))
    ckpt = tmp_path / "run.ckpt.npz"
    train(data, options, checkpoint=ckpt)
    assert checkpoint_weights(ckpt).rules == "aseb"
    finkel = generate(10, depth=1, seed=6)
    with pytest.raises(ValueError, match=r"run.ckpt.npz: checkpoint of a run under the aseb rules, the data finkel.s"):
        train(finkel, replace(options, epochs=2), checkpoint=ckpt, resume=True)
    from rgou.train import checkpoint as checkpoints

    read = checkpoints.read_checkpoint

    def before_rule_sets(path):  # a checkpoint written before rule sets: no "rules", so Finkel's
        meta, arrays = read(path)
        return {k: v for k, v in meta.items() if k != "rules"}, arrays

    finkel_ckpt = tmp_path / "finkel.ckpt.npz"
    train(finkel, options, checkpoint=finkel_ckpt)
    monkeypatch.setattr(checkpoints, "read_checkpoint", before_rule_sets)
    with pytest.raises(ValueError, match=r"checkpoint of a run under the finkel rules, the data aseb.s"):  # KeyError
        train(data, replace(options, epochs=2), checkpoint=finkel_ckpt, resume=True)
    with pytest.raises(ValueError, match=r"^the JSON export is the upstream trainer's format, which plays"):
        data.to_json(tmp_path / "aseb.json")  # a library call: no option named
    assert not (tmp_path / "aseb.json").exists()
    with pytest.raises(ValueError, match=r"expected finkel states of shape \(N, 16\), got \(3, 12\)"):
        positions_after_moves(np.zeros((3, 12), np.int8), np.zeros(3, np.int32), 0)
    custom = dataclasses.replace(RULE_SETS["blitz"], name="blitz4", pieces=4)
    with pytest.raises(ValueError, match="rules: data is generated under the built-in rule sets only"):
        generate(2, depth=1, rules=custom)


def test_a_rule_sets_estimated_chances_are_its_models_search_one_ply_deeper(aseb_model):
    # Without a solved table, hints and reviews under Aseb judge by the model given: after each move, the chance
    # node's mean over the rolls of the reply the net values best (a roll without a move: the passed position's
    # value; a searched leaf is the net's mean over the five rolls, unmirrored), as the mover's chance of winning.
    from rgou.chances import WinChances
    from rgou.leaves import ROLL_PROBS

    path, weights = aseb_model
    chances = WinChances(find_table=False, rules="aseb", model=str(path))
    assert not chances.exact and chances.label == "estimated" and str(path) in chances.source
    kernels = engine("aseb")

    def after(state: np.ndarray, slot: int, deeper: bool) -> float:
        """P2's value of a move: a won game is +-1, else the net (deeper: the chance node over the replies)."""
        mine = state[:5] if state[kernels.TO_MOVE] == 1 else state[5:10]
        slot = int(np.argmax(mine == -1)) if mine[slot] == -1 else slot  # the lowest piece enters
        child = kernels.apply_move(state, np.int64(slot))
        if kernels.winner(child):
            return 1.0 if kernels.winner(child) == 2 else -1.0
        if not deeper:
            return net_chance(weights, child)
        total = 0.0
        for roll, p in enumerate(ROLL_PROBS):
            child[kernels.DICE] = roll
            replies = kernels.legal_move_list(child)
            if not replies:
                passed = child.copy()
                kernels.pass_turn_inplace(passed)
                total += p * net_chance(weights, passed)
                continue
            values = [after(child, m, False) for m in replies]
            total += p * (max(values) if child[kernels.TO_MOVE] == 2 else min(values))
        return total

    checked = 0
    for state in random_states("aseb", 12, 60)[10:]:
        moves = kernels.legal_move_list(state)
        if len(moves) < 2:
            continue
        judged, mover = chances.moves(state), int(state[kernels.TO_MOVE])
        for slot in range(5):
            if slot not in moves:
                assert judged.after[slot] is None
                continue
            p2 = (after(state, slot, True) + 1) / 2
            assert judged.after[slot] == pytest.approx(p2 if mover == 2 else 1 - p2, abs=1e-5)
        assert judged.best == max(c for c in judged.after if c is not None)
        checked += 1
        if checked == 4:
            break
    assert checked == 4
    with pytest.raises(ValueError, match=r"winning chances under blitz need its solved table .* or a model trained"):
        WinChances(find_table=False, rules="blitz")
    with pytest.raises(ValueError, match=r"the model .*aseb.json.gz plays the aseb rules, not blitz"):
        WinChances(find_table=False, rules="blitz", model=str(path))
    with pytest.raises(ValueError, match="the model default plays the finkel rules, not aseb"):
        WinChances("no-such.table", rules="aseb", model="default")  # refused before the table is read


def test_the_browser_games_of_a_rule_set_play_its_model_and_judge_by_it(aseb_model, monkeypatch):
    import types

    from rgou.chances import WinChances
    from rgou.record import parse_record
    from rgou.web.games import Lobby

    path, _ = aseb_model
    lobby = Lobby(find_table=False, rules="aseb", model=str(path))
    info = lobby.info()
    assert (info["rules"], info["model"], info["hints"], info["exact"]) == ("aseb", path.name, True, False)
    assert info["agents"][-5:] == ["ml", "ml-1", "ml-2", "ml+", "human"] and info["default_opponent"] == "ml+"
    session = lobby.new_session()
    game_id = lobby.create(session, {"seed": 8, "opponent": "ml"})["id"]
    game = lobby.game(session, game_id)
    assert game.agent.rules == "aseb" and game.agent.model_rules == "aseb"
    judge, hinted = WinChances(find_table=False, rules="aseb", model=str(path)), 0
    state = lobby.read_state(game)
    while not state["over"]:
        state = lobby.roll(game, {})
        if state["moves"]:
            hint = lobby.hint(game)
            rolled = game.record.state.copy()
            rolled[engine("aseb").DICE] = game.roll
            assert hint["best_move"] == judge.moves(rolled).best_move and not hint["exact"]
            hinted += 1
            state = lobby.move(game, {"move": state["moves"][0]["move"]})
    assert hinted > 5
    record = parse_record(lobby.record(game))
    assert record.rules == "aseb" and record.players == ("human", "ml")
    review = lobby.review(game)
    assert review["turns"] == len(record.turns) and not review["exact"]
    with pytest.raises(ValueError, match="--model: the model default plays the finkel rules, not blitz"):
        Lobby(find_table=False, rules="blitz", model="default")
    exact = types.SimpleNamespace(table=None, exact=True, source="a solved table")  # as if a table judged
    monkeypatch.setattr("rgou.web.games._chances", lambda *args: exact)
    with pytest.raises(ValueError, match="--model: the model default plays the finkel rules, not aseb"):
        Lobby(rules="aseb", model="default")


def test_play_and_review_a_rule_sets_game_with_its_model(aseb_model, tmp_path, capsys, monkeypatch):
    import io

    from rgou.cli import main
    from rgou.record import read_record

    path, _ = aseb_model
    game = tmp_path / "game.json"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # no solved table there
    monkeypatch.setattr("sys.stdin", io.StringIO("hint\n" + "1\n" * 400))
    args = ["play", "--rules", "aseb", "--model", str(path), "--seed", "2", "--save", str(game), "--force"]
    assert main([*args, "--opponent", "ml"]) == 0
    assert "your chance of winning after each move (estimated):" in capsys.readouterr().out
    record = read_record(game)
    assert record.rules == "aseb" and record.players == ("human", f"ml:{path}") and record.winner
    assert main(["review", str(game), "--model", str(path)]) == 0
    out = capsys.readouterr().out
    estimates = "ESTIMATES, not exact: no solved table (rgou solve --rules aseb makes one)"
    assert f"{estimates}, so the model {path} searched" in out
    assert f"Review of {game} (aseb rules): human (X, player 1)" in out  # it did not say the rule set
    assert main(["review", str(game), "--model", str(path), "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["rules"] == "aseb"
    assert main(["review", str(game)]) == 2
    assert "need its solved table (`rgou solve --rules aseb`" in capsys.readouterr().err
    assert main(["review", str(game), "--model", "default"]) == 2
    assert f"{game}: a game of the aseb rules: --model: the model default plays the finkel rules, not aseb" in (
        capsys.readouterr().err
    )
    assert main(["play", "--rules", "blitz", "--model", str(path)]) == 2
    assert f"--model: the model {path} plays the aseb rules, not blitz" in capsys.readouterr().err
    for opponent, spec in ((None, f"ml+:{path}"), ("ml-1", f"ml-1:{path}")):  # the ml agents play --model
        monkeypatch.setattr("sys.stdin", io.StringIO("quit\n"))
        assert main(args + (["--opponent", opponent] if opponent else [])) == 0
        assert read_record(game).players == ("human", spec)
        assert "(for rgou analyze --rules aseb):" in capsys.readouterr().out  # the line is an Aseb position
    assert main(["play", "--rules", "aseb", "--model", str(path), "--save", str(path), "--force"]) == 2
    assert "--save" in capsys.readouterr().err and path.stat().st_size > 0
    from rgou.agents import make_agent
    from rgou.chances import WinChances
    from rgou.terminal import PlaySession

    with pytest.raises(ValueError, match="chances: they judge aseb games, the agent plays blitz"):
        PlaySession(make_agent("random", rules="blitz"), chances=WinChances(rules="aseb", model=str(path)))


def test_a_model_of_another_rule_set_is_refused_with_advice_that_fits(aseb_model):
    from rgou.models import ModelRulesError, load_model

    path, _ = aseb_model
    advice = "aseb rules, not finkel; play it under its own rules (--rules aseb), or play the shipped model (ml)"
    with pytest.raises(ModelRulesError, match=re.escape(advice)):
        load_model(path, "finkel")  # it advised training a Finkel model with --rules finkel
    with pytest.raises(ModelRulesError, match="not blitz; train a model for blitz with `rgou train --rules blitz"):
        load_model(path, "blitz")
