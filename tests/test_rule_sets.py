"""The engine under every rule set against the plain reference (tests/solve_oracle.py).

rgou compiles its engine once per rule set (`rgou.specialise`); the reference
writes each rule set out again on board tiles from its description. Random
games of each rule set compare, turn by turn, every legal move's outcome
(the position and who moves next) and the winner.
"""

import dataclasses
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import solve_oracle as oracle
from hypothesis import given, settings
from hypothesis import strategies as st

import rgou.game as game
import rgou.rules as rules_module
from rgou.game import Position, engine, state_layout
from rgou.rules import FINKEL, RULE_SETS, rule_constants, rule_set
from rgou.specialise import specialise

REFERENCE = {"finkel": oracle.FINKEL_TILES, "masters": oracle.MASTERS, "blitz": oracle.BLITZ, "aseb": oracle.ASEB}
PATH_TILES = {
    "finkel": oracle.BELL_TILES,
    "masters": oracle.MASTERS_TILES,
    "blitz": oracle.MASTERS_TILES,
    "aseb": oracle.ASEB_TILES,
}
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
