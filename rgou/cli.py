"""Command line: `rgou generate | analyze | convert | ...` (also `python -m rgou ...`).

The one place that prints and exits; library code returns values and raises.
Errors name the option or the file; exit status 2 for bad input, 130 for Ctrl-C.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rgou._version import __version__
from rgou.nn.contract import MAX_SIBLING_WEIGHT
from rgou.playout import MAX_MATCH_GAMES
from rgou.search import MAX_DEPTH
from rgou.targets import GENERATED

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader closed the pipe


# Argument types (errors name the option).


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


def _float_type(low: float, high: float, what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
        return value

    parse.__name__ = what
    return parse


POSITIVE_INT = _int_type(1, what="a positive integer")
SEED = _int_type(0, 2**64 - 1, what="a seed in 0..2**64-1")
DEPTH = _int_type(1, MAX_DEPTH, what=f"a depth in 1..{MAX_DEPTH}")
PROBABILITY = _float_type(0.0, 1.0, "a probability in [0, 1]")
GENERATED_GAMES = _int_type(1, 2**31, what="a number of games in 1..2**31")  # game ids are int32
MATCH_GAMES = _int_type(1, MAX_MATCH_GAMES, what=f"a number of games in 1..{MAX_MATCH_GAMES:,}")


# Output helpers.


def _check_outputs(
    args: argparse.Namespace, outputs: dict[str, Any], inputs: list[tuple[str, Any]], may_exist: tuple[str, ...] = ()
) -> dict[str, Path]:
    """Refuse, before any work, outputs that are inputs, special files, unwritable or existing without --force."""
    from rgou._io import check_outputs

    return check_outputs(outputs, inputs, force=bool(getattr(args, "force", False)), may_exist=may_exist)


def _spec_inputs(option: str, specs: list[str | None]) -> list[tuple[str, Path]]:
    """(option, file) of each file the agent specs read."""
    from rgou.agents import spec_inputs

    return [(option, path) for spec in specs if spec for path in spec_inputs(spec)]


def _progress_enabled(args: argparse.Namespace) -> bool:
    if getattr(args, "quiet", False):
        return False
    return bool(getattr(args, "progress", False)) or sys.stderr.isatty()


class Progress:
    """A tqdm bar on stderr (games/s, ETA), or nothing when disabled."""

    def __init__(self, total: int, unit: str, enabled: bool, desc: str | None = None):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=unit, desc=desc, file=sys.stderr, dynamic_ncols=True, smoothing=0.1)

    def __call__(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _say(enabled: bool) -> Callable[[str], None]:
    """A message callback of the library's long runs: a line on stderr, or nothing when progress is off."""

    def say(text: str) -> None:
        if enabled:
            print(text, file=sys.stderr, flush=True)

    return say


class StageProgress:
    """One bar per stage of a run (progress(stage, done, total)): a new bar when the stage changes."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.stage: str | None = None
        self.bar: Progress | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.close()
            self.stage, self.bar = stage, Progress(total, "games", self.enabled, desc=stage)
        self.bar(done, total)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
            self.stage = None


def _pct(x: float | None) -> str:
    return "n/a" if x is None or x != x else f"{100 * x:.1f}%"


def _params(path: str | None):
    from rgou.heuristic import HeuristicParams

    return HeuristicParams.load(path) if path else HeuristicParams.load()


# Commands.


def _generate_options(args: argparse.Namespace):
    from rgou.selfplay import DATA_FIELDS, GenerateOptions

    return GenerateOptions(**{k: getattr(args, k) for k in DATA_FIELDS}, table=args.table, params=_params(args.params))


def cmd_generate(args: argparse.Namespace) -> int:
    from rgou.selfplay import generate_files

    options = _generate_options(args)
    show = _progress_enabled(args)
    bar = Progress(args.games, "games", show, desc="shards" if args.shards else "generate")
    try:
        run = generate_files(
            options,
            args.out,
            json=args.json,
            shards=args.shards,
            scheduler=args.scheduler,
            threads=args.threads,
            force=args.force,
            progress=bar,
            message=_say(not args.quiet),  # kernels compiling: said even when output goes to a file
            inputs=(("--params", args.params),),
        )
    finally:
        bar.close()
    rate = f"{args.games / max(run.seconds, 1e-9):,.1f} games/s"
    if run.shards is not None:
        print(
            f"wrote {run.shards} shards of {args.games} games ({run.samples} samples) into {run.out} in "
            f"{run.seconds:.1f}s ({rate}); manifest {run.out}/manifest.json"
        )
        return 0 if run.complete else 1
    print(
        f"wrote {run.out}: {run.samples} samples from {args.games} games "
        f"({f'played by {args.agent}' if args.agent else f'depth {args.depth}'}, seed {args.seed}) in "
        f"{run.seconds:.2f}s, {rate}, {run.samples / max(run.seconds, 1e-9):,.0f} samples/s; "
        f"{run.unfinished_games} games cut at {args.max_plies} turns; written in {run.write_seconds:.2f}s"
    )
    if run.json:
        print(f"wrote {run.json}")
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    import json

    from rgou.analysis import Analyzer, analyze_lines, read_lines

    from_stdin = args.input in (None, "-")
    if from_stdin and sys.stdin is None:  # started with standard input closed
        raise ValueError("standard input is closed: give FILE")
    if sys.stdout is None:
        raise ValueError("standard output is closed: nowhere to write the results")
    # bytes line by line, stdin and a file alike: a bad UTF-8 byte spoils only its own line
    source = getattr(sys.stdin, "buffer", sys.stdin) if from_stdin else open(args.input, "rb")  # before the table
    errors = 0
    try:
        table = None
        if args.exact or args.table:
            from rgou.agents import load_perfect_table
            from rgou.solve import load_table

            table = load_table(args.table) if args.table else load_perfect_table()
        if table is not None and table.n_pieces != 7 and (args.depth or args.model):
            raise ValueError(f"a {table.n_pieces}-piece table gives the exact fields only: drop --depth and --model")
        analyzer = Analyzer(args.depth, _params(args.params), args.model, features=not args.no_features,
                            ml_depth=args.ml_depth, table=table)  # fmt: skip
        for result, error in analyze_lines(read_lines(source), analyzer):
            if error is not None:
                errors += 1
                if sys.stderr is not None:  # print(file=None) would write the message into the results
                    print(f"rgou analyze: {error}", file=sys.stderr)
            sys.stdout.write(json.dumps(result, allow_nan=False) + "\n")
    finally:
        if not from_stdin:
            source.close()
    return 1 if errors else 0


def cmd_convert(args: argparse.Namespace) -> int:
    from rgou.weights import convert_file, convert_weights, save_weights

    _check_outputs(args, {"OUT": args.dst}, [("IN", args.src)])
    if args.from_layout != "checkpoint":
        convert_file(args.src, args.dst, args.from_layout, args.to_layout)
        print(f"wrote {args.dst} ({args.from_layout} -> {args.to_layout} layout)")
        return 0
    from rgou.train import checkpoint_weights

    weights = checkpoint_weights(args.src)
    save_weights(args.dst, convert_weights(weights, "rgou", args.to_layout))
    epoch = weights.metadata["best_epoch"]
    print(f"wrote {args.dst}: the best weights of {args.src} (epoch {epoch}), {args.to_layout} layout")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from rgou.train import load_config, resolve_options, train_model
    from rgou.train.options import FLAT_NAMES
    from rgou.train.pipeline import epoch_line

    overrides = {name: getattr(args, name) for name in FLAT_NAMES if hasattr(args, name)}
    if args.no_eval:
        overrides["eval_games"] = 0
    options = resolve_options(args.preset, overrides, load_config(args.config))
    show = _progress_enabled(args)
    stages = StageProgress(show)
    started: list[float] = []

    def on_epoch(record: dict) -> None:
        if not started:
            started.append(time.perf_counter() - record["seconds"])
        if show:
            elapsed = time.perf_counter() - started[0]
            print(epoch_line(record, options.training.epochs, elapsed), file=sys.stderr, flush=True)

    try:
        run = train_model(
            options,
            args.out,
            data=args.data,
            preset=args.preset,
            resume=args.resume,
            force=args.force,
            in_memory=args.in_memory,
            allow_incomplete=args.allow_incomplete,
            threads=args.threads,
            plot=args.plot,
            summary=args.json,
            inputs=(("--config", args.config),),
            on_epoch=on_epoch,
            progress=stages,
            message=_say(not args.quiet),  # kernels compiling: said even when output goes to a file
        )
    finally:
        stages.close()
    if run.interrupted:
        print(f"rgou train: {run.interrupted}", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(run.render())
    return 0


def _write_json(path: str, doc: dict) -> None:
    import json

    from rgou._io import atomic_write

    with atomic_write(path, "w") as fh:
        json.dump(doc, fh, indent=2)
        fh.write("\n")


def cmd_arena(args: argparse.Namespace) -> int:
    from rgou.arena import tournament, tournament_json, win_matrix

    _check_outputs(args, {"--json": args.json}, _spec_inputs("AGENT", args.agents))
    stages = StageProgress(_progress_enabled(args))
    try:
        results = tournament(
            args.agents,
            args.games,
            args.seed,
            threads=args.threads,
            progress=lambda a, b, done, total: stages(f"{a} vs {b}", done, total),
            scheduler=args.scheduler,
        )
    finally:
        stages.close()
    for r in results:
        lo, hi = r.ci95
        print(
            f"{r.a} vs {r.b}: {r.a} wins {r.a_wins}/{r.games} = {_pct(r.a_win_rate)} "
            f"[95% CI {100 * lo:.1f}, {100 * hi:.1f}]; as P1 {_pct(r.a_win_rate_as_p1)}, "
            f"as P2 {_pct(r.a_win_rate_as_p2)}; {r.mean_plies:.1f} plies a game; µs per move: "
            + ", ".join(f"{k} {1000 * v:.1f}" for k, v in r.ms_per_move.items())
            + (f"; {r.unfinished} unfinished" if r.unfinished else "")
        )
    if len(args.agents) > 2:
        matrix = win_matrix(args.agents, results)
        width = max(len(s) for s in args.agents)
        print("\nwin rate of the row against the column:")
        print(" " * (width + 2) + "  ".join(f"{s:>{max(width, 6)}}" for s in args.agents))
        for spec, row in zip(args.agents, matrix):
            cells = ["-" if v is None else _pct(v) for v in row]
            print(f"{spec:<{width}}  " + "  ".join(f"{c:>{max(width, 6)}}" for c in cells))
    if args.json:
        _write_json(args.json, tournament_json(results, args.games, args.seed))
    return 0


def cmd_play(args: argparse.Namespace) -> int:
    from rgou.agents import make_agent
    from rgou.play import PlaySession

    agent = make_agent(args.opponent, seed=args.seed)
    human = 2 if args.second else 1
    result = PlaySession(agent, human=human, seed=args.seed, dice=args.dice).run()
    return 0 if result.winner or not args.strict else 1


def cmd_solve(args: argparse.Namespace) -> int:
    from rgou.solve import default_table_path, load_table, save_table, solve
    from rgou.solve.solver import CHECKPOINT_SUFFIX

    out = Path(args.out) if args.out is not None else default_table_path(args.pieces)
    _check_outputs(args, {"--out": args.out if args.out is not None else out, "--compact": args.compact}, [],
                   may_exist=("--out",))  # fmt: skip
    compact = Path(args.compact) if args.compact is not None else None
    if out.exists() and not args.force:
        if compact is None:
            raise ValueError(
                f"--out {out} exists; pass --force to solve again (an interrupted solve resumes by itself)"
            )
        try:
            table = load_table(out, args.pieces)  # validated: rules, N, checksum
        except ValueError as e:
            raise ValueError(f"--out {e} (--pieces {args.pieces})") from None
        if table.tolerance != args.tolerance:
            print(f"note: {out} was solved to {table.tolerance:g}; --tolerance does not apply to a conversion",
                  file=sys.stderr)  # fmt: skip
        save_table(table, compact, dtype="uint16")
        print(f"wrote {compact}: the 16-bit copy of {out} ({compact.stat().st_size:,} bytes)")
        return 0
    show = _progress_enabled(args)
    last = [0.0]

    def progress(p) -> None:
        now = time.perf_counter()
        if show and (p.done or now - last[0] > 2.0):
            last[0] = now
            state = "resumed" if p.resumed else ("done" if p.done else f"sweep {p.sweep}")
            print(
                f"group {p.group_number}/{p.group_count} {p.group} ({p.group_positions:,} positions): {state}, "
                f"change {p.change:.2e}; {p.positions_done:,}/{p.positions_total:,} positions final, "
                f"{p.elapsed:,.0f} s",
                file=sys.stderr,
                flush=True,
            )

    start = time.perf_counter()
    try:
        table = solve(args.pieces, tolerance=args.tolerance, out=out, progress=progress, threads=args.threads)
    except KeyboardInterrupt:
        partial = out.with_name(out.name + CHECKPOINT_SUFFIX)
        kept = (
            f"the groups solved so far are kept in {partial}: rerun the same command to resume from them"
            if partial.exists()
            else "no group was finished yet, so nothing was kept"
        )
        print(f"rgou solve: interrupted; {kept}", file=sys.stderr)
        return EXIT_INTERRUPTED
    from rgou.game import Position

    opening = ""
    if args.pieces == 7:
        opening = f"; the first player wins {100 * table.win_probability(Position.initial().to_array()):.2f}%"
    print(
        f"wrote {out}: {len(table.values):,} positions of the {args.pieces}-piece game solved to "
        f"{args.tolerance:g} (residual {table.residual:.1e}) in {time.perf_counter() - start:,.1f} s{opening}"
    )
    if compact is not None:
        save_table(table, compact, dtype="uint16")
        print(f"wrote {compact}: its 16-bit copy ({compact.stat().st_size:,} bytes)")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from rgou.evaluate import evaluate_spec

    _check_outputs(args, {"--json": args.json}, [("--table", args.table), *_spec_inputs("AGENT", [args.agent])])
    bar = Progress(args.games, "games", _progress_enabled(args), desc=f"{args.agent} vs perfect")
    try:
        report = evaluate_spec(args.agent, args.games, args.table, seed=args.seed, threads=args.threads, progress=bar)
    finally:
        bar.close()
    print(report.summary())
    if args.json:
        _write_json(args.json, report.to_json())
    return 0


# Parser.


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
        help="the solved 7-piece table of exact targets and of --agent perfect (default: the cache folder's)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rgou", description="Royal Game of Ur engine, expert and trainers.")
    parser.add_argument("--version", action="version", version=f"rgou {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

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
        default="local",
        help="with --shards: 'local' (a LocalCluster on this machine) or a scheduler's address",
    )
    _add_progress(gen)
    gen.set_defaults(func=cmd_generate)

    ana = sub.add_parser("analyze", help="analyse positions given as JSON lines")
    ana.add_argument("input", nargs="?", help="file of JSON lines (default: stdin)")
    ana.add_argument("--depth", type=DEPTH, help="also search the heuristic to this depth: best_move and scores")
    ana.add_argument(
        "--model",
        "--weights",
        dest="model",
        help="weight file or packaged model name (default, upstream): value, policy, ml_scores, ml_move",
    )
    ana.add_argument(
        "--ml-depth",
        type=_int_type(0, MAX_DEPTH - 1, what=f"a depth in 0..{MAX_DEPTH - 1}"),
        default=0,
        help="search depth of the ML agent's scores (default 0)",
    )
    ana.add_argument("--no-features", action="store_true", help="leave out the 150 features")
    ana.add_argument(
        "--exact",
        action="store_true",
        help="add the exact fields from the solved 7-piece table in the cache folder (rgou solve)",
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
        "--patience", type=POSITIVE_INT, help="stop after this many epochs without a better validation loss"
    )
    tr.add_argument("--dropout", type=_float_type(0.0, 0.95, "a dropout rate in [0, 0.95]"), help="dropout rate")
    tr.add_argument("--value-target", help="outcome | search | blend:A | td:L | exact | exact-unrolled")
    tr.add_argument("--policy-loss", choices=("full", "legal"), help="softmax over all slots or the legal ones")
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
    ar.add_argument("--seed", type=SEED, default=0, help="dice seed (default 0)")
    ar.add_argument("--threads", type=POSITIVE_INT, help="threads (default: all cores)")
    ar.add_argument("--json", metavar="FILE", help="write the results as JSON")
    ar.add_argument("--force", action="store_true", help="overwrite an existing --json file")
    ar.add_argument("--scheduler", help="play the games as Dask tasks: 'local' or a scheduler's address")
    _add_progress(ar)
    ar.set_defaults(func=cmd_arena)

    pl = sub.add_parser("play", help="play against an agent in the terminal (or let it advise on a real game)")
    pl.add_argument(
        "--opponent",
        default="ml+",
        help="agent spec (default ml+: the shipped model, its close calls searched one ply deeper)",
    )
    side = pl.add_mutually_exclusive_group()
    side.add_argument("--first", action="store_true", help="play player 1, who moves first (the default)")
    side.add_argument("--second", action="store_true", help="play player 2")
    pl.add_argument("--seed", type=SEED, default=0, help="dice seed (default 0)")
    pl.add_argument(
        "--dice",
        choices=("auto", "manual"),
        default="auto",
        help="auto: rgou rolls; manual: type every roll (advice on a physical board)",
    )
    pl.add_argument("--strict", action="store_true", help=argparse.SUPPRESS)
    pl.set_defaults(func=cmd_play)

    so = sub.add_parser("solve", help="solve the game exactly: every position's chance of winning under perfect play")
    so.add_argument(
        "--pieces",
        type=_int_type(1, 7, what="a number of pieces in 1..7"),
        default=7,
        help="pieces per player (7: the real game; 1-6: smaller variants, solved in seconds to minutes)",
    )
    so.add_argument("--out", help="table file (default: the user's cache folder, e.g. ~/.cache/rgou/finkel-7.table)")
    so.add_argument(
        "--tolerance",
        type=_float_type(1e-12, 1e-3, "a tolerance in [1e-12, 1e-3]"),
        default=1e-7,
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
    ev.add_argument("--table", help="solved 7-piece table (default: the cache folder's)")
    ev.add_argument("--seed", type=SEED, default=0, help="dice seed (default 0)")
    ev.add_argument("--threads", type=POSITIVE_INT, help="threads (default: all cores)")
    ev.add_argument("--json", metavar="FILE", help="write the report as JSON")
    ev.add_argument("--force", action="store_true", help="overwrite an existing --json file")
    _add_progress(ev)
    ev.set_defaults(func=cmd_evaluate)
    return parser


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (kill, timeout, a batch scheduler's stop) ends a command as Ctrl-C does: cleanly."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _silence_stdout() -> None:
    """Point stdout at /dev/null: the interpreter's final flush into a closed pipe would print a traceback."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with _terminate_as_interrupt():
            return args.func(args)
    except BrokenPipeError:  # the reader went away (`rgou analyze ... | head`): stop quietly, as other tools do
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except (ValueError, OSError, OverflowError) as e:
        print(f"rgou {args.command}: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"rgou {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
