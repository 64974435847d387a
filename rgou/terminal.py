"""Play the Royal Game of Ur in a terminal against any agent, or let an agent advise on a real game.

`PlaySession` reads commands from a text stream and writes to another, so a
terminal, a pipe and the tests drive it alike. Each turn shows the board
(square numbers, X = player 1, O = player 2, * = rosette), the roll and the
legal moves by number, named so a person understands them (which piece, from
where to where, a capture, a rosette). Commands at the prompt:

* a move number (1, 2, ...) plays that move;
* ``hint`` shows the agent's score of every legal move (higher is better
  for the player to move);
* ``board`` shows the board again; ``quit`` ends the game.

With ``dice="manual"`` every roll (the agent's too) is typed in, 0..4, so
rgou can advise on a game played on a physical board. Bad input is refused
with a hint and the game goes on; end of input or Ctrl-C ends it cleanly,
printing the position so far as a line that `rgou analyze` reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TextIO

import numpy as np

from rgou._random import seed_rng
from rgou.agents import Agent
from rgou.analysis import read_line
from rgou.game import (
    DICE,
    TO_MOVE,
    _target_square,
    apply_move_inplace,
    is_over,
    legal_moves,
    new_state,
    pass_turn_inplace,
    roll_dice,
    winner,
)
from rgou.rules import FINISHED, IS_ROSETTE, MAX_ROLL, NUM_PIECES, OFF_BOARD, P1, P2

MARKS = {P1: "X", P2: "O"}
TOP_ROW = (0, 1, 2, 3, None, None, 13, 12)  # squares by column, None: no square
MIDDLE_ROW = (4, 5, 6, 7, 8, 9, 10, 11)
BOTTOM_ROW = (16, 17, 18, 19, None, None, 15, 14)
DICE_MODES = ("auto", "manual")


def _cell(square: int | None, occupant: dict[int, str]) -> str:
    if square is None:
        return "     "
    rosette = "*" if IS_ROSETTE[square] else " "
    return f"{square:>2}{rosette}{occupant.get(square, ' ')} "


def _border(row: tuple) -> str:
    """The horizontal line above or below a row: '+-----' over squares, blanks over the gap."""
    out = ""
    for k, square in enumerate(row):
        before = row[k - 1] if k > 0 else None
        out += ("+" if square is not None or before is not None else " ") + ("-----" if square is not None else "     ")
    return out + ("+" if row[-1] is not None else "")


def render_board(state: np.ndarray) -> str:
    """The board as text: square numbers, X (player 1) and O (player 2) on their squares, * rosettes."""
    occupant: dict[int, str] = {}
    for player, base in ((P1, 0), (P2, NUM_PIECES)):
        for sq in state[base : base + NUM_PIECES]:
            if 0 <= sq < FINISHED:
                occupant[int(sq)] = MARKS[player]

    def row(label: str, squares: tuple) -> str:
        cells = "".join(
            ("|" + _cell(sq, occupant))
            if sq is not None
            else ("|     " if k > 0 and squares[k - 1] is not None else "      ")
            for k, sq in enumerate(squares)
        )
        return f" {label:<3}{cells}{'|' if squares[-1] is not None else ''}"

    full = "+-----" * 8 + "+"
    lines = [
        "    " + _border(TOP_ROW),
        row("P1", TOP_ROW),
        "    " + full,
        row("", MIDDLE_ROW),
        "    " + full,
        row("P2", BOTTOM_ROW),
        "    " + _border(BOTTOM_ROW),
    ]
    for player, base in ((P1, 0), (P2, NUM_PIECES)):
        pieces = state[base : base + NUM_PIECES]
        waiting = int((pieces == OFF_BOARD).sum())
        done = int((pieces == FINISHED).sum())
        lines.append(f" player {player} ({MARKS[player]}): {waiting} waiting to enter, {done} borne off")
    return "\n".join(lines)


def describe_move(state: np.ndarray, slot: int) -> str:
    """A legal move in words, e.g. 'piece 3: 6 -> 7, rosette: roll again' (state rolled, move legal)."""
    player = int(state[TO_MOVE])
    base = 0 if player == P1 else NUM_PIECES
    square = int(state[base + slot])
    target = int(_target_square(player, square, state[DICE]))
    if square == OFF_BOARD:
        text = f"piece {slot}: enters at {target}"
    elif target == FINISHED:
        text = f"piece {slot}: {square} -> borne off"
    else:
        text = f"piece {slot}: {square} -> {target}"
    if target != FINISHED:
        theirs = state[(NUM_PIECES if player == P1 else 0) : (2 * NUM_PIECES if player == P1 else NUM_PIECES)]
        if target in theirs:
            text += f", captures {MARKS[3 - player]}"
        if IS_ROSETTE[target]:
            text += ", rosette: roll again"
    return text


MAX_SHOWN = 20  # characters of refused input echoed back
MAX_INPUT = 1 << 16  # bytes of one input line; a longer line is refused (and read past, never held)


def parse_number(text: str) -> int | None:
    """The number typed (ASCII digits only, at most 6 of them), or None: '²', '①', '٣' and 5000 digits are not."""
    if 1 <= len(text) <= 6 and text.isascii() and text.isdigit():
        return int(text)
    return None


def shown(text: str) -> str:
    """Input as echoed back in a refusal: unprintable characters escaped, cut to MAX_SHOWN characters."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


@dataclass
class PlayResult:
    """How a session ended: the winner (0: not finished), the final kernel state, turns played."""

    winner: int
    state: np.ndarray
    turns: int


class PlaySession:
    """One game between a person and an agent, over text streams."""

    def __init__(
        self,
        agent: Agent,
        human: int = P1,
        seed: int = 0,
        dice: str = "auto",
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
    ):
        import sys

        if human not in (P1, P2):
            raise ValueError(f"human must play 1 or 2, got {human!r}")
        if dice not in DICE_MODES:
            raise ValueError(f"dice must be one of {', '.join(DICE_MODES)}, got {dice!r}")
        self.agent, self.human, self.dice = agent, human, dice
        self.stdin = stdin if stdin is not None else sys.stdin  # None: started with stdin closed, no input
        # a text stream over bytes (the real stdin) is read as bytes and decoded line by line, so one
        # bad byte spoils only its line (the text stream itself would raise, and lose what it had read)
        self._stdin_bytes = getattr(self.stdin, "buffer", None)
        self.stdout = stdout if stdout is not None else sys.stdout
        if self.stdout is None:
            raise ValueError("standard output is closed: nowhere to show the game")
        self._rng = seed_rng(np.uint64(seed), np.uint64(0))
        self.state = new_state()

    def say(self, text: str = "") -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def _ask(self, prompt: str) -> str:
        """The next input line, stripped; a line that is not UTF-8 or is over MAX_INPUT long is refused."""
        while True:
            self.stdout.write(prompt)
            self.stdout.flush()
            if self.stdin is None:
                raise EOFError
            try:
                line = read_line(self._stdin_bytes if self._stdin_bytes is not None else self.stdin, MAX_INPUT)
            except UnicodeDecodeError:  # a text stream without a byte buffer underneath
                self.say("  that line is not valid UTF-8 text: please type it again")
                continue
            if not line:
                raise EOFError
            if len(line) > MAX_INPUT:
                self.say(f"  that line is too long (over {MAX_INPUT:,} characters): please type it again")
                continue
            if isinstance(line, bytes):
                try:
                    line = line.decode("utf-8")
                except UnicodeDecodeError:
                    self.say("  that line is not valid UTF-8 text: please type it again")
                    continue
            return line.strip()

    def _roll(self, who: str) -> int:
        if self.dice == "auto":
            return int(roll_dice(self._rng))
        while True:
            text = self._ask(f"roll for {who} (0-{MAX_ROLL}): ")
            roll = parse_number(text)
            if roll is not None and 0 <= roll <= MAX_ROLL:
                return roll
            self.say(f"  please type the number of dice showing their mark, 0 to {MAX_ROLL}")

    def _moves(self) -> list[int]:
        out = np.empty(NUM_PIECES, np.int8)
        return [int(m) for m in out[: legal_moves(self.state, out)]]

    def _human_move(self, moves: list[int]) -> int | None:
        """The person's choice (a slot), or None to quit."""
        for k, slot in enumerate(moves, start=1):
            self.say(f"  {k}) {describe_move(self.state, slot)}")
        while True:
            text = self._ask("your move (number, hint, board, quit): ").lower()
            number = parse_number(text)
            if number is not None and 1 <= number <= len(moves):
                return moves[number - 1]
            if text == "hint":
                decision = self.agent.decide(self.state)
                for k, slot in enumerate(moves, start=1):
                    best = "  <- its choice" if slot == decision.move else ""
                    self.say(
                        f"  {k}) {describe_move(self.state, slot)}: {self.agent.name} scores it "
                        f"{decision.scores[slot]:+.4f}{best}"
                    )
                continue
            if text == "board":
                self.say(render_board(self.state))
                continue
            if text in ("quit", "q", "exit"):
                return None
            self.say(f"  '{shown(text)}' is not a move: type a number from 1 to {len(moves)}, or hint, board, quit")

    def position_line(self) -> str:
        """The current position as a JSON line for `rgou analyze`."""
        s = self.state
        return json.dumps(
            {"p1": s[:7].tolist(), "p2": s[7:14].tolist(), "to_move": int(s[TO_MOVE]), "dice": int(s[DICE])}
        )

    def run(self) -> PlayResult:
        """Play until the game ends, the person quits, the input ends or Ctrl-C."""
        turns = 0
        names = {self.human: "you", 3 - self.human: f"{self.agent.name}"}
        self.say(
            f"You play {MARKS[self.human]} (player {self.human}) against {self.agent.name}; "
            f"player 1 moves first. Dice: {self.dice}."
        )
        try:
            while not is_over(self.state):
                player = int(self.state[TO_MOVE])
                self.say("")
                self.say(render_board(self.state))
                roll = self._roll(names[player])
                self.state[DICE] = roll
                turns += 1
                moves = self._moves()
                self.say(f"{names[player]} ({MARKS[player]}) rolled {roll}")
                if not moves:
                    self.say("  no legal move: the turn passes")
                    pass_turn_inplace(self.state)
                    continue
                if player == self.human:
                    slot = self._human_move(moves)
                    if slot is None:
                        return self._stop("you quit", turns)
                else:
                    decision = self.agent.decide(self.state)
                    slot = decision.move
                    self.say(
                        f"  {self.agent.name} plays {describe_move(self.state, slot)} "
                        f"(its score {decision.scores[slot]:+.4f})"
                    )
                apply_move_inplace(self.state, slot)
        except (EOFError, KeyboardInterrupt):
            return self._stop("game ended before its end", turns)
        won = int(winner(self.state))
        self.say("")
        self.say(render_board(self.state))
        self.say("You win!" if won == self.human else f"{self.agent.name} wins.")
        return PlayResult(won, self.state.copy(), turns)

    def _stop(self, why: str, turns: int) -> PlayResult:
        self.say("")
        self.say(f"{why}; the position so far (for rgou analyze):")
        self.say(self.position_line())
        return PlayResult(0, self.state.copy(), turns)
