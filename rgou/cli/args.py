"""The parser of every command: argument types whose errors name the option, and the options."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from rgou._version import __version__
from rgou.arena import DEFAULT_SAVED_GAMES, MAX_SAVED_GAMES
from rgou.cli.commands import (
    OTHER_RULES_OPPONENT,
    cmd_analyze,
    cmd_arena,
    cmd_convert,
    cmd_evaluate,
    cmd_generate,
    cmd_play,
    cmd_review,
    cmd_serve,
    cmd_solve,
    cmd_train,
)
from rgou.nn.contract import MAX_SIBLING_WEIGHT
from rgou.playout import MAX_MATCH_GAMES
from rgou.rules import DEFAULT_RULES, RULE_SETS
from rgou.search import MAX_DEPTH
from rgou.targets import GENERATED
from rgou.train.options import INPUT_SCALINGS, MAX_DROPOUT


def _int_type(low: int | None = None, high: int | None = None, what: str = "an integer") -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
        return value

    parse.__name__ = what  # argparse names the type in some messages
    return parse


def _float_type(low: float, high: float, what: str, below_high: bool = False) -> Callable[[str], float]:
    """A parser of a float in [low, high] (in [low, high) with `below_high`)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not low <= value <= high or (below_high and value == high):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
        return value

    parse.__name__ = what
    return parse


def _model(text: str) -> str:
    """A --model: a weight file or a packaged model's name, never empty (that would name the shipped model)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a weight file or a packaged model's name, got ''")
    return text


POSITIVE_INT = _int_type(1, what="a positive integer")
SEED = _int_type(0, 2**64 - 1, what="a seed in 0..2**64-1")
DEPTH = _int_type(1, MAX_DEPTH, what=f"a depth in 1..{MAX_DEPTH}")
PROBABILITY = _float_type(0.0, 1.0, "a probability in [0, 1]")
GENERATED_GAMES = _int_type(1, 2**31, what="a number of games in 1..2**31")  # game ids are int32
MATCH_GAMES = _int_type(1, MAX_MATCH_GAMES, what=f"a number of games in 1..{MAX_MATCH_GAMES:,}")


def _add_rules(parser: argparse.ArgumentParser, what: str, *, agents: bool = True) -> None:
    """--rules; `what` says what it changes (with agents=True: which agents play the other rule sets)."""
    parser.add_argument(
        "--rules",
        type=str.lower,  # a name typed in any case, as rgou.rules.rule_set takes it
        choices=tuple(RULE_SETS),
        default=DEFAULT_RULES,
        help=f"the rule set (default {DEFAULT_RULES}; docs/rules.md)" + (": " if agents else "; ") + what,
    )


def _add_progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--progress", action="store_true", help="show progress even when stderr is not a terminal")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def _add_generation_options(parser: argparse.ArgumentParser, for_train: bool) -> None:
    """The options of the games to generate (GenerateOptions), for rgou generate and rgou train.

    rgou generate takes GenerateOptions' defaults; in rgou train an option
    left out keeps the preset's value (None here).
    """
    from rgou.selfplay import GenerateOptions

    default = GenerateOptions()

    def given(name: str, help: str) -> dict:
        """help and default of an option: GenerateOptions' default, or in train the preset's (None)."""
        if for_train:
            return {"help": f"{help} (default: the preset's, else {getattr(default, name)})"}
        return {"help": f"{help} (default {getattr(default, name)})", "default": getattr(default, name)}

    switch = argparse.BooleanOptionalAction if for_train else "store_true"
    if for_train:
        parser.add_argument("--games", type=GENERATED_GAMES, help="self-play games to generate")
    else:
        parser.add_argument("--games", type=GENERATED_GAMES, required=True, help="number of games")
        parser.add_argument("--seed", type=SEED, **given("seed", "dice seed"))
    parser.add_argument("--depth", type=DEPTH, **given("depth", "expert search depth"))
    parser.add_argument("--epsilon", type=PROBABILITY, **given("epsilon", "probability of a random exploration move"))
    parser.add_argument(
        "--max-plies", type=POSITIVE_INT, **given("max_plies", "cut a game after this many turns, passes included")
    )
    parser.add_argument(
        "--agent", help="play both sides with this agent spec instead of the expert of --depth (e.g. ml-1, perfect)"
    )
    parser.add_argument("--include-passes", action=switch, help="also record passing positions, as value-only samples")
    parser.add_argument(
        "--afterstates",
        action=switch,
        help="record the positions after every distinct move of every decision, each with a fresh roll, "
        "instead of the games' positions (exact value targets only)",
    )
    parser.add_argument(
        "--table",
        help="the rule set's solved table of exact targets and of --agent perfect "
        "(default: the file of --agent perfect:FILE, else the cache folder's)",
    )
    parser.add_argument(
        "--rules",
        type=str.lower,
        choices=tuple(RULE_SETS),
        **given("rules", "the rule set of the games (docs/rules.md); the data and the model record it"),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rgou", description="Royal Game of Ur engine, expert and trainers.")
    parser.add_argument("--version", action="version", version=f"rgou {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    parser.set_defaults(commands=sub.choices)  # each command's own parser, for its errors (`rgou.cli.main`)

    gen = sub.add_parser("generate", help="self-play training data from the expectiminimax expert")
    _add_generation_options(gen, for_train=False)
    gen.add_argument("--out", required=True, help="output .npz dataset (a folder with --shards)")
    gen.add_argument("--json", help="also export the samples as JSON (written together with --out)")
    gen.add_argument("--force", action="store_true", help="overwrite existing output files")
    gen.add_argument("--threads", type=POSITIVE_INT, help="threads (default: all cores)")
    gen.add_argument(
        "--first-game",
        type=_int_type(0, what="a game index >= 0"),
        default=0,
        help="index of the first game: shard a run as --games N --first-game i*N on worker i",
    )
    gen.add_argument("--params", help="heuristic parameter JSON (default: the packaged defaults)")
    gen.add_argument(
        "--value-target",
        choices=GENERATED,
        default="search",
        help="search: the player's score; exact: perfect play's, from a solved table (rgou solve); "
        "exact-unrolled: the same, of the pieces before the roll",
    )
    gen.add_argument(
        "--shards",
        type=POSITIVE_INT,
        help="split the games into this many shards, run as Dask tasks; --out is then a folder",
    )
    gen.add_argument(
        "--scheduler",
        help="with --shards: 'local' (a LocalCluster on this machine; the default) or a scheduler's address",
    )
    _add_progress(gen)
    gen.set_defaults(func=cmd_generate)

    ana = sub.add_parser("analyze", help="analyse positions given as JSON lines")
    ana.add_argument("input", nargs="?", help="file of JSON lines (default: stdin)")
    ana.add_argument("--depth", type=DEPTH, help="also search the heuristic to this depth: best_move and scores")
    _add_rules(ana, "the positions' rule set: its features; --exact and --table read its table, --model must be its")
    ana.add_argument(
        "--model",
        "--weights",
        dest="model",
        type=_model,
        help="weight file or packaged model name (default, upstream): value, policy, ml_scores, ml_move",
    )
    ana.add_argument(
        "--ml-depth",
        type=_int_type(0, MAX_DEPTH - 1, what=f"a depth in 0..{MAX_DEPTH - 1}"),
        help="search depth of the ML agent's scores, with --model (default 0)",
    )
    ana.add_argument("--no-features", action="store_true", help="leave out the 150 features")
    ana.add_argument(
        "--exact",
        action="store_true",
        help="add the exact fields from the rule set's solved table in the cache folder (rgou solve [--rules NAME])",
    )
    ana.add_argument("--table", help="add the exact fields from this solved table (N pieces: N-square positions)")
    ana.add_argument("--params", help="heuristic parameter JSON")
    ana.set_defaults(func=cmd_analyze)

    conv = sub.add_parser(
        "convert", help="convert a weight file between torch and rgou layouts, or a training checkpoint to one"
    )
    conv.add_argument("src")
    conv.add_argument("dst")
    conv.add_argument(
        "--from",
        dest="from_layout",
        choices=("torch", "rgou", "checkpoint"),
        required=True,
        help="checkpoint: a run's NAME.ckpt.npz, whose best weights so far are written (a run that was killed)",
    )
    conv.add_argument("--to", dest="to_layout", choices=("torch", "rgou"), required=True)
    conv.add_argument("--force", action="store_true", help="overwrite an existing destination")
    conv.set_defaults(func=cmd_convert)

    tr = sub.add_parser("train", help="generate data (or read it), train both networks, check their strength")
    tr.add_argument("--preset", help="a preset of the training config (quick, standard, production, strong)")
    tr.add_argument("--config", help="training config JSON (default: the packaged one)")
    tr.add_argument(
        "--data",
        nargs="+",
        metavar="FILE",
        help="train on these .npz datasets or shards (globs allowed) or a JSON export instead of generating data",
    )
    tr.add_argument(
        "--in-memory",
        action="store_true",
        help="load shards into memory instead of streaming them (td targets need it)",
    )
    tr.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="train on the shards of a --shards run that did not finish (refused by default)",
    )
    tr.add_argument(
        "--shuffle-buffer",
        type=POSITIVE_INT,
        help="samples in the shuffle buffer when streaming shards (default 1048576)",
    )
    tr.add_argument("--backend", choices=("numba", "jax"), help="trainer (default numba)")
    _add_generation_options(tr, for_train=True)
    tr.add_argument("--epochs", type=POSITIVE_INT, help="maximum epochs")
    tr.add_argument(
        "--learning-rate",
        "--lr",
        dest="learning_rate",
        type=_float_type(1e-9, 0.999, "a learning rate in (0, 1)"),
        help="Adam learning rate",
    )
    tr.add_argument(
        "--lr-decay",
        type=_float_type(0.01, 1.0, "a factor in [0.01, 1]"),
        help="multiply the learning rate by this after every epoch (default 1: constant)",
    )
    tr.add_argument(
        "--average-decay",
        type=_float_type(0.0, 1.0, "a decay in [0, 1)", below_high=True),
        metavar="D",
        help="validate, keep and write a moving average of the weights, decaying by D a step "
        "(e.g. 0.9999; default 0: the weights themselves)",
    )
    tr.add_argument(
        "--sibling-weight",
        type=_float_type(0.0, MAX_SIBLING_WEIGHT, f"a weight in [0, {MAX_SIBLING_WEIGHT:g}]"),
        metavar="BETA",
        help="add BETA times the sibling term to the value loss: the errors of the positions after one "
        "decision's moves, less their mean (afterstate data; default 0: plain MSE)",
    )
    tr.add_argument("--batch-size", type=POSITIVE_INT, help="minibatch size")
    tr.add_argument(
        "--validation-split",
        type=_float_type(0.0, 0.9, "a fraction in [0, 0.9]"),
        help="share of the games held out for validation",
    )
    tr.add_argument(
        "--patience",
        type=POSITIVE_INT,
        help="stop after this many epochs in which neither network's validation loss improved",
    )
    tr.add_argument(
        "--dropout", type=_float_type(0.0, MAX_DROPOUT, f"a dropout rate in [0, {MAX_DROPOUT}]"), help="dropout rate"
    )
    tr.add_argument("--value-target", help="outcome | search | blend:A | td:L | exact | exact-unrolled")
    tr.add_argument("--policy-loss", choices=("full", "legal"), help="softmax over all slots or the legal ones")
    tr.add_argument(
        "--input-scaling",
        choices=INPUT_SCALINGS,
        help="standard: train the first layer as if every feature had mean 0 and variance 1 over the training rows "
        "(the model still reads the features as they are); default none",
    )
    tr.add_argument("--seed", type=_int_type(0, 2**32 - 1, what="a seed in 0..2**32-1"), help="seed of everything")
    tr.add_argument("--init", metavar="MODEL", help="start from this model (file or packaged name)")
    tr.add_argument(
        "--td-warmup",
        type=_int_type(0, what="a number of epochs >= 0"),
        help="with --value-target td:L, train the first epochs on the outcome",
    )
    tr.add_argument(
        "--out",
        help="output weight file (default: a new run folder runs/PRESET-N/ with weights, summary and curves)",
    )
    tr.add_argument("--force", action="store_true", help="overwrite an existing output file")
    tr.add_argument(
        "--resume",
        action="store_true",
        help="continue from the checkpoint beside --out (without --out: the newest run folder's)",
    )
    tr.add_argument(
        "--eval-games",
        type=_int_type(0, what="a number of games >= 0"),
        help="games per opponent in the strength check",
    )
    tr.add_argument("--no-eval", action="store_true", help="skip the strength check")
    tr.add_argument("--threads", type=POSITIVE_INT, help="threads for generation and the strength check")
    tr.add_argument("--plot", metavar="FILE.png", help="save loss and accuracy curves (needs matplotlib)")
    tr.add_argument("--json", metavar="FILE", help="also write the summary as JSON")
    _add_progress(tr)
    tr.set_defaults(func=cmd_train)

    ar = sub.add_parser("arena", help="play agents against each other: win rates with 95%% intervals")
    ar.add_argument(
        "agents",
        nargs="+",
        metavar="AGENT",
        help="agent specs: random, heuristic, emm-N, ml, ml-D, ml+ (close calls searched deeper), "
        "ml[-D][+]:MODEL[:MODE], perfect[:TABLE]",
    )
    ar.add_argument("--games", type=MATCH_GAMES, default=1000, help="games per pair (default 1000)")
    _add_rules(ar, "every agent plays every rule set; an ml agent's model must be one of the rule set")
    ar.add_argument("--seed", type=SEED, default=0, help="dice seed (default 0)")
    ar.add_argument("--threads", type=POSITIVE_INT, help="threads (default: all cores)")
    ar.add_argument("--json", metavar="FILE", help="write the results as JSON")
    ar.add_argument("--force", action="store_true", help="overwrite an existing --json file")
    ar.add_argument("--scheduler", help="play the games as Dask tasks: 'local' or a scheduler's address")
    ar.add_argument(
        "--save-games",
        metavar="DIR",
        help="write the first games of each pair as game records (rgou review reads them)",
    )
    ar.add_argument(
        "--save-count",
        type=_int_type(1, MAX_SAVED_GAMES, what=f"a number of games in 1..{MAX_SAVED_GAMES}"),
        help=f"games saved per pair with --save-games (default {DEFAULT_SAVED_GAMES})",
    )
    _add_progress(ar)
    ar.set_defaults(func=cmd_arena)

    pl = sub.add_parser("play", help="play against an agent in the terminal (or let it advise on a real game)")
    pl.add_argument(
        "--opponent",
        help="agent spec (default ml+: the shipped model, its close calls searched one ply deeper; "
        f"under other --rules {OTHER_RULES_OPPONENT})",
    )
    side = pl.add_mutually_exclusive_group()
    side.add_argument("--first", action="store_true", help="play player 1, who moves first (the default)")
    side.add_argument("--second", action="store_true", help="play player 2")
    pl.add_argument("--seed", type=SEED, default=0, help="dice seed (default 0)")
    _add_rules(pl, "against random, heuristic, emm-N or perfect under the other rule sets")
    pl.add_argument(
        "--dice",
        choices=("auto", "manual"),
        default="auto",
        help="auto: rgou rolls; manual: type every roll (advice on a physical board)",
    )
    pl.add_argument("--save", metavar="FILE", help="write the game record here when the game ends or stops")
    pl.add_argument("--table", help="the rule set's solved table for exact hints (default: the cache folder's, if any)")
    pl.add_argument(
        "--model",
        type=_model,
        help="weight file or packaged model name, trained for --rules: the ml agents play it (default opponent ml+) "
        "and, without a solved table, it estimates the hints (default: the shipped model, finkel's)",
    )
    pl.add_argument("--force", action="store_true", help="overwrite an existing --save file")
    pl.add_argument("--strict", action="store_true", help=argparse.SUPPRESS)
    pl.set_defaults(func=cmd_play)

    rv = sub.add_parser("review", help="review a recorded game: accuracy, categories, the winning chance move by move")
    rv.add_argument(
        "game", metavar="GAME.json", help="a game record (rgou play --save, rgou serve, arena --save-games)"
    )
    rv.add_argument("--table", help="solved table of the game's rule set (default: the cache folder's; "
                    "without one, a model's estimates: --model, or the shipped model for finkel)")  # fmt: skip
    rv.add_argument("--model", type=_model, help="weight file or packaged model name: without a solved table, the "
                    "model whose estimates judge the game (default: the shipped model, finkel's; other rule sets "
                    "need one trained for them)")  # fmt: skip
    rv.add_argument("--plot", metavar="FILE.png", help="draw player 1's winning chance through the game (matplotlib)")
    rv.add_argument("--json", metavar="FILE", help="write the whole review as JSON ('-': standard output)")
    rv.add_argument("--force", action="store_true", help="overwrite existing --plot or --json files")
    rv.set_defaults(func=cmd_review)

    sv = sub.add_parser("serve", help="play, get hints and review games in the browser (a local web app)")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    sv.add_argument("--port", type=_int_type(0, 65535, what="a port in 0..65535"), default=8000,
                    help="port (default 8000; 0: any free port)")  # fmt: skip
    sv.add_argument("--table", help="solved table of the rule set's game: the perfect agent, exact hints and "
                    "reviews (default: the cache folder's, if any)")  # fmt: skip
    _add_rules(sv, "random, heuristic, emm-N and perfect under the other rule sets, and with --model the ml agents")
    sv.add_argument("--model", type=_model, help="weight file or packaged model name, trained for --rules: the ml "
                    "agents play it and, without a solved table, it estimates hints and reviews (default: the "
                    "shipped model, finkel's)")  # fmt: skip
    sv.set_defaults(func=cmd_serve)

    so = sub.add_parser("solve", help="solve the game exactly: every position's chance of winning under perfect play")
    so.add_argument(
        "--pieces",
        type=_int_type(1, 7, what="a number of pieces in 1..7"),
        help="pieces per player, 1..7 (default: the rule set's, 7 for Finkel and Masters, 5 for Blitz and Aseb; "
        "other counts are variants on the same board)",
    )
    _add_rules(so, "the solver's kernels are compiled for it and the table records it", agents=False)
    so.add_argument(
        "--out",
        help="table file (default: the user's cache folder, e.g. ~/.cache/rgou/finkel-7.table or masters-7.table)",
    )
    so.add_argument(
        "--tolerance",
        type=_float_type(1e-12, 1e-3, "a tolerance in [1e-12, 1e-3]"),
        help="sweep each group until no value changes by this much (default 1e-7)",
    )
    so.add_argument("--threads", type=POSITIVE_INT, help="threads (default: all cores)")
    so.add_argument("--force", action="store_true", help="solve again over an existing table")
    so.add_argument(
        "--compact",
        metavar="FILE",
        help="also write a 16-bit copy (half the size, values within 7.7e-6) for distribution; "
        "with an existing --out table, only convert it",
    )
    _add_progress(so)
    so.set_defaults(func=cmd_solve)

    ev = sub.add_parser("evaluate", help="measure an agent exactly: its loss in winning chance per decision")
    ev.add_argument("agent", help="agent spec")
    ev.add_argument("--games", type=MATCH_GAMES, default=200, help="games against the perfect agent (default 200)")
    ev.add_argument("--table", help="solved table of the rule set's real game (default: the cache folder's)")
    _add_rules(ev, "the agent and the perfect agent play it, from its solved table", agents=False)
    ev.add_argument("--seed", type=SEED, default=0, help="dice seed (default 0)")
    ev.add_argument("--threads", type=POSITIVE_INT, help="threads (default: all cores)")
    ev.add_argument("--json", metavar="FILE", help="write the report as JSON")
    ev.add_argument("--force", action="store_true", help="overwrite an existing --json file")
    _add_progress(ev)
    ev.set_defaults(func=cmd_evaluate)
    return parser
