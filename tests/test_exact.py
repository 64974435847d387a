"""Solved tables inside rgou: the exact leaf, the perfect agent, exact labels, analyze --exact, rgou solve.

The 7-piece table is too large to build in a test (a full solve is a
benchmark), so the plumbing is checked on a table of zeros with random
values at the positions the checks read (untouched pages of np.zeros cost no
memory), against the solver's own look-ups; tests of the real table skip
when it is absent.
"""

import dataclasses
import json

import numpy as np
import pytest

from rgou import evaluate
from rgou.agents import PerfectAgent, make_agent
from rgou.cli import main
from rgou.exact import decision_losses, label_exactly
from rgou.game import TO_MOVE, Position
from rgou.leaves import table_leaf
from rgou.playout import play_games
from rgou.search import expectiminimax
from rgou.selfplay import GenerateOptions, generate
from rgou.solve import Table, default_table_path, load_table
from rgou.targets import ValueTarget
from rgou.train import PipelineOptions


def test_the_exact_leaf_and_the_perfect_agent_follow_the_tables_look_ups(states, table):
    agent = PerfectAgent(table)
    leaf = table_leaf(table.values)
    for state in states[:60]:
        pos = Position.from_array(state)
        if pos.is_over:
            continue
        expected = table.p2_win_after_moves(state)
        result = expectiminimax(pos, 1, leaf=leaf)
        np.testing.assert_allclose(result.scores, 2 * expected - 1, rtol=0, atol=1e-6)
        if pos.legal_moves():
            assert agent.choose_move(state) == table.best_move(state)


def test_exact_labels_and_decision_losses(states, table):
    values, moves = label_exactly(table, states)
    losses = np.empty(len(states))
    chosen = np.where(moves >= 0, moves, 0).astype(np.int8)
    playable = np.array(
        [bool(Position.from_array(s).legal_moves()) and not Position.from_array(s).is_over for s in states]
    )
    decision_losses(table.values, states[playable], chosen[playable], losses[: playable.sum()])
    assert np.all(losses[: playable.sum()] <= 1e-7)  # the perfect move loses nothing
    for state, value, move in zip(states, values, moves):
        pos = Position.from_array(state)
        after = table.p2_win_after_moves(state)
        if pos.is_over:
            continue
        if len(after):
            best = after.max() if pos.to_move == 2 else after.min()
            assert value == pytest.approx(2 * best - 1, abs=1e-6)
            assert move == table.best_move(state)
        else:
            passed = pos.pass_turn().to_array()
            p = table.win_probability(passed)
            assert value == pytest.approx(2 * (p if passed[14] == 2 else 1 - p) - 1, abs=1e-6) and move == -1


def test_evaluate_agent_measures_every_decision_and_chunks_without_changing_anything(table, monkeypatch):
    """Against a direct recount: the same paired games, each of the agent's decisions scored by the table."""
    agent, perfect = make_agent("heuristic"), PerfectAgent(table)
    games = 10
    rec = play_games(agent.data, perfect.data, games, 3, paired=True, max_plies=1000, record_samples=1000)
    losses = []
    for g in range(games):
        mover = 1 if rec.first_agent[g] == 0 else 2
        for state, move in zip(rec.states[g, : rec.counts[g]], rec.moves[g, : rec.counts[g]]):
            if state[TO_MOVE] != mover:
                continue
            after = table.p2_win_after_moves(state)
            sign = 1.0 if mover == 2 else -1.0
            chosen = list(Position.from_array(state).legal_moves()).index(int(move))
            losses.append(sign * (after.max() if mover == 2 else after.min()) - sign * after[chosen])
    losses = np.array(losses)
    monkeypatch.setattr(evaluate, "CHUNK_GAMES", 4)
    chunked = evaluate.evaluate_agent(agent, perfect, games, seed=3)
    monkeypatch.setattr(evaluate, "CHUNK_GAMES", 512)
    whole = evaluate.evaluate_agent(agent, perfect, games, seed=3)
    assert chunked == whole
    monkeypatch.setattr(evaluate, "BOOTSTRAP_VALUES", 25)  # resamples drawn two at a time: the same draws
    assert evaluate.evaluate_agent(agent, perfect, games, seed=3) == whole
    with pytest.raises(ValueError, match=r"max_plies must be in 1\.\.10000"):  # arrays of games x max_plies
        evaluate.evaluate_agent(agent, perfect, games, max_plies=10**9)
    assert whole.decisions == len(losses) == rec.decisions[:, 0].sum()
    assert whole.mean_loss == pytest.approx(losses.mean(), abs=1e-12)
    assert whole.optimal_share == pytest.approx(np.mean(losses <= evaluate.OPTIMAL))
    assert whole.mean_loss_ci95[0] <= whole.mean_loss <= whole.mean_loss_ci95[1]
    assert whole.mean_loss > 0  # the heuristic does not follow this table


def test_exact_training_targets(table, tmp_path, monkeypatch):
    from rgou.train import TrainOptions, with_exact_targets

    data = generate(2, depth=1, seed=11)
    monkeypatch.setattr("rgou.solve.load_perfect_table", lambda table_path=None, rules="finkel", **_: table)
    exact = with_exact_targets(data, "any")
    values, moves = label_exactly(table, data.state)
    np.testing.assert_array_equal(exact.value_target, values)
    np.testing.assert_array_equal(exact.move, np.where(data.has_policy, moves, -1))
    assert ValueTarget.of_meta(exact.meta) == ValueTarget("exact")
    assert with_exact_targets(exact, None) is exact
    TrainOptions(value_target="exact")  # a valid spec


def _unrolled_values(table, states):
    """2 P(P2 wins) - 1 of each state's pieces before the roll, from the solver's own look-up."""
    out = []
    for state in states:
        p = table.win_probability(state)
        out.append(2 * (p if state[TO_MOVE] == 2 else 1 - p) - 1)
    return np.array(out, np.float32)


def test_exact_unrolled_targets_are_the_tables_values_before_the_roll(table, monkeypatch, tmp_path):
    """The value is the unrolled position's (dice ignored), the policy target still the perfect move;
    rolled exact data is labelled again for it, unrolled data is not."""
    from rgou.shards import ShardedData
    from rgou.train import TrainOptions, with_exact_targets
    from rgou.train.sources import _MemorySource, _ShardSource

    monkeypatch.setattr("rgou.solve.load_perfect_table", lambda table_path=None, rules="finkel", **_: table)
    data = generate(3, depth=1, seed=11, value_target="exact", afterstates=True)
    values, moves = label_exactly(table, data.state, unrolled=True)
    np.testing.assert_array_equal(values, _unrolled_values(table, data.state))
    np.testing.assert_array_equal(moves, label_exactly(table, data.state)[1])
    rolls = data.state.copy()
    rolls[:, 15] = (rolls[:, 15] + 1) % 5  # another roll of the same pieces: the same value
    np.testing.assert_array_equal(label_exactly(table, rolls, unrolled=True)[0], values)
    assert not np.array_equal(values, data.value_target)  # the rolled values differ

    unrolled = with_exact_targets(data, None, unrolled=True)
    np.testing.assert_array_equal(unrolled.value_target, values)
    np.testing.assert_array_equal(unrolled.move, data.move)
    assert ValueTarget.of_meta(unrolled.meta) == ValueTarget("exact-unrolled")
    generated = generate(3, depth=1, seed=11, value_target="exact-unrolled", afterstates=True)
    np.testing.assert_array_equal(generated.value_target, values)
    assert generated.meta["value_target"] == unrolled.meta["value_target"]

    def refuse(table_path=None, rules="finkel", **_):
        raise AssertionError("the table was loaded")

    monkeypatch.setattr("rgou.solve.load_perfect_table", refuse)
    assert with_exact_targets(generated, None, unrolled=True) is generated
    source = _MemorySource(generated, TrainOptions(value_target="exact-unrolled", batch_size=4))
    np.testing.assert_array_equal(source.train.value_target, values)
    with pytest.raises(AssertionError, match="the table was loaded"):
        _MemorySource(data, TrainOptions(value_target="exact-unrolled", batch_size=4))

    # from shards: rolled exact shards are labelled batch by batch, unrolled ones are not
    data.save(tmp_path / "rolled.npz")
    generated.save(tmp_path / "unrolled.npz")
    options = TrainOptions(value_target="exact-unrolled", batch_size=4)
    rows = {name: getattr(data, name) for name in ("state", "move", "value_target", "outcome", "game_id")}
    assert _ShardSource(ShardedData.open([tmp_path / "unrolled.npz"]), options, 64)._table is None
    monkeypatch.setattr("rgou.solve.load_perfect_table", lambda table_path=None, rules="finkel", **_: table)
    batch = _ShardSource(ShardedData.open([tmp_path / "rolled.npz"]), options, 64)._to_batch(rows)
    np.testing.assert_array_equal(batch.value_target, values)


def test_exactly_labelled_data_is_not_labelled_again(table, tmp_path, monkeypatch):
    """Data generated with exact targets keeps them (no table is loaded): in memory, from a file and
    from shards; a mix with other targets, joined or sharded, is labelled."""
    from rgou.dataset import Dataset, load_dataset
    from rgou.shards import ShardedData
    from rgou.train import TrainOptions, with_exact_targets
    from rgou.train.sources import _ShardSource

    monkeypatch.setattr("rgou.solve.load_perfect_table", lambda table_path=None, rules="finkel", **_: table)
    exact = generate(3, depth=1, seed=11, value_target="exact", afterstates=True)
    search = generate(2, depth=1, seed=12, first_game=3)
    assert ValueTarget("exact").labels(exact.meta) and not ValueTarget("exact").labels(search.meta)
    assert ValueTarget.of_meta(search.meta) == ValueTarget("search")

    def refuse(table_path=None, rules="finkel", **_):
        raise AssertionError("the table was loaded")

    monkeypatch.setattr("rgou.solve.load_perfect_table", refuse)
    assert with_exact_targets(exact, None) is exact
    exact.save(tmp_path / "exact.npz")
    again = load_dataset(tmp_path / "exact.npz")
    assert with_exact_targets(again, None) is again
    mixed = Dataset.concatenate([exact, search])
    assert mixed.meta["value_target"] == "mixed"
    with pytest.raises(AssertionError, match="the table was loaded"):
        with_exact_targets(mixed, None)
    assert Dataset.concatenate([exact, exact]).meta["value_target"] == exact.meta["value_target"]

    options = TrainOptions(value_target="exact", batch_size=4)
    shards = [tmp_path / "first.npz", tmp_path / "rest.npz"]
    exact.subset(np.flatnonzero(exact.game_id == 0)).save(shards[0])
    exact.subset(np.flatnonzero(exact.game_id > 0)).save(shards[1])
    assert _ShardSource(ShardedData.open(shards), options, 64)._table is None
    search.save(tmp_path / "search.npz")
    with pytest.raises(AssertionError, match="the table was loaded"):
        _ShardSource(ShardedData.open([*shards, tmp_path / "search.npz"]), options, 64)


def test_afterstate_samples_carry_exact_labels_and_their_games(table, monkeypatch):
    from rgou.selfplay import positions_after_moves

    monkeypatch.setattr("rgou.solve.load_perfect_table", lambda table_path=None, rules="finkel", **_: table)
    games = generate(3, depth=1, seed=11)
    data = generate(3, depth=1, seed=11, value_target="exact", afterstates=True, include_passes=True)
    states, parents = positions_after_moves(games.state, games.game_id, 11, include_passes=True)
    np.testing.assert_array_equal(data.state, states)
    np.testing.assert_array_equal(data.game_id, games.game_id[parents])
    np.testing.assert_array_equal(data.outcome, games.outcome[parents])
    values, moves = label_exactly(table, states)
    np.testing.assert_array_equal(data.value_target, values)
    np.testing.assert_array_equal(data.move, moves)
    assert (~data.has_policy).any() and data.meta["afterstates"]
    # each sample names the decision it follows: its parent's number among its game's rows
    numbers = [np.count_nonzero(games.game_id[:p] == games.game_id[p]) for p in parents]
    np.testing.assert_array_equal(data.decision, numbers)
    sib = data.siblings
    np.testing.assert_array_equal(sib[1:] != sib[:-1], parents[1:] != parents[:-1])
    with pytest.raises(ValueError, match=r"afterstates.*use exact"):
        PipelineOptions.from_flat({"afterstates": True, "value_target": "outcome"})
    assert PipelineOptions.from_flat({"afterstates": True, "value_target": "exact"}).generation.value_target == "exact"


def test_the_table_option_also_serves_the_perfect_players(table, monkeypatch):
    loads = []

    def load(table_path=None, rules="finkel", **_):
        loads.append(table_path)
        if table_path is None or isinstance(table_path, Table):
            return table if table_path is None else table_path
        if table_path != "given.table":
            raise ValueError(f"no solved table at {table_path}")
        return table

    monkeypatch.setattr("rgou.solve.load_perfect_table", load)
    reference = generate(2, seed=3, agent="perfect", value_target="exact")
    loads.clear()
    data = generate(2, seed=3, agent="perfect", value_target="exact", table="given.table")
    assert loads[0] == "given.table" and None not in loads  # the default table is never asked for
    for name in ("state", "value_target", "move", "game_id"):
        np.testing.assert_array_equal(getattr(data, name), getattr(reference, name))
    loads.clear()
    generate(2, seed=3, agent="perfect", table="given.table")  # search targets: the players' table
    assert loads == ["given.table"]


def test_sharded_perfect_play_with_exact_afterstates_equals_one_run(table, tmp_path, monkeypatch):
    pytest.importorskip("dask.distributed")
    from dask.distributed import Client, LocalCluster

    from rgou.cluster import generate_shards
    from rgou.dataset import Dataset
    from rgou.shards import shard_files

    monkeypatch.setattr("rgou.solve.load_perfect_table", lambda table_path=None, rules="finkel", **_: table)
    given = tmp_path / "given.table"
    given.write_bytes(b"")  # the workers are threads of this process: the patched loader serves it
    options = dict(seed=3, epsilon=0.2, agent="perfect", value_target="exact", afterstates=True)
    single = generate(4, **options)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            manifest = generate_shards(
                tmp_path / "shards", GenerateOptions(4, table=str(given), **options), 2, client=client
            )
    assert manifest["complete"] and manifest["afterstates"] and manifest["value_target"] == "exact"
    union = Dataset.concatenate([Dataset.load(p) for p in shard_files([str(tmp_path / "shards")])])
    for name in ("state", "value_target", "move", "outcome", "game_id", "decision"):
        np.testing.assert_array_equal(getattr(union, name), getattr(single, name), err_msg=name)


def test_rgou_train_generates_afterstates(table, tmp_path, monkeypatch, capsys):
    import gzip

    monkeypatch.setattr("rgou.solve.load_perfect_table", lambda table_path=None, rules="finkel", **_: table)
    monkeypatch.setattr("rgou.solve.check_perfect_table", lambda table_path=None, rules="finkel": None)
    out, summary, given = tmp_path / "m.json.gz", tmp_path / "s.json", tmp_path / "given.table"
    given.write_bytes(b"")  # the patched loader serves it (without --table a missing cache table is solved first)
    argv = ["train", "--games", "3", "--depth", "1", "--seed", "5", "--afterstates", "--value-target", "exact"]
    argv += ["--table", str(given)]
    argv += ["--epochs", "1", "--batch-size", "16", "--no-eval", "--quiet", "--out", str(out), "--json", str(summary)]
    assert main([*argv, "--sibling-weight", "2.5"]) == 0
    assert "policy loss full, sibling weight 2.5\n" in capsys.readouterr().out
    expected = generate(3, depth=1, seed=5, value_target="exact", afterstates=True)
    assert json.loads(summary.read_text())["samples"] == len(expected)
    with gzip.open(out, "rt") as fh:
        options = json.load(fh)["metadata"]["options"]
    assert options["afterstates"] is True and options["sibling_weight"] == 2.5


def _afterstate_data(table, monkeypatch, games=6):
    monkeypatch.setattr("rgou.solve.load_perfect_table", lambda table_path=None, rules="finkel", **_: table)
    return generate(games, depth=1, seed=5, value_target="exact", afterstates=True)


def test_the_decision_of_afterstate_samples_survives_files_subsets_and_concatenation(table, monkeypatch, tmp_path):
    from rgou.dataset import Dataset

    data = _afterstate_data(table, monkeypatch, games=3)
    assert data.decision is not None and generate(2, depth=1).decision is None
    back = Dataset.load(data.save(tmp_path / "a.npz"))
    np.testing.assert_array_equal(back.decision, data.decision)
    np.testing.assert_array_equal(back.siblings, data.siblings)
    rows = np.arange(5, 40)
    np.testing.assert_array_equal(data.subset(rows).decision, data.decision[rows])
    both = Dataset.concatenate([data, data.subset(rows)])
    np.testing.assert_array_equal(both.decision, np.r_[data.decision, data.decision[rows]])
    assert Dataset.concatenate([data, generate(1, depth=1)]).decision is None  # not every part has them
    with pytest.raises(ValueError, match="'decision': expected int32"):
        Dataset(**{n: getattr(data, n) for n, _, _ in Dataset.ARRAYS}, decision=data.decision[:-1])
    arrays = dict(np.load(tmp_path / "a.npz"))
    arrays["decision"] = -arrays["decision"] - 1
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=r"bad.npz: dataset array 'decision' must hold"):
        Dataset.load(tmp_path / "bad.npz")


def test_sibling_weight_trains_on_whole_decisions(table, monkeypatch):
    from rgou.train import TrainOptions, train
    from rgou.train.sources import _MemorySource

    data = _afterstate_data(table, monkeypatch)
    options = TrainOptions(value_target="exact", epochs=1, batch_size=16, sibling_weight=3.0)
    source = _MemorySource(data, options)

    class Recorder:
        def epoch(self, state, order, batch_size, lr):
            self.order = order
            return state, np.zeros((0, 2))

    recorder = Recorder()
    source.epoch(recorder, None, 0)
    order, sib = recorder.order, data.siblings
    assert sorted(order.tolist()) == sorted(source.train_rows.tolist())
    starts = np.r_[True, sib[order][1:] != sib[order][:-1]]
    assert starts.sum() == len(np.unique(sib[source.train_rows]))  # each decision's rows come together
    assert not np.array_equal(order, np.sort(order))  # and the decisions are shuffled
    plain = train(data, dataclasses.replace(options, sibling_weight=0.0)).weights.value
    with_term = train(data, options).weights.value
    assert not np.allclose(plain, with_term)
    with pytest.raises(ValueError, match="sibling_weight: the sibling term needs"):
        train(generate(3, depth=1, seed=5, value_target="exact"), options)


def test_sibling_weight_on_the_jax_trainer_follows_the_numba_one(table, monkeypatch):
    pytest.importorskip("jax")
    from rgou.train import TrainOptions, train

    data = _afterstate_data(table, monkeypatch)
    # one epoch: longer runs may part at a ReLU edge (docs/training.md, "The two trainers"), the sibling term's
    # effect is already 5e5 times the two trainers' difference (2.6 against 4.6e-6 in norm)
    options = TrainOptions(value_target="exact", epochs=1, batch_size=16, dropout=0.0)
    numba = train(data, dataclasses.replace(options, sibling_weight=3.0))
    jax = train(data, dataclasses.replace(options, sibling_weight=3.0, backend="jax"))
    plain = train(data, options)
    assert numba.best_value_epoch == jax.best_value_epoch == plain.best_value_epoch == 1  # the same epoch's weights
    numba, jax, plain = (run.weights.value for run in (numba, jax, plain))
    assert np.abs(numba - jax).max() < 0.1 * np.abs(numba - plain).max()


def test_sibling_weight_refuses_shards(table, monkeypatch, tmp_path):
    from rgou.train import TrainOptions, read_data, train

    data = _afterstate_data(table, monkeypatch, games=4)
    data.subset(data.game_id < 2).save(tmp_path / "a.npz")
    data.subset(data.game_id >= 2).save(tmp_path / "b.npz")
    options = TrainOptions(value_target="exact", epochs=1, batch_size=16, sibling_weight=1.0)
    with pytest.raises(ValueError, match="sibling_weight: shards are shuffled row by row"):
        train(read_data([str(tmp_path / "a.npz"), str(tmp_path / "b.npz")]), options)


def test_a_missing_table_is_a_clear_error(tmp_path, capsys):
    missing = tmp_path / "none.table"
    with pytest.raises(ValueError, match=r"no solved table at .*rgou solve --pieces 7"):
        make_agent(f"perfect:{missing}")
    assert main(["arena", "heuristic", f"perfect:{missing}", "--games", "2"]) == 2
    assert "rgou solve --pieces 7" in capsys.readouterr().err


def test_a_conversion_notes_a_tolerance_only_where_one_was_given(tmp_path, capsys):
    out = tmp_path / "t1.table"
    assert main(["solve", "--pieces", "1", "--out", str(out), "--tolerance", "1e-9", "--quiet"]) == 0
    assert "solved to 1e-09" in capsys.readouterr().out
    assert main(["solve", "--pieces", "1", "--out", str(out), "--compact", str(tmp_path / "a.table")]) == 0
    assert "note:" not in capsys.readouterr().err
    assert (
        main(
            ["solve", "--pieces", "1", "--out", str(out), "--compact", str(tmp_path / "b.table"), "--tolerance", "1e-7"]
        )
        == 0
    )
    assert f"note: {out} was solved to 1e-09; --tolerance does not apply to a conversion" in capsys.readouterr().err


def test_rgou_solve_and_analyze_with_a_small_table(tmp_path, capsys):
    out = tmp_path / "t2.table"
    assert main(["solve", "--pieces", "2", "--out", str(out), "--quiet"]) == 0
    assert "positions of the 2-piece game" in capsys.readouterr().out
    assert main(["solve", "--pieces", "2", "--out", str(out), "--quiet"]) == 2
    assert "pass --force" in capsys.readouterr().err
    table = load_table(out, 2)
    compact = tmp_path / "t2-16.table"
    assert main(["solve", "--pieces", "2", "--out", str(out), "--compact", str(out), "--quiet"]) == 2
    assert "--compact" in capsys.readouterr().err and not compact.exists()
    assert main(["solve", "--pieces", "2", "--out", str(out), "--compact", str(compact), "--quiet"]) == 0
    assert "16-bit copy" in capsys.readouterr().out
    assert np.abs(load_table(compact, 2).values - table.values).max() <= 0.5 / 65535 + 1e-7
    assert compact.stat().st_size < out.stat().st_size * 0.6
    assert main(["solve", "--pieces", "2", "--out", str(out), "--compact", str(compact), "--quiet"]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    other = tmp_path / "other.table"
    assert main(["solve", "--pieces", "3", "--out", str(out), "--compact", str(other), "--quiet"]) == 2
    assert "for 2 pieces, expected 3 (--pieces 3, --rules finkel)" in capsys.readouterr().err and not other.exists()
    lines = [
        json.dumps({"p1": [-1, 12], "p2": [5, -1], "to_move": 1, "dice": 2}),
        json.dumps({"p1": [-1, 12], "p2": [5, -1], "to_move": 2, "dice": 0}),
        json.dumps({"p1": [-1, -1, -1], "p2": [5, -1], "to_move": 2, "dice": 0}),
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n")
    assert main(["analyze", str(src), "--table", str(out)]) == 1
    out_lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    first, second, third = out_lines
    after = table.p2_win_after_moves(np.array([-1, 12, 5, -1, 1, 2], np.int8))
    assert first["exact"]["moves"] == pytest.approx(list(after)) and first["exact"]["p2_win"] == pytest.approx(
        min(after)
    )
    # Player 1 moves: its loss is how much more Player 2 wins after the move than after the best one.
    assert first["exact"]["loss"] == pytest.approx(list(after - after.min())) and len(after) == 2
    p1_to_move = table.win_probability(np.array([-1, 12, 5, -1, 1, 0], np.int8))
    assert second["exact"] == {"p2_win": pytest.approx(1 - p1_to_move), "moves": [], "loss": []}
    assert "error" in third and "2 squares" in third["error"]


REAL = default_table_path(7)


@pytest.mark.skipif(not REAL.exists(), reason=f"the solved 7-piece table is not at {REAL} (rgou solve --pieces 7)")
def test_the_real_table_gives_the_first_player_about_51_5_percent_and_satisfies_bellman():
    table = load_table(REAL, 7)
    assert table.win_probability(Position.initial().to_array()) == pytest.approx(0.515, abs=0.002)
    probabilities = [1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16]
    for state in generate(3, depth=2, seed=3, epsilon=0.2).state[::5]:
        pos = Position.from_array(state)
        total = 0.0
        for roll, p in enumerate(probabilities):
            rolled = pos.with_dice(roll)
            after = table.p2_win_after_moves(rolled.to_array())
            if len(after):
                total += p * (after.max() if pos.to_move == 2 else 1 - after.min())
            else:
                total += p * (1 - table.win_probability(rolled.pass_turn().to_array()))
        assert total == pytest.approx(table.win_probability(pos.with_dice(0).to_array()), abs=1e-5)
    # the unrolled exact target is the mean of the rolled ones over the five rolls
    states = generate(3, depth=2, seed=4, epsilon=0.2, include_passes=True).state
    unrolled, _ = label_exactly(table, states, unrolled=True)
    mean = np.zeros(len(states))
    for roll, p in enumerate(probabilities):
        rolled = states.copy()
        rolled[:, 15] = roll
        mean += p * label_exactly(table, rolled)[0]
    np.testing.assert_allclose(unrolled, mean, rtol=0, atol=1e-5)


def test_small_positions_are_parsed_with_clear_errors():
    from rgou.analysis import parse_small_position
    from rgou.solve import make_state

    state = parse_small_position('{"p1": [3, -1], "p2": [-1, -1], "to_move": 1, "dice": 2}', 2)
    np.testing.assert_array_equal(state, make_state([3, -1], [-1, -1], 1, 2))
    for line, message in (
        ("", "empty line"),
        ("{", "not valid JSON"),
        ("[1]", "expected a JSON object"),
        ('{"p1": [3, -1]}', "missing p2, to_move, dice"),
        ('{"p1": [3], "p2": [-1, -1], "to_move": 1, "dice": 2}', "p1 must list 2 squares"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_small_position(line, 2)
