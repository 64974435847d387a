"""The plain reference of the rule sets (tests/solve_oracle.py): Finkel, Masters, Blitz and Aseb.

The reference is what engines of the other rule sets will be checked against,
so it is checked here on its own: Finkel written out from board tiles equals
rgou's Finkel (whose solver and engine the other tests check), each rule set's
distinctive moves come out as its description says, and the small games are
colour-symmetric and solve to a fixed point.
"""

import numpy as np
import pytest
import solve_oracle as oracle

TILE_RULES = oracle.BY_NAME
PATH_TILES = oracle.PATHS_BY_NAME


def squares(name: str) -> dict:
    """tile (x, y) -> the reference's square number, for the rule set `name`."""
    light, dark = PATH_TILES[name]
    return {tile: i for i, tile in enumerate(sorted(set(light) | set(dark)))}


def state(name: str, light: list, dark: list, to_move: int = 1) -> tuple:
    """A reference state from tiles; "out" and "done" for pieces off the board."""
    number, rules = squares(name), TILE_RULES[name]

    def side(tiles):
        return tuple(sorted(oracle.OUT if t == "out" else rules.done if t == "done" else number[t] for t in tiles))

    return (side(light), side(dark), to_move)


def test_finkel_from_tiles_is_rgou_finkel():
    # The same game on other square numbers: the same reachable states and values as rgou's tracks.
    for n in (1, 2):
        graph, values = oracle.solve(n)
        tiles_graph, tiles_values = oracle.solve(n, rules=oracle.FINKEL_TILES)
        assert len(tiles_graph.states) == len(graph.states)
        opening = oracle.opening(n)
        assert tiles_values[tiles_graph.ids[opening]] == pytest.approx(values[graph.ids[opening]], abs=1e-12)
    assert abs(values[graph.ids[oracle.opening(2)]] - 0.5185729074) < 1e-8  # the published 2-piece value


def test_the_paths_are_the_described_ones():
    lengths = {name: len(rules.paths[0]) for name, rules in TILE_RULES.items()}
    assert lengths == {"finkel": 14, "masters": 16, "blitz": 16, "aseb": 16}
    light, dark = oracle.MASTERS_TILES
    assert light[10:] == [(2, 7), (3, 7), (3, 8), (2, 8), (1, 8), (1, 7)]  # round the far end, home last
    assert dark[10:] == [(2, 7), (1, 7), (1, 8), (2, 8), (3, 8), (3, 7)]
    light, dark = oracle.ASEB_TILES
    assert light[:4] == [(1, 4), (1, 3), (1, 2), (1, 1)] and light[4:] == [(2, y) for y in range(1, 13)]
    for name, (light, dark) in PATH_TILES.items():  # each path is a mirror image of the other
        assert dark == [(4 - x, y) for x, y in light], name
        assert all(abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1 for a, b in zip(light, light[1:])), name


def test_captures_on_rosettes_follow_each_rule_set():
    # Light on (2, 3) moves 1 onto the middle rosette (2, 4), where a dark piece stands.
    for name, allowed in (("finkel", False), ("aseb", False), ("masters", True), ("blitz", True)):
        before = state(name, [(2, 3), "out"], [(2, 4), "out"])
        after = oracle.moves(before, 1, TILE_RULES[name])
        captured = state(name, [(2, 4), "out"], ["out", "out"], to_move=1)  # captured, and the rosette: roll again
        assert (captured in after) == allowed, name
    # Masters' path runs through dark's home rosette (3, 7): a dark piece there is captured.
    before = state("masters", [(2, 7)], [(3, 7)])
    assert oracle.moves(before, 1, oracle.MASTERS) == [state("masters", [(3, 7)], ["out"], to_move=1)]


def test_only_blitz_grants_a_roll_for_a_capture():
    for name, again in (("masters", False), ("blitz", True), ("finkel", False)):
        before = state(name, [(2, 5)], [(2, 6)])
        expected = state(name, [(2, 6)], ["out"], to_move=1 if again else 2)
        assert oracle.moves(before, 1, TILE_RULES[name]) == [expected], name


def test_bearing_off_needs_the_exact_roll():
    for name, last in (("finkel", (1, 7)), ("masters", (1, 7)), ("aseb", (2, 12))):
        rules = TILE_RULES[name]
        before = state(name, [last, "done"], ["out", "out"])
        assert oracle.moves(before, 1, rules) == [state(name, ["done", "done"], ["out", "out"], to_move=2)]
        assert oracle.winner(oracle.moves(before, 1, rules)[0], rules) == 1
        assert all(oracle.moves(before, roll, rules) == [] for roll in (2, 3, 4)), name
    # Aseb's end rosette (2, 12) is the last square: landing there rolls again.
    before = state("aseb", [(2, 10)], ["out"])
    assert oracle.moves(before, 2, oracle.ASEB) == [state("aseb", [(2, 12)], ["out"], to_move=1)]


@pytest.mark.parametrize("name", ["masters", "blitz", "aseb"])
def test_small_games_are_colour_symmetric_fixed_points(name):
    rules, number = TILE_RULES[name], squares(name)
    mirror = {number[(x, y)]: number[(4 - x, y)] for x, y in number}
    mirror.update({oracle.OUT: oracle.OUT, rules.done: rules.done})
    graph, values = oracle.solve(2, rules=rules)
    assert oracle.bellman_residual(graph, values) < 1e-8
    assert np.all((values >= 0) & (values <= 1))
    for i, (p1, p2, to_move) in enumerate(graph.states):
        swapped = (tuple(sorted(mirror[s] for s in p2)), tuple(sorted(mirror[s] for s in p1)), 3 - to_move)
        assert values[graph.ids[swapped]] == pytest.approx(values[i], abs=1e-7)
