"""Game review: how well each player played a recorded game, move by move.

`review_game(record, chances=None)` judges every decision of a `GameRecord` with
`rgou.chances.WinChances` (exact with a solved table, else estimated) and
returns a `GameReview`:

* per decision (a turn with a legal move): the roll, the move played, the
  best move, the mover's winning chance before (with the best move) and after
  the move played, the **loss** in percentage points (before - after, never
  below 0) and a **category** by the loss: ``best`` (at most 0.01 points),
  ``excellent`` (at most 1), ``good`` (2.5), ``inaccuracy`` (5), ``mistake``
  (10), ``blunder`` (more than 10); a decision with one distinct move is an
  ``only move``, whatever it costs;
* per player: the **accuracy**, the mean over the player's decisions other
  than only moves of 100 * 2^(-loss / 2.5): a best move scores 100, a loss
  of 2.5 points 50, of 5 points 25, of 10 points 6.25 (None without such a
  decision); the count of each category, and the three costliest moves;
* player 1's winning chance before the first turn and after every turn
  (`p1_chances`), for the graph of the game.

Turns that pass (a roll of 0, or no legal move) are not decisions; they
move the graph only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from rgou._validate import shown
from rgou.chances import WinChances, p1_chance
from rgou.record import GameRecord, checked_record
from rgou.rules import DEFAULT_RULES, P1, P2
from rgou.specialise import specialise

CATEGORIES = (  # (name, the largest loss in percentage points it takes)
    ("best", 0.01),
    ("excellent", 1.0),
    ("good", 2.5),
    ("inaccuracy", 5.0),
    ("mistake", 10.0),
    ("blunder", math.inf),
)
ONLY_MOVE = "only move"
CATEGORY_NAMES = (*(name for name, _ in CATEGORIES), ONLY_MOVE)
ACCURACY_HALF_LOSS = 2.5  # percentage points: a move losing this much scores 50
COSTLIEST = 3  # moves listed per player to learn from


def category(loss: float, choices: int) -> str:
    """The category of a decision losing `loss` percentage points, with `choices` distinct moves."""
    if choices <= 1:
        return ONLY_MOVE
    return next(name for name, top in CATEGORIES if loss <= top)


def move_accuracy(loss: float) -> float:
    """A decision's accuracy, 0..100: 100 * 2^(-loss / ACCURACY_HALF_LOSS)."""
    return 100.0 * 2.0 ** (-loss / ACCURACY_HALF_LOSS)


@dataclass(frozen=True)
class Decision:
    """One judged decision; chances are the mover's, in [0, 1]; loss in percentage points."""

    turn: int  # 1-based, passes counted
    player: int
    roll: int
    move: int
    move_text: str
    best_move: int
    best_text: str
    chance_before: float
    chance_after: float
    loss: float
    category: str
    choices: int


@dataclass(frozen=True)
class PlayerSummary:
    player: int
    name: str
    accuracy: float | None
    decisions: int
    counts: dict[str, int]
    costliest: list[int]  # turn numbers of the costliest moves, costliest first (only moves and best moves left out)


@dataclass(frozen=True)
class GameReview:
    """The review of one game (`review_game`); `to_json()` is what `rgou review --json` writes."""

    players: tuple[str, str]
    winner: int
    turns: int
    exact: bool
    source: str
    decisions: list[Decision]
    summaries: tuple[PlayerSummary, PlayerSummary]
    p1_chances: list[float]  # before the first turn and after each turn
    rules: str = DEFAULT_RULES  # the game's rule set (the record's)

    def decision(self, turn: int) -> Decision:
        return next(d for d in self.decisions if d.turn == turn)

    def to_json(self) -> dict:
        return {
            "players": list(self.players),
            "rules": self.rules,
            "winner": self.winner,
            "turns": self.turns,
            "exact": self.exact,
            "source": self.source,
            "thresholds": {name: (None if math.isinf(top) else top) for name, top in CATEGORIES},
            "accuracy_half_loss": ACCURACY_HALF_LOSS,
            "summaries": [asdict(s) for s in self.summaries],
            "decisions": [asdict(d) for d in self.decisions],
            "p1_chances": self.p1_chances,
        }


def review_game(record: GameRecord, chances: WinChances | None = None) -> GameReview:
    """Judge every decision of a recorded game (see the module docstring).

    `chances` defaults to `WinChances(rules=record.rules)`: the cache folder's
    solved table of the rule set, else the shipped model's estimates (Finkel).
    """
    if not isinstance(record, GameRecord):
        raise TypeError(f"record must be a GameRecord (rgou.record.read_record(path)), got {shown(record)}")
    record = checked_record(record)  # its turns may have been changed since they were checked
    if chances is None:
        chances = WinChances(rules=record.rules)
    elif not (callable(getattr(chances, "moves", None)) and callable(getattr(chances, "position", None))):
        raise TypeError(f"chances must be a WinChances (or None for the default), got {shown(chances)}")
    judges = getattr(chances, "rules", DEFAULT_RULES)  # a judge that names no rule set judges Finkel games
    if record.rules != judges:
        raise ValueError(f"a game of the {record.rules} rules: these chances judge {judges} games")
    game, describe_move = specialise("rgou.game", record.rules), specialise("rgou.notation", record.rules).describe_move
    decisions: list[Decision] = []
    graph = [chances.position(game.new_state())]
    positions = record.positions()
    afters = positions[1:] + [record.state]  # the pieces after each turn (the next turn's, or the final ones)
    for number, (turn, rolled, after) in enumerate(zip(record.turns, positions, afters), start=1):
        if turn.move is None:  # a pass never ends the game
            graph.append(chances.position(after))
            continue
        judged = chances.moves(rolled)
        chance = judged.after[turn.move]
        loss = max(0.0, 100.0 * (judged.best - chance))
        decisions.append(
            Decision(
                turn=number,
                player=turn.player,
                roll=turn.roll,
                move=turn.move,
                move_text=describe_move(rolled, turn.move),
                best_move=judged.best_move,
                best_text=describe_move(rolled, judged.best_move),
                chance_before=judged.best,
                chance_after=chance,
                loss=loss,
                category=category(loss, judged.choices),
                choices=judged.choices,
            )
        )
        won = int(game.winner(after))
        graph.append(float(won == P1) if won else p1_chance(turn.player, chance))
    summaries = tuple(_summary(player, record.players[player - 1], decisions) for player in (P1, P2))
    return GameReview(
        record.players,
        record.winner,
        len(record.turns),
        chances.exact,
        chances.source,
        decisions,
        summaries,
        graph,
        record.rules,
    )


def _summary(player: int, name: str, decisions: list[Decision]) -> PlayerSummary:
    mine = [d for d in decisions if d.player == player]
    choices = [d for d in mine if d.category != ONLY_MOVE]
    accuracy = sum(move_accuracy(d.loss) for d in choices) / len(choices) if choices else None
    counts = {name: sum(d.category == name for d in mine) for name in CATEGORY_NAMES}
    costly = sorted((d for d in choices if d.category != "best"), key=lambda d: (-d.loss, d.turn))[:COSTLIEST]
    return PlayerSummary(player, name, accuracy, len(mine), counts, [d.turn for d in costly])


def _pct(p: float) -> str:
    return f"{100 * p:.1f}%"


def render_review(review: GameReview, title: str = "the game") -> str:
    """The review as text, as `rgou review` prints it: a summary per player, then every decision."""
    p1, p2 = review.players
    result = f"player {review.winner} won" if review.winner else "not finished"
    title += "" if review.rules == DEFAULT_RULES else f" ({review.rules} rules)"
    lines = [
        f"Review of {title}: {p1} (X, player 1) against {p2} (O, player 2); {result} after {review.turns} turns.",
        "Winning chances: " + ("exact, from " if review.exact else "ESTIMATES, not exact: ") + review.source + ".",
        "",
    ]
    for s in review.summaries:
        accuracy = "no decision with a choice" if s.accuracy is None else f"accuracy {s.accuracy:.1f}"
        counts = ", ".join(f"{s.counts[name]} {name}" for name in CATEGORY_NAMES if s.counts[name])
        lines.append(f"player {s.player} ({s.name}): {accuracy}; {s.decisions} decisions: {counts or 'none'}")
        for turn in s.costliest:
            d = review.decision(turn)
            lines.append(
                f"  turn {d.turn}, roll {d.roll}: played {d.move_text}; best {d.best_text}: "
                f"-{d.loss:.1f} points ({d.category})"
            )
    row = "{:>4}  {:>6}  {:>4}  {:<40}  {:<40}  {:>6}  {:>6}  {:>5}  {}"
    lines += ["", row.format("turn", "player", "roll", "played", "best", "before", "after", "loss", "category")]
    for d in review.decisions:
        best = "" if d.best_move == d.move or d.loss == 0.0 else d.best_text
        lines.append(
            row.format(
                d.turn,
                d.player,
                d.roll,
                d.move_text,
                best,
                _pct(d.chance_before),
                _pct(d.chance_after),
                f"{d.loss:.1f}",
                d.category,
            )
        )
    return "\n".join(lines)


def plot_review(review: GameReview, path: str) -> None:
    """Draw player 1's winning chance through the game into a PNG file, atomically (`review_png`)."""
    from rgou._io import write_together

    write_together({path: review_png(review)})


def review_png(review: GameReview) -> bytes:
    """Player 1's winning chance through the game, mistakes and blunders marked, as PNG bytes (needs
    matplotlib: pip install 'rgou[plot]')."""
    import io

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ValueError("--plot needs matplotlib: pip install 'rgou[plot]'") from None
    fig, ax = plt.subplots(figsize=(9, 3.5))
    turns = list(range(len(review.p1_chances)))
    ax.plot(turns, [100 * p for p in review.p1_chances], color="#1f4e79", lw=1.6)
    ax.axhline(50, color="#999999", lw=0.8, ls="--")
    for d in review.decisions:
        if d.category in ("mistake", "blunder"):
            ax.plot(
                d.turn, 100 * review.p1_chances[d.turn], "o", color="#c0392b" if d.category == "blunder" else "#e67e22"
            )
    ax.set_ylim(0, 100)
    ax.set_xlim(0, max(1, len(turns) - 1))
    ax.set_xlabel("turn")
    ax.set_ylabel("player 1's chance (%)")
    ax.set_title(f"{review.players[0]} vs {review.players[1]}" + ("" if review.exact else " (estimated)"))
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    plt.close(fig)
    return png.getvalue()
