"""The engine under every rule set against the plain reference (tests/solve_oracle.py).

rgou compiles its engine once per rule set (`rgou.specialise`); the reference
writes each rule set out again on board tiles from its description. Random
games of each rule set compare, turn by turn, every legal move's outcome
(the position and who moves next) and the winner.
"""

import dataclasses
import functools
import io
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import oracle as finkel_oracle
import pytest
import solve_oracle as oracle
from hypothesis import given, settings
from hypothesis import strategies as st

import rgou.game as game
import rgou.rules as rules_module
from rgou.features import feature_kernels
from rgou.game import Position, engine, state_layout
from rgou.rules import FINKEL, RULE_SETS, rule_constants, rule_set
from rgou.solve import default_table_path, load_table, make_state, position_count, save_table, solve
from rgou.specialise import specialise

REFERENCE = oracle.BY_NAME
PATH_TILES = oracle.PATHS_BY_NAME
# rgou's square numbers on board tiles (x, y): x = 1 player 1's row, 2 the middle row, 3 player 2's row;
# written from docs/rules.md's board diagrams.
STANDARD_TILES = {
    **{s: (1, s + 1) for s in range(4)},
    **{s: (2, s - 3) for s in range(4, 12)},
    12: (1, 8),
    13: (1, 7),
    14: (3, 8),
    15: (3, 7),
    **{s: (3, s - 15) for s in range(16, 20)},
}
ASEB_TILES = {
    **{s: (1, s + 1) for s in range(4)},
    **{s: (2, s - 3) for s in range(4, 16)},
    **{s: (3, s - 15) for s in range(16, 20)},
}
BOARD_TILES = {"standard": STANDARD_TILES, "aseb": ASEB_TILES}


def to_reference(name: str, state: np.ndarray) -> tuple:
    """rgou's state (int8[2N + 2]) as the reference's (sorted squares, to_move)."""
    rules = RULE_SETS[name]
    ref = REFERENCE[name]
    light, dark = PATH_TILES[name]
    number = {tile: i for i, tile in enumerate(sorted(set(light) | set(dark)))}
    tiles = BOARD_TILES[rules.board]
    n = rules.pieces

    def side(squares):
        out = []
        for s in squares:
            s = int(s)
            out.append(oracle.OUT if s == -1 else ref.done if s == 20 else number[tiles[s]])
        return tuple(sorted(out))

    return (side(state[:n]), side(state[n : 2 * n]), int(state[2 * n]))


def play_and_compare(name: str, seed: int, games: int) -> int:
    """Play `games` random games of rule set `name`; assert every turn agrees with the reference; the turns."""
    kernels = engine(name)
    ref = REFERENCE[name]
    rng = np.random.default_rng(seed)
    out = np.empty(RULE_SETS[name].pieces, dtype=np.int8)
    turns = 0
    for _ in range(games):
        state = kernels.new_state()
        while not kernels.is_over(state):
            roll = int(rng.choice(5, p=oracle.FOUR_BINARY_DICE))
            state[kernels.DICE] = roll
            before = to_reference(name, state)
            n = kernels.legal_moves(state, out)
            children = []
            for slot in out[:n]:
                child = kernels.apply_move(state, np.int64(slot))
                children.append(to_reference(name, child))
            expected = oracle.moves(before, roll, ref)
            assert sorted(set(children)) == sorted(set(expected)), (name, before, roll)
            if n == 0:
                kernels.pass_turn_inplace(state)
            else:
                state = kernels.apply_move(state, np.int64(out[rng.integers(n)]))
            assert kernels.winner(state) == oracle.winner(to_reference(name, state), ref)
            turns += 1
    return turns


@pytest.mark.parametrize("name", list(RULE_SETS))
def test_every_rule_set_plays_as_the_reference_says(name):
    turns = play_and_compare(name, seed=2026, games=60)
    assert turns > 60 * 50  # whole games were played


@settings(max_examples=20, deadline=None)
@given(name=st.sampled_from(list(RULE_SETS)), seed=st.integers(0, 2**32 - 1))
def test_any_seed_plays_as_the_reference_says(name, seed):
    assert play_and_compare(name, seed, games=2) > 0


def test_finkel_constants_are_the_rule_sets_constants():
    # The module constants the Finkel kernels read are rule_constants(FINKEL): one owner, so the copy for a rule set
    # replaces every one of them.
    for key, value in rule_constants(FINKEL).items():
        np.testing.assert_array_equal(getattr(rules_module, key), value, err_msg=key)
    for key, value in state_layout(FINKEL.pieces).items():
        assert getattr(game, key) == value, key


def test_finkel_is_the_module_and_other_rule_sets_are_compiled_copies():
    assert engine("finkel") is game and engine(FINKEL) is game
    masters = engine("masters")
    assert masters is engine("Masters")  # one copy a rule set
    assert masters.legal_moves is not game.legal_moves
    assert masters.legal_moves.py_func.__qualname__ == "legal_moves__masters"
    assert (masters.STATE_SIZE, engine("blitz").STATE_SIZE) == (16, 12)


def test_a_renamed_finkel_copy_plays_like_the_module():
    # The copying itself changes nothing: Finkel under another name gives the module's moves, turn by turn.
    copy = specialise("rgou.game", dataclasses.replace(FINKEL, name="finkel-copy"))
    assert copy.legal_moves is not game.legal_moves
    rng = np.random.default_rng(5)
    a, b = game.new_state(), copy.new_state()
    out_a, out_b = np.empty(7, np.int8), np.empty(7, np.int8)
    for _ in range(2000):
        if game.is_over(a):
            a, b = game.new_state(), copy.new_state()
        roll = rng.integers(5)
        a[game.DICE] = b[copy.DICE] = roll
        n = game.legal_moves(a, out_a)
        assert copy.legal_moves(b, out_b) == n and (out_a[:n] == out_b[:n]).all()
        if n:
            slot = np.int64(out_a[rng.integers(n)])
            assert game.apply_move_inplace(a, slot) == copy.apply_move_inplace(b, slot)
        else:
            game.pass_turn_inplace(a)
            copy.pass_turn_inplace(b)
        assert (a == b).all()


def test_each_rule_sets_distinctive_move():
    # Player 2 on the shared rosette (square 7), player 1 two squares behind with a 2.
    def after(name):
        p = Position.initial(2, name)
        n = len(p.p1)
        return p.__class__((5,) + (-1,) * (n - 1), (7,) + (-1,) * (n - 1), 1, 2, name)

    assert after("finkel").legal_moves() == [1, 2, 3, 4, 5, 6]  # the rosette is safe
    assert after("aseb").legal_moves() == [1, 2, 3, 4]
    masters = after("masters").play(0)
    assert masters.p1[0] == 7 and masters.p2[0] == -1 and masters.to_move == 1  # captured on a rosette: again
    blitz = Position((5, -1, -1, -1, -1), (8, -1, -1, -1, -1), 1, 3, "blitz").play(0)
    assert blitz.p2[0] == -1 and blitz.to_move == 1  # a capture rolls again in Blitz only
    finkel = Position((5,) + (-1,) * 6, (8,) + (-1,) * 6, 1, 3).play(0)
    assert finkel.p2[0] == -1 and finkel.to_move == 2


def test_positions_are_checked_against_their_rule_set():
    with pytest.raises(ValueError, match="p1 must list 5 piece squares, got 7"):
        Position((-1,) * 7, (-1,) * 7, 1, 0, "blitz")
    with pytest.raises(ValueError, match=r"p1\[0\] = 17 is not on player 1's track"):
        Position((17,) + (-1,) * 4, (-1,) * 5, 1, 0, "aseb")
    Position((14,) + (-1,) * 6, (-1,) * 7, 1, 0, "masters")  # Masters' path crosses player 2's end squares
    with pytest.raises(ValueError, match=r"rules: unknown rule set 'ur'; choose one of finkel, masters, blitz, aseb"):
        Position.initial(rules="ur")
    with pytest.raises(ValueError, match=r"--rules: unknown rule set"):
        rule_set("bell")
    with pytest.raises(ValueError, match="expected a state of shape \\(12,\\)"):
        Position.from_array(np.zeros(16, np.int8), "aseb")


def test_rule_sets_compile_into_their_own_cache_entries(tmp_path):
    # Numba's cache names files for the function and does not hash its globals: a copy that shared the Finkel
    # kernel's name would load Finkel's code in the next process. Two processes on one fresh cache folder, the
    # second loading what the first compiled, in the other order.
    script = textwrap.dedent(
        """
        from rgou.game import Position
        moves = {}
        for name in %r:
            moves[name] = Position((5,) + (-1,) * 6, (7,) + (-1,) * 6, 1, 2, name).legal_moves()
        print(moves["finkel"], moves["masters"])
        """
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    printed = []
    for order in (("finkel", "masters"), ("masters", "finkel")):
        done = subprocess.run(
            [sys.executable, "-c", script % (order,)], env=env, capture_output=True, text=True, check=True
        )
        printed.append(done.stdout.strip())
    assert list(tmp_path.rglob("*legal_moves__masters*.nbi")), "the Masters copy has its own cache index"
    assert printed == ["[1, 2, 3, 4, 5, 6] [0, 1, 2, 3, 4, 5, 6]"] * 2


# The heuristic and the search: a plain heuristic and expectiminimax over the reference's moves, written from
# docs/rules.md's formula with its terms read per rule set ("centre": a square both paths share; "home": a track
# position past every shared square).
PARAMS = finkel_oracle.DEFAULT_PARAMS  # the upstream defaults, as the Finkel plain reference writes them


def plain_heuristic(name: str, state: tuple) -> int:
    ref = REFERENCE[name]
    p1, p2 = state[0], state[1]
    if all(sq == ref.done for sq in p1):
        return -PARAMS["win_score"]
    if all(sq == ref.done for sq in p2):
        return PARAMS["win_score"]

    def terms(path, other, pieces):
        finished = sum(sq == ref.done for sq in pieces)
        on_board = [sq for sq in pieces if sq not in (oracle.OUT, ref.done)]
        last_shared = max(path.index(sq) for sq in path if sq in other)
        position = strategic = 0
        for sq in on_board:
            p = path.index(sq)
            position += p + 1
            if sq in ref.rosettes:
                strategic += PARAMS["safety_bonus"] + PARAMS["rosette_control_bonus"]
            if sq in other:
                strategic += PARAMS["advancement_bonus"] + PARAMS["center_lane_bonus"]
            elif p > last_shared:
                strategic += 2 * PARAMS["advancement_bonus"]
        return finished, len(on_board), position, strategic

    f1, b1, pos1, s1 = terms(ref.paths[0], ref.paths[1], p1)
    f2, b2, pos2, s2 = terms(ref.paths[1], ref.paths[0], p2)
    score = (f2 - f1) * PARAMS["finished_piece_value"] + (b2 - b1) * PARAMS["capture_bonus"]
    weighted = (pos2 - pos1) * PARAMS["position_weight"]
    score += abs(weighted) // 10 * (1 if weighted >= 0 else -1)  # truncated toward zero
    return score + s2 - s1


def plain_chance(name: str, state: tuple, depth: int) -> float:
    if depth == 0:
        return plain_heuristic(name, state)
    return sum(p * plain_value(name, state, roll, depth)[0] for roll, p in enumerate(oracle.FOUR_BINARY_DICE))


def plain_value(name: str, state: tuple, roll: int, depth: int) -> tuple[float, dict]:
    """(value, {child: score}) of a rolled reference state, as the docs' expectiminimax defines it."""
    ref = REFERENCE[name]
    if oracle.winner(state, ref) or depth == 0:
        return plain_heuristic(name, state), {}
    children = oracle.moves(state, roll, ref)
    if not children:
        return plain_chance(name, oracle.passed(state), depth - 1), {}
    scores = {
        child: plain_heuristic(name, child) if oracle.winner(child, ref) else plain_chance(name, child, depth - 1)
        for child in children
    }
    return (max(scores.values()) if state[2] == 2 else min(scores.values())), scores


def random_positions(name: str, seed: int, count: int) -> list[np.ndarray]:
    """Rolled states met in random games of rule set `name`."""
    kernels = engine(name)
    rng = np.random.default_rng(seed)
    out = np.empty(RULE_SETS[name].pieces, dtype=np.int8)
    found = []
    state = kernels.new_state()
    while len(found) < count:
        if kernels.is_over(state):
            state = kernels.new_state()
        state[kernels.DICE] = rng.choice(5, p=oracle.FOUR_BINARY_DICE)
        if rng.random() < 0.2:
            found.append(state.copy())
        n = kernels.legal_moves(state, out)
        if n:
            state = kernels.apply_move(state, np.int64(out[rng.integers(n)]))
        else:
            kernels.pass_turn_inplace(state)
    return found


@pytest.mark.parametrize("name", list(RULE_SETS))
def test_every_rule_sets_search_is_the_plain_expectiminimax(name):
    from rgou.heuristic import heuristic_score_of
    from rgou.search import expected_value, expectiminimax

    kernels = engine(name)
    for k, state in enumerate(random_positions(name, seed=11, count=24)):
        pos = Position.from_array(state, name)
        ref_state, roll = to_reference(name, state), int(state[-1])
        assert heuristic_score_of(pos) == plain_heuristic(name, ref_state)
        depth = 1 + k % 2 if k < 20 else 3  # depth 3: the search's inner plies, captures that roll again within
        value, scores = plain_value(name, ref_state, roll, depth)
        result = expectiminimax(pos, depth)
        assert result.value == pytest.approx(value, rel=1e-12, abs=1e-9), (name, ref_state, roll)
        for slot, score in zip(result.legal_moves, result.scores):  # each slot's score is its child's
            child = to_reference(name, kernels.apply_move(state, np.int64(slot)))
            assert score == pytest.approx(scores[child], rel=1e-12, abs=1e-9), (name, ref_state, roll, slot)
        if scores:
            assert result.scores[result.legal_moves.index(result.best_move)] == result.value
        unrolled = plain_chance(name, ref_state[:2] + (ref_state[2],), 1)
        assert expected_value(pos, 1) == pytest.approx(unrolled, rel=1e-12, abs=1e-9)


@pytest.mark.parametrize("name", ["masters", "blitz", "aseb"])
def test_the_game_loop_plays_each_rule_sets_games(name):
    # Every turn of an arena game between two agents of the rule set is a legal turn of the reference.
    from rgou.agents import make_agent
    from rgou.arena import match
    from rgou.playout import NO_SAMPLE_MOVE

    a, b = make_agent("heuristic", rules=name), make_agent("random", seed=3, rules=name)
    loop = specialise("rgou.playout", name).play_games
    rec = loop(a.data, b.data, 6, 9, paired=True, split_streams=True, max_plies=600, record_samples=600,
               record_passes=True)  # fmt: skip
    kernels, ref = engine(name), REFERENCE[name]
    for g in range(6):
        turns = rec.states[g, : rec.counts[g]]
        for k, (state, move) in enumerate(zip(turns, rec.moves[g, : rec.counts[g]])):
            before, roll = to_reference(name, state), int(state[kernels.DICE])
            if move == NO_SAMPLE_MOVE:
                after = oracle.passed(before)
                assert not oracle.moves(before, roll, ref)
            else:
                after = to_reference(name, kernels.apply_move(state, np.int64(move)))
                assert after in oracle.moves(before, roll, ref)
            if k + 1 < len(turns):
                assert to_reference(name, turns[k + 1]) == after
            else:
                assert oracle.winner(after, ref) == rec.winners[g]
    result = match(a, b, 40, seed=9)
    assert result.a_wins + result.b_wins == 40 and result.a_wins > result.b_wins


def test_agents_and_matches_keep_to_one_rule_set(monkeypatch, tmp_path):
    from rgou.agents import make_agent
    from rgou.arena import match

    for spec in ("ml", "ml+", "ml-1:default"):
        with pytest.raises(ValueError, match=re.escape(f"agent {spec!r}: the model default plays the finkel rules")):
            make_agent(spec, rules="masters")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # no solved table there
    with pytest.raises(ValueError, match=r"no solved table at .*masters-7.table: run `rgou solve --rules masters`"):
        make_agent("perfect", rules="masters")
    with pytest.raises(ValueError, match="perfect play under blitz needs its 5-piece table, got a 1-piece blitz one"):
        make_agent("perfect", rules="blitz", table=solved("blitz", 1))
    with pytest.raises(ValueError, match="rules: unknown rule set 'ur'"):
        make_agent("heuristic", rules="ur")
    with pytest.raises(ValueError, match="heuristic plays the blitz rules and random the finkel rules"):
        match(make_agent("heuristic", rules="blitz"), make_agent("random"), 2)
    with pytest.raises(ValueError, match="leaf: the aseb rules are searched on their own heuristic"):
        from rgou.leaves import heuristic_leaf
        from rgou.search import expectiminimax

        expectiminimax(Position.initial(2, "aseb"), 1, leaf=heuristic_leaf())


def test_play_a_rule_set_in_the_terminal_and_replay_its_record(tmp_path, monkeypatch):
    import io

    from rgou.agents import make_agent
    from rgou.record import read_record, write_record
    from rgou.terminal import PlaySession

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # no solved table there
    out = io.StringIO()
    session = PlaySession(make_agent("emm-1", rules="aseb"), seed=4, stdin=io.StringIO("hint\n" + "1\n" * 400),
                          stdout=out)  # fmt: skip
    result = session.run()
    text = out.getvalue()
    assert "Rules: aseb" in text and "no hints: winning chances under aseb need its solved table" in text
    assert "|11*  |12   |13   |14   |15*  |" in text  # the Aseb board's middle row
    assert result.winner in (1, 2) and result.record.rules == "aseb"
    path = tmp_path / "aseb.json"
    write_record(result.record, path)
    again = read_record(path)
    assert again.rules == "aseb" and again.turns == result.record.turns and again.winner == result.winner
    assert [len(p) for p in again.positions()[:1]] == [12]


def test_records_name_their_rule_set_and_mismatches_are_refused(tmp_path):
    import json

    from rgou.record import GameRecord, parse_record, record_text
    from rgou.review import review_game

    record = GameRecord(("human", "heuristic"), seed=1, rules="blitz")
    for _ in range(30):
        moves = record.legal_moves(record.seeded_roll())
        record.add(record.seeded_roll(), moves[-1] if moves else None)
    doc = json.loads(record_text(record))
    assert (doc["rules"], doc["pieces"]) == ("blitz", 5)
    assert parse_record(doc).state.tolist() == record.state.tolist()
    with pytest.raises(ValueError, match=r"pieces must be 5 \(the blitz rules' pieces\), got 7"):
        parse_record({**doc, "pieces": 7})
    with pytest.raises(ValueError, match="rules must be one of finkel, masters, blitz, aseb, got 'bell'"):
        parse_record({**doc, "rules": "bell"})
    # The same turns under other rules are another game: replayed, they fail or differ.
    with pytest.raises(ValueError, match="turn"):
        parse_record({**doc, "rules": "aseb"})
    from rgou.chances import WinChances

    with pytest.raises(ValueError, match="a game of the blitz rules: these chances judge finkel games"):
        review_game(record, WinChances(find_table=False))


def test_the_commands_take_a_rule_set(tmp_path, capsys, monkeypatch):
    import io
    import json

    from rgou.cli import main
    from rgou.record import read_record

    out = tmp_path / "arena.json"
    folder = tmp_path / "games"
    assert main(["arena", "heuristic", "random", "--rules", "blitz", "--games", "20", "--seed", "3", "--json", str(out),
                 "--save-games", str(folder), "--save-count", "2", "--quiet"]) == 0  # fmt: skip
    doc = json.loads(out.read_text())
    assert doc["rules"] == "blitz" and doc["pairs"][0]["games"] == 20
    records = [read_record(f) for f in sorted(folder.iterdir())]
    assert [r.rules for r in records] == ["blitz", "blitz"] and all(r.winner for r in records)
    capsys.readouterr()
    assert main(["arena", "ml", "heuristic", "--rules", "masters", "--games", "2", "--quiet"]) == 2
    assert "agent 'ml': the model default plays the finkel rules, not masters" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["arena", "heuristic", "random", "--rules", "ur"])
    assert "argument --rules: invalid choice: 'ur'" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("quit\n"))
    assert main(["play", "--rules", "Masters", "--seed", "1"]) == 0  # a name typed in any case
    text = capsys.readouterr().out
    assert "against expectiminimax-3" in text and "Rules: masters" in text and '"rules": "masters"' in text


def test_analyze_a_rule_sets_positions(capsys, monkeypatch, tmp_path):
    import io
    import json

    from rgou.analysis import Analyzer, parse_position
    from rgou.cli import main

    line = '{"p1": [5, -1, -1, -1, -1], "p2": [8, -1, -1, -1, -1], "to_move": 1, "dice": 3, "rules": "blitz"}'
    pos = parse_position(line, "blitz")
    report = Analyzer(depth=2, features=False, rules="blitz").analyze(pos)
    value, scores = plain_value("blitz", to_reference("blitz", pos.to_array()), 3, 2)
    assert report["search_value"] == pytest.approx(value)
    assert sorted(set(report["scores"])) == pytest.approx(sorted(scores.values()))
    assert report["successors"][0] == {"move": 0, "p1": [8, -1, -1, -1, -1], "p2": [-1] * 5, "to_move": 1}
    with pytest.raises(ValueError, match=r"rules: the line is a position of 'blitz', this analysis plays aseb"):
        parse_position(line, "aseb")
    with pytest.raises(ValueError, match="p1 must list 7 squares for 7 pieces, got 5"):
        parse_position(line.replace(', "rules": "blitz"', ""))
    with pytest.raises(ValueError, match=r"the model \(default\) plays the finkel rules, not aseb"):
        Analyzer(rules="aseb", model="default")
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO((line + "\n").encode())))
    assert main(["analyze", "--rules", "blitz", "--depth", "2"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["search_value"] == report["search_value"]
    assert printed["features"] == feature_kernels("blitz").extract_features(pos.to_array()).tolist()
    assert main(["analyze", "--rules", "blitz", "--model", "default"]) == 2
    assert "the model (default) plays the finkel rules, not blitz" in capsys.readouterr().err
    # The exact fields from the rule set's own table (a 1-piece one: one square a player).
    table = solved("blitz", 1)
    save_table(table, tmp_path / "blitz-1.table")
    small = '{"p1": [5], "p2": [7], "to_move": 1, "dice": 2}'
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO((small + "\n").encode())))
    assert main(["analyze", "--rules", "blitz", "--table", str(tmp_path / "blitz-1.table")]) == 0
    exact = json.loads(capsys.readouterr().out)["exact"]
    state = make_state([5], [7], to_move=1, dice=2, rules="blitz")
    assert exact["moves"] == pytest.approx(list(table.p2_win_after_moves(state))) and len(exact["moves"]) == 1
    assert exact["p2_win"] == pytest.approx(min(exact["moves"]))  # player 1 moves: P2's chance after its best
    with pytest.raises(ValueError, match="the exact fields of aseb positions read its table, not a blitz one"):
        Analyzer(features=False, rules="aseb", table=table)


def test_rule_sets_and_the_data_built_for_them_are_never_mixed(tmp_path, capsys, monkeypatch):
    from rgou.agents import Agent, make_agent, search_agent_data
    from rgou.analysis import Analyzer
    from rgou.cli import main
    from rgou.leaves import table_leaf
    from rgou.record import GameRecord, write_record

    with pytest.raises(ValueError, match="a rule set named 'blitz' must be rgou's own"):
        engine(dataclasses.replace(RULE_SETS["blitz"], pieces=4))
    custom = specialise("rgou.game", dataclasses.replace(RULE_SETS["blitz"], name="blitz4", pieces=4))
    assert custom.NUM_PIECES == 4 and custom.legal_moves.py_func.__qualname__.startswith("legal_moves__blitz4_")
    finkel, blitz = make_agent("heuristic"), make_agent("heuristic", rules="blitz")
    with pytest.raises(ValueError, match="its heuristic leaf was built for another rule set than blitz"):
        Agent("mixed", finkel.data, rules="blitz")
    with pytest.raises(ValueError, match="its heuristic leaf was built for another rule set than finkel"):
        Agent("mixed", blitz.data)
    with pytest.raises(ValueError, match="its solved table is not one of the 5-piece aseb game"):
        Agent("perfect", search_agent_data(1, table_leaf(np.zeros(position_count(7), np.float32))), rules="aseb")
    with pytest.raises(ValueError, match="agent 'ml': its nets are a finkel model's, not masters's"):
        Agent("ml", make_agent("ml").data, rules="masters")
    from rgou.playout import play_games

    blitz_games = specialise("rgou.playout", "blitz").play_games
    assert blitz_games(blitz.data, blitz.data, 2, 1, threads=1).winners.all()  # the rule set's own loop plays
    with pytest.raises(ValueError, match="agent 'agent1': its heuristic leaf was built for another rule set than fink"):
        play_games(finkel.data, blitz.data, 2, 1, threads=1)
    with pytest.raises(ValueError, match="'agent0': its heuristic leaf was built for another rule set than blitz"):
        blitz_games(finkel.data, blitz.data, 2, 1, threads=1)
    aseb_leaf = specialise("rgou.leaves", "aseb").table_leaf(np.zeros(position_count(5, "aseb"), np.float32))
    small = search_agent_data(1, aseb_leaf)
    with pytest.raises(ValueError, match="agent 'agent0': its solved table is not one of the 7-piece finkel game"):
        play_games(small, finkel.data, 2, 1, threads=1)
    line = '{"p1": [-1, -1, -1, -1, -1], "p2": [-1, -1, -1, -1, -1], "to_move": 1, "dice": 2, "rules": "Blitz"}'
    assert Analyzer(features=False, rules="blitz").analyze_line(line)["legal_moves"] == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="the line is a position of 'Blitz', this analysis plays finkel"):
        Analyzer(features=False).analyze_line(line)
    record = GameRecord(("human", "heuristic"), seed=3, rules="aseb")
    write_record(record, tmp_path / "aseb.json")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # no solved table there
    assert main(["review", str(tmp_path / "aseb.json")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'aseb.json'}: a game of the aseb rules: winning chances under aseb need its solved" in err


# The exact solver under every rule set, against the reference's plain value iteration.

SOLVED_ELSEWHERE = ("masters", "blitz", "aseb")


def from_reference(name: str, state: tuple, dice: int = 0) -> np.ndarray:
    """The reference's state (sorted squares, to_move) as rgou's int8[2N + 2]."""
    rules = RULE_SETS[name]
    ref = REFERENCE[name]
    light, dark = PATH_TILES[name]
    number = {tile: i for i, tile in enumerate(sorted(set(light) | set(dark)))}
    square = {number[tile]: s for s, tile in BOARD_TILES[rules.board].items() if tile in number}
    square.update({oracle.OUT: -1, ref.done: 20})
    p1, p2, to_move = state
    return np.array([square[s] for s in p1] + [square[s] for s in p2] + [to_move, dice], dtype=np.int8)


@functools.cache
def solved(name: str, n: int):
    return solve(n, tolerance=1e-10, rules=name)


@functools.cache
def reference_solution(name: str, n: int):
    return oracle.solve(n, tolerance=1e-11, rules=REFERENCE[name])


@pytest.mark.parametrize("name", SOLVED_ELSEWHERE)
@pytest.mark.parametrize("n", [1, 2])
def test_each_rule_sets_table_is_the_reference_solve(name, n):
    table = solved(name, n)
    graph, values = reference_solution(name, n)
    kernels = specialise("rgou.solve.lookup", name)
    states = [from_reference(name, graph.states[i]) for i in graph.live]
    got = np.array([table.win_probability(s) for s in states])
    assert np.abs(got - values[graph.live]).max() < 1e-7
    # Every reachable position has an index, and each index is one position seen by either colour.
    indices = np.array([kernels.state_index(s) for s in states])
    count = position_count(n, name)
    assert np.array_equal(np.bincount(indices, minlength=count), np.full(count, 2))
    assert specialise("rgou.solve.sweep", name).bellman_residual(n, table.values) < 1e-7  # float32 storage
    assert table.rules == name and table.values.shape == (count,)


@pytest.mark.parametrize("name", SOLVED_ELSEWHERE)
def test_each_rule_sets_table_ranks_the_moves_as_the_reference_does(name):
    table = solved(name, 2)
    graph, values = reference_solution(name, 2)
    value_of = {graph.states[i]: values[i] for i in range(len(graph.states))}
    rng = np.random.default_rng(5)
    for i in rng.choice(graph.live, 300, replace=False):
        before = graph.states[i]
        roll = int(rng.integers(1, 5))
        children = oracle.moves(before, roll, REFERENCE[name])
        state = from_reference(name, before, roll)
        after = table.p2_win_after_moves(state)
        # P(player 2 wins) after each child: the child's value for its player to move, seen from player 2.
        expected = [value_of[c] if c[2] == 2 else 1 - value_of[c] for c in children]
        gaps = np.abs(np.subtract.outer(after, np.array(expected)))  # every move is a child, every child a move
        assert (after.size == 0 and not expected) or (gaps.min(axis=1).max() < 1e-6 and gaps.min(axis=0).max() < 1e-6)
        if children:
            mover_best = max(e if before[2] == 2 else 1 - e for e in expected)
            slot = table.best_move(state)  # moves are listed by ascending slot: with one, it is the only entry
            chosen = after[slot if after.size == 2 else 0]
            assert abs((chosen if before[2] == 2 else 1 - chosen) - mover_best) < 1e-6
        else:
            assert table.best_move(state) == -1 and after.size == 0


@pytest.mark.parametrize("name", SOLVED_ELSEWHERE)
def test_each_rule_sets_index_is_a_bijection(name):
    index = specialise("rgou.solve.index", name)
    rules = RULE_SETS[name]
    rng = np.random.default_rng(11)
    for n in (3, 5, 7):
        count = position_count(n, name)
        for i in rng.integers(0, count, 300):
            mover, opponent, fm, fo = index.decode(n, i)
            assert index.encode(n, mover, opponent, fm, fo) == i
            mine = {rules.p1_track[p] for p in range(16) if mover >> p & 1}  # the mover as player 1
            theirs = {rules.p2_track[p] for p in range(16) if opponent >> p & 1}
            assert not mine & theirs and len(mine) <= n - fm and len(theirs) <= n - fo and max(fm, fo) < n


def test_tables_record_their_rule_set_and_others_are_refused(tmp_path, capsys):
    from rgou.cli import main

    table = solved("blitz", 1)
    path = save_table(table, tmp_path / "blitz-1.table")
    loaded = load_table(path, 1, rules="blitz")
    assert loaded.rules == "blitz" and np.array_equal(loaded.values, table.values)
    with pytest.raises(ValueError, match=r"blitz-1.table: solved for rules 'blitz', not 'finkel'"):
        load_table(path, 1)
    with pytest.raises(ValueError, match=r"solved for rules 'blitz', not 'masters'"):
        load_table(path, 1, rules="masters")
    assert default_table_path(5, "aseb").name == "aseb-5.table"
    # A checkpoint folder left by another rule set's solve is refused, not mixed in.
    out = tmp_path / "t.table"
    with pytest.raises(RuntimeError, match="stop"):
        solve(1, out=out, rules="masters", progress=_stop_after_first_group)
    with pytest.raises(ValueError, match=r"checkpoint of a solve with rules=masters"):
        solve(1, out=out, rules="aseb")
    with pytest.raises(ValueError, match=r"rules: only the built-in rule sets are solved"):
        solve(1, rules=dataclasses.replace(RULE_SETS["aseb"], name="mine"))
    assert main(["solve", "--rules", "aseb", "--pieces", "1", "--out", str(tmp_path / "a.table"), "--quiet"]) == 0
    out_text = capsys.readouterr().out
    assert "277 positions of the 1-piece aseb game" in out_text
    assert f"(opening value {solved('aseb', 1).win_probability(make_state([-1], [-1], rules='aseb')):.7f})" in out_text
    assert main(["evaluate", "heuristic", "--rules", "blitz", "--table", str(path), "--games", "2", "--quiet"]) == 2
    assert "blitz-1.table: table is for 1 pieces, expected 5" in capsys.readouterr().err


def _stop_after_first_group(progress) -> None:
    if progress.done:
        raise RuntimeError("stop")


@pytest.mark.parametrize("name", ["blitz", "aseb"])
def test_the_perfect_agent_of_each_rule_set_plays_its_tables_best_move(name):
    # Random values in a table of the rule set's real game: the agent (the depth-1 search on the exact
    # leaf) and the table's own look-up (rgou.solve.lookup) must pick the same move, ties being improbable.
    from rgou.agents import make_agent
    from rgou.chances import WinChances
    from rgou.evaluate import evaluate_agent
    from rgou.record import GameRecord
    from rgou.review import review_game
    from rgou.solve import Table
    from rgou.terminal import PlaySession

    rules = RULE_SETS[name]
    values = np.random.default_rng(2).random(position_count(rules.pieces, name), dtype=np.float32)
    table = Table(n_pieces=rules.pieces, values=values, tolerance=1e-7, residual=0.0, rules=name)
    agent, kernels = make_agent("perfect", rules=name, table=table), engine(name)
    rng = np.random.default_rng(4)
    state, chosen = kernels.new_state(), 0
    while chosen < 200:
        state[kernels.DICE] = rng.choice(5, p=oracle.FOUR_BINARY_DICE)
        moves = kernels.legal_move_list(state)
        if moves:
            move = agent.choose_move(state)
            assert move == table.best_move(state)
            chosen += 1
            state = kernels.apply_move(state, np.int64(move if rng.random() < 0.5 else rng.choice(moves)))
        else:
            kernels.pass_turn_inplace(state)
        if kernels.winner(state):
            state = kernels.new_state()
    # rgou evaluate's measure under the rule set: the table's own best moves lose nothing, the heuristic's do.
    itself = evaluate_agent(agent, agent, 4, seed=1)
    assert itself.mean_loss == 0.0 and itself.optimal_share == 1.0 and itself.decisions > 100
    heuristic = evaluate_agent(make_agent("heuristic", rules=name), agent, 4, seed=1)
    assert heuristic.mean_loss > 0.0 and heuristic.optimal_share < 1.0
    other = "aseb" if name == "blitz" else "blitz"
    with pytest.raises(ValueError, match=f"heuristic plays the {other} rules, perfect the {name} rules"):
        evaluate_agent(make_agent("heuristic", rules=other), agent, 2)
    # The review of a game of the rule set, exact from its table: the best moves are the table's.
    record = GameRecord(("heuristic", "random"), seed=5, rules=name)
    while not record.over and len(record.turns) < 400:
        roll = record.seeded_roll()
        moves = record.legal_moves(roll)
        record.add(roll, moves[-1] if moves else None)
    chances = WinChances(table, rules=name)
    review = review_game(record, chances)
    rolled = dict(zip(range(1, len(record.turns) + 1), record.positions()))
    assert review.exact and len(review.p1_chances) == len(record.turns) + 1 and review.decisions
    for d in review.decisions:
        assert d.best_move == table.best_move(rolled[d.turn]) and d.loss >= 0.0
        assert (d.loss == 0.0) == (d.move == d.best_move) or d.chance_after == d.chance_before
    # Hints in the terminal game, from the same chances.
    out = io.StringIO()
    PlaySession(make_agent("random", rules=name), seed=2, stdin=io.StringIO("hint\n" + "1\n" * 400), stdout=out,
                chances=chances).run()  # fmt: skip
    assert "your chance of winning after each move (exact):" in out.getvalue()
