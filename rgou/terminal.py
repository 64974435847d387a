"""Play the Royal Game of Ur in a terminal against any agent, or let an agent advise on a real game.

`PlaySession` reads commands from a text stream and writes to another, so a
terminal, a pipe and the tests drive it alike. Each turn shows the board
(square numbers, X = player 1, O = player 2, * = rosette), the roll and the
legal moves by number, named so a person understands them (which piece, from
where to where, a capture, a rosette). Commands at the prompt:

* a move number (1, 2, ...) plays that move (pieces not yet entered are one
  move: entering any of them reaches the same position);
* ``hint`` shows your chance of winning after each move, in percent: exact
  with a solved table (`rgou.chances.WinChances`), else a model's estimate
  (the shipped one's, or the `chances` given), and says which;
* ``board`` shows the board again; ``quit`` ends the game.

With ``dice="manual"`` every roll (the agent's too) is typed in, 0..4, so
rgou can advise on a game played on a physical board; ``quit`` and
``board`` work at that prompt too. Bad input is refused with a hint and the
game goes on; ``quit``, end of input or Ctrl-C stops it cleanly, printing
the position so far as a line that `rgou analyze` reads (its "dice" the
roll; before a roll it has none, and says to add the roll to analyse).
`record` holds the game (`rgou.record`), for `rgou play --save`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TextIO

import numpy as np

from rgou.agents import Agent
from rgou.analysis import read_line
from rgou.chances import WinChances
from rgou.game import engine
from rgou.notation import MARKS
from rgou.record import HUMAN, GameRecord
from rgou.rules import DEFAULT_RULES, MAX_ROLL, P1, P2
from rgou.specialise import specialise

DICE_MODES = ("auto", "manual")


QUIT_WORDS = ("quit", "q", "exit")
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
    """How a session ended: the winner (0: not finished), the final kernel state, turns played, the record."""

    winner: int
    state: np.ndarray
    turns: int
    record: GameRecord


class _Quit(Exception):
    """The person typed quit."""


class PlaySession:
    """One game between a person and an agent, over text streams.

    chances: the judge of hints (`rgou.chances.WinChances`); None builds one
    at the first hint, exact when the cache folder holds a solved table (else
    the shipped model's estimates, Finkel's only). The game is played under
    the agent's rule set; `chances` must judge that rule set.
    """

    def __init__(
        self,
        agent: Agent,
        human: int = P1,
        seed: int = 0,
        dice: str = "auto",
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        chances: WinChances | None = None,
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
        players = (HUMAN, agent.name) if human == P1 else (agent.name, HUMAN)
        self.rules = agent.rules
        self._game = engine(self.rules)
        self._notation = specialise("rgou.notation", self.rules)
        self.record = GameRecord(players, seed if dice == "auto" else None, rules=self.rules)
        if chances is not None and chances.rules != self.rules:
            raise ValueError(f"chances: they judge {chances.rules} games, the agent plays {self.rules}")
        self.chances = chances
        self.state = self.record.state.copy()  # the position shown: the record's, with the roll once rolled

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
            return self.record.seeded_roll()
        while True:
            text = self._ask(f"roll for {who} (0-{MAX_ROLL}, board, quit): ").lower()
            roll = parse_number(text)
            if roll is not None and 0 <= roll <= MAX_ROLL:
                return roll
            if text in QUIT_WORDS:
                raise _Quit
            if text == "board":
                self.say(self._notation.render_board(self.state))
                continue
            self.say(f"  please type the number of dice showing their mark, 0 to {MAX_ROLL} (or board, quit)")

    def _hint(self, moves: list[int]) -> None:
        if self.chances is None:
            try:
                self.chances = WinChances(rules=self.rules)  # the rule set's table, or (Finkel) the model's estimates
            except ValueError as e:
                self.say(f"  no hints: {e}")
                return
        judged = self.chances.moves(self.state)
        self.say(f"  your chance of winning after each move ({self.chances.label}):")
        for k, slot in enumerate(moves, start=1):
            best = "  <- best" if slot == judged.best_move else ""
            self.say(f"  {k}) {self._notation.describe_move(self.state, slot)}: {100 * judged.after[slot]:.1f}%{best}")

    def _human_move(self, moves: list[int]) -> int:
        """The person's choice (a slot); _Quit when they quit."""
        for k, slot in enumerate(moves, start=1):
            self.say(f"  {k}) {self._notation.describe_move(self.state, slot)}")
        while True:
            text = self._ask("your move (number, hint, board, quit): ").lower()
            number = parse_number(text)
            if number is not None and 1 <= number <= len(moves):
                return moves[number - 1]
            if text == "hint":
                self._hint(moves)
                continue
            if text == "board":
                self.say(self._notation.render_board(self.state))
                continue
            if text in QUIT_WORDS:
                raise _Quit
            self.say(f"  '{shown(text)}' is not a move: type a number from 1 to {len(moves)}, or hint, board, quit")

    def position_line(self) -> str:
        """The current position as a JSON line for `rgou analyze` (no "dice" before the roll)."""
        s, game = self.state, self._game
        n = game.NUM_PIECES
        doc = {"p1": s[:n].tolist(), "p2": s[n : 2 * n].tolist(), "to_move": int(s[game.TO_MOVE])}
        if s[game.DICE] or self._rolled:
            doc["dice"] = int(s[game.DICE])
        if self.rules != DEFAULT_RULES:
            doc["rules"] = self.rules
        return json.dumps(doc)

    def run(self) -> PlayResult:
        """Play until the game ends, the person quits, the input ends or Ctrl-C."""
        names = {self.human: "you", 3 - self.human: f"{self.agent.name}"}
        self.say(
            f"You play {MARKS[self.human]} (player {self.human}) against {self.agent.name}; "
            f"player 1 moves first. Dice: {self.dice}."
            + ("" if self.rules == DEFAULT_RULES else f" Rules: {self.rules} (docs/rules.md).")
        )
        self._rolled = False
        try:
            while not self.record.over:
                player = self.record.to_move
                self.say("")
                self.say(self._notation.render_board(self.state))
                roll = self._roll(names[player])
                self.state[self._game.DICE], self._rolled = roll, True
                moves = self._notation.person_moves(self.state)
                self.say(f"{names[player]} ({MARKS[player]}) rolled {roll}")
                if not moves:
                    self.say("  no legal move: the turn passes")
                    slot = None
                elif player == self.human:
                    slot = self._human_move(moves)
                else:
                    slot = self.agent.choose_move(self.state)
                    self.say(f"  {self.agent.name} plays {self._notation.describe_move(self.state, slot)}")
                self.record.add(roll, slot)
                self.state, self._rolled = self.record.state.copy(), False
        except _Quit:
            return self._stop("you quit")
        except (EOFError, KeyboardInterrupt):
            return self._stop("the game stopped before the end")
        won = self.record.winner
        self.say("")
        self.say(self._notation.render_board(self.state))
        self.say("You win!" if won == self.human else f"{self.agent.name} wins.")
        return PlayResult(won, self.state.copy(), len(self.record.turns), self.record)

    def _stop(self, why: str) -> PlayResult:
        self.say("")
        before = "" if self._rolled else f", before player {self.record.to_move}'s roll"
        command = "rgou analyze" + ("" if self.rules == DEFAULT_RULES else f" --rules {self.rules}")
        if not self._rolled:  # analyze reads a rolled position: the roll to analyse is the user's to add
            command += ', with "dice" added'
        self.say(f"{why}; the position so far{before} (for {command}):")
        self.say(self.position_line())
        return PlayResult(0, self.state.copy(), len(self.record.turns), self.record)
