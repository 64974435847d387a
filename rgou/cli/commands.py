"""One function per command: it calls the command's library entry and prints around it."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rgou._io import deferred_interrupts, write_together
from rgou.cli import EXIT_INTERRUPTED
from rgou.rules import DEFAULT_RULES, OTHER_RULES_DEPTH, RULE_SETS

OTHER_RULES_OPPONENT = f"expectiminimax-{OTHER_RULES_DEPTH}"  # rgou play's default opponent off Finkel


# Output helpers.


def _check_outputs(
    args: argparse.Namespace,
    outputs: dict[str, Any],
    inputs: list[tuple[str, Any]],
    may_exist: tuple[str, ...] = (),
    tables: tuple[str, ...] = (),
) -> dict[str, Path]:
    """Refuse, before any work, outputs that are inputs, special files, unwritable or existing without --force."""
    from rgou._io import check_outputs

    return check_outputs(outputs, inputs, force=bool(getattr(args, "force", False)), may_exist=may_exist, tables=tables)


def _spec_inputs(option: str, specs: list[str | None]) -> list[tuple[str, Path]]:
    """(option, file) of each file the agent specs read."""
    from rgou.agents import spec_inputs

    return [(option, path) for spec in specs if spec for path in spec_inputs(spec)]


def _progress_enabled(args: argparse.Namespace) -> bool:
    if getattr(args, "quiet", False):
        return False
    return bool(getattr(args, "progress", False)) or sys.stderr.isatty()


class Progress:
    """A tqdm bar on stderr (games/s, ETA), or nothing when disabled.

    The bar opens at the first report of the work itself: not before the kernels load (its line would run
    into their note, and its rate would count the load).
    """

    def __init__(self, total: int, unit: str, enabled: bool, desc: str | None = None):
        self.bar = None
        self.enabled, self.unit, self.desc = enabled, unit, desc

    def __call__(self, done: int, total: int) -> None:
        if self.enabled and self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total, unit=self.unit, desc=self.desc, file=sys.stderr, dynamic_ncols=True, smoothing=0.1
            )
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


STAGE_UNITS = {"solve": "positions"}  # what a stage's bar counts, when not games


class StageProgress:
    """One bar per stage of a run (progress(stage, done, total)): a new bar when the stage changes."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.stage: str | None = None
        self.bar: Progress | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.close()
            unit = STAGE_UNITS.get(stage, "games")
            self.stage, self.bar = stage, Progress(total, unit, self.enabled, desc=stage)
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

    if args.scheduler is not None and not args.shards:  # it was run here, the address unused, without a word
        raise ValueError("--scheduler needs --shards: the games are split into shards to run on the scheduler")
    options = _generate_options(args)
    show = _progress_enabled(args)
    bar = Progress(args.games, "games", show, desc="shards" if args.shards else "generate")
    try:
        run = generate_files(
            options,
            args.out,
            json=args.json,
            shards=args.shards,
            scheduler=args.scheduler or "local",
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
        f"({f'played by {args.agent}' if args.agent else f'depth {args.depth}'}, seed {args.seed}"
        f"{'' if args.rules == DEFAULT_RULES else f', {args.rules} rules'}) in "
        f"{run.seconds:.2f}s, {rate}, {run.samples / max(run.seconds, 1e-9):,.0f} samples/s; "
        f"{run.unfinished_games} games cut at {args.max_plies} turns; written in {run.write_seconds:.2f}s"
    )
    if run.json:
        print(f"wrote {run.json}")
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    import json

    from rgou.analysis import Analyzer, analyze_lines, read_lines
    from rgou.models import ModelError

    if args.ml_depth is not None and args.model is None:
        raise ValueError("--ml-depth is the search depth of the ML agent's scores: give --model too")
    if args.exact and args.table:
        raise ValueError("--exact reads the cache folder's solved table and --table names one: give one of them")
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
            from rgou.solve import load_perfect_table, load_table

            table = load_table(args.table, rules=args.rules) if args.table else load_perfect_table(rules=args.rules)
        if table is not None and table.n_pieces != RULE_SETS[args.rules].pieces and (args.depth or args.model):
            raise ValueError(f"a {table.n_pieces}-piece table gives the exact fields only: drop --depth and --model")
        try:
            analyzer = Analyzer(args.depth, _params(args.params), args.model, features=not args.no_features,
                                ml_depth=args.ml_depth or 0, table=table, rules=args.rules)  # fmt: skip
        except ModelError as e:
            raise ValueError(f"--model: {e}") from None
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
    from rgou.train.pipeline import best_epochs

    epochs = best_epochs(weights.metadata["best_value_epoch"], weights.metadata["best_policy_epoch"])
    print(f"wrote {args.dst}: the best weights of {args.src} ({epochs}), {args.to_layout} layout")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from rgou.train import load_config, resolve_options, train_model
    from rgou.train.options import FLAT_NAMES
    from rgou.train.pipeline import ReportsNotWritten, epoch_line

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
    except ReportsNotWritten as e:  # what the run did, then the error
        print(e.run.render())
        raise
    finally:
        stages.close()
    if run.interrupted:
        print(f"rgou train: {run.interrupted}", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(run.render())
    return 0


def _write_json(path: str, doc: dict) -> None:
    write_together({path: _json_text(doc)})


def _json_text(doc: dict) -> str:
    import json

    return json.dumps(doc, indent=2) + "\n"


def cmd_arena(args: argparse.Namespace) -> int:
    from rgou.arena import tournament, tournament_json, win_matrix

    saved = _saved_game_files(args)
    outputs = {"--json": args.json, **{f"--save-games ({p.name})": p for ps in saved.values() for p in ps}}
    _check_outputs(args, outputs, _spec_inputs("AGENT", args.agents))
    stages = StageProgress(_progress_enabled(args))
    try:
        results = tournament(
            args.agents,
            args.games,
            args.seed,
            threads=args.threads,
            progress=lambda a, b, done, total: stages(f"{a} vs {b}", done, total),
            scheduler=args.scheduler,
            rules=args.rules,
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
    records = _saved_records(args, saved)  # played again before any write: a Ctrl-C here writes nothing
    summary = {args.json: _json_text(tournament_json(results, args.games, args.seed, args.rules))} if args.json else {}
    write_together({**summary, **records})  # the summary and the games, all of them or none
    if records:
        print(f"wrote {len(records)} game records to {args.save_games} (rgou review reads them)")
    return 0


def _saved_game_files(args: argparse.Namespace) -> dict[tuple[int, int], list[Path]]:
    """The files `arena --save-games DIR` writes, per pair of agents (their indices): A-vs-B-0001.json, ..."""
    import itertools
    import re

    from rgou.arena import DEFAULT_SAVED_GAMES

    if not args.save_games:
        if args.save_count is not None:
            raise ValueError("--save-count counts the games --save-games writes: give --save-games DIR too")
        return {}
    if args.save_games == "-":
        raise ValueError("--save-games -: standard output is not a folder; give a folder name")
    folder = Path(args.save_games)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--save-games {folder}: not a folder")
    count = min(args.save_count or DEFAULT_SAVED_GAMES, args.games)
    safe = [re.sub(r"[^A-Za-z0-9+.=-]", "_", spec) for spec in args.agents]
    files = {
        (i, j): [folder / f"{safe[i]}-vs-{safe[j]}-{k:04d}.json" for k in range(1, count + 1)]
        for i, j in itertools.combinations(range(len(args.agents)), 2)
    }
    names = [f for fs in files.values() for f in fs]
    if len(set(names)) < len(names):
        raise ValueError("--save-games: two agent specs give the same file names; name the agents differently")
    return files


def _saved_records(args: argparse.Namespace, files: dict[tuple[int, int], list[Path]]) -> dict[Path, str]:
    """{file: its JSON text} of the games `--save-games` keeps: the first games of each pair, played again."""
    from rgou.agents import make_agent
    from rgou.arena import match_records
    from rgou.record import checked_record, record_text

    records = {}
    for (i, j), paths in files.items():
        a, b = (make_agent(args.agents[k], seed=args.seed, rules=args.rules) for k in (i, j))
        games = match_records(a, b, len(paths), args.seed, threads=args.threads)
        records.update({path: record_text(checked_record(game)) for game, path in zip(games, paths, strict=True)})
    return records


def cmd_play(args: argparse.Namespace) -> int:
    from rgou.agents import make_agent, ml_spec
    from rgou.chances import WinChances
    from rgou.models import ModelError
    from rgou.record import write_record
    from rgou.terminal import PlaySession

    model_spec = [f"ml:{args.model}"] if args.model is not None else []
    has_model = args.model is not None or args.rules == DEFAULT_RULES
    opponent = ml_spec(args.opponent or ("ml+" if has_model else OTHER_RULES_OPPONENT), args.model)
    inputs = [("--table", args.table), *_spec_inputs("--model", model_spec), *_spec_inputs("--opponent", [opponent])]
    _check_outputs(args, {"--save": args.save}, inputs)
    chances = None
    if args.table is not None or args.model is not None:
        try:
            chances = WinChances(args.table, rules=args.rules, model=args.model)  # checks --model first
        except ModelError as e:
            raise ValueError(f"--model: {e}") from None
        except ValueError as e:
            raise ValueError(f"--table: {e}" if args.table is not None else str(e)) from None
    agent = make_agent(opponent, seed=args.seed, rules=args.rules)
    human = 2 if args.second else 1
    result = PlaySession(agent, human=human, seed=args.seed, dice=args.dice, chances=chances).run()
    if args.save:
        with deferred_interrupts():  # a second Ctrl-C after the one that ended the game: the record is written
            write_record(result.record, args.save)
        print(f"wrote {args.save}: the game record ({len(result.record.turns)} turns; rgou review reads it)")
    return 0 if result.winner or not args.strict else 1


def cmd_review(args: argparse.Namespace) -> int:
    import json

    from rgou.chances import WinChances
    from rgou.models import ModelError, ModelRulesError
    from rgou.record import read_record
    from rgou.review import render_review, review_game, review_png

    to_stdout = args.json == "-"
    outputs = {"--plot": args.plot, "--json": None if to_stdout else args.json}
    model_spec = [f"ml:{args.model}"] if args.model is not None else []
    inputs = [("GAME.json", args.game), ("--table", args.table), *_spec_inputs("--model", model_spec)]
    _check_outputs(args, outputs, inputs)
    record = read_record(args.game)
    try:
        chances = WinChances(args.table, rules=record.rules, model=args.model)  # the record's rule set: its table
    except ModelRulesError as e:  # the record's rule set is what the model must play
        raise ValueError(f"{args.game}: a game of the {record.rules} rules: --model: {e}") from None
    except ModelError as e:
        raise ValueError(f"--model: {e}") from None
    except ValueError as e:
        raise ValueError(f"{args.game}: a game of the {record.rules} rules: {e}") from None
    review = review_game(record, chances)
    if to_stdout:
        print(json.dumps(review.to_json(), indent=2))
    else:
        print(render_review(review, args.game))
    files: dict[str, str | bytes] = {}
    if args.json and not to_stdout:
        files[args.json] = _json_text(review.to_json())
    if args.plot:
        files[args.plot] = review_png(review)
    write_together(files)  # the JSON and the plot of one review, both or none
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from rgou.web.server import serve

    serve(args.host, args.port, table=args.table, rules=args.rules, model=args.model)
    return 0


def cmd_solve(args: argparse.Namespace) -> int:
    from rgou.solve import (
        DEFAULT_TOLERANCE,
        InterruptedAfterWriting,
        check_table_file,
        default_table_path,
        load_table,
        make_state,
        save_table,
        solve,
        warm_up_solver,
    )
    from rgou.solve.checkpoint import interrupted_note

    rules = RULE_SETS[args.rules]
    pieces = rules.pieces if args.pieces is None else args.pieces
    game = f"{pieces}-piece {rules.name}" if rules.name != DEFAULT_RULES else f"{pieces}-piece"
    out = Path(args.out) if args.out is not None else default_table_path(pieces, rules)
    out_name = "--out" if args.out is not None else "the table's file (the cache folder's, without --out)"
    outputs = {out_name: args.out if args.out is not None else out, "--compact": args.compact}  # "" as given
    _check_outputs(args, outputs, [], may_exist=(out_name,), tables=(out_name, "--compact"))
    compact = Path(args.compact) if args.compact is not None else None
    if out.exists() and not args.force:
        if compact is None:
            try:
                check_table_file(out, pieces, rules)  # its header: a compact table is not decoded
            except ValueError as e:
                raise ValueError(f"{out_name}: {e}; pass --force to solve again and replace it") from None
            raise ValueError(
                f"{out} is solved already; pass --force to solve again (an interrupted solve resumes by itself)"
            )
        try:
            table = load_table(out, pieces, rules=rules)  # validated: rules, N, checksum
        except ValueError as e:
            raise ValueError(f"{out_name}: {e} (--pieces {pieces}, --rules {rules.name})") from None
        if args.tolerance is not None and table.tolerance != args.tolerance:
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
        warm_up_solver(rules, _say(show))
        tolerance = DEFAULT_TOLERANCE if args.tolerance is None else args.tolerance
        table = solve(pieces, tolerance=tolerance, out=out, progress=progress, threads=args.threads, rules=rules)
    except InterruptedAfterWriting as e:
        print(f"rgou solve: interrupted; {e}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        kept = interrupted_note(out, "rerun the same command to resume from them")
        print(f"rgou solve: interrupted; {kept}", file=sys.stderr)
        return EXIT_INTERRUPTED
    opening = table.win_probability(make_state([-1] * pieces, [-1] * pieces, rules=rules))
    print(
        f"wrote {out}: {len(table.values):,} positions of the {game} game solved to {tolerance:g} "
        f"(residual {table.residual:.1e}) in {time.perf_counter() - start:,.1f} s; "
        f"the first player wins {100 * opening:.2f}% (opening value {opening:.7f})"
    )
    if compact is not None:
        try:
            save_table(table, compact, dtype="uint16")
        except KeyboardInterrupt:
            print(f"rgou solve: interrupted; the table is written ({out}), its 16-bit copy is not", file=sys.stderr)
            return EXIT_INTERRUPTED
        print(f"wrote {compact}: its 16-bit copy ({compact.stat().st_size:,} bytes)")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from rgou.evaluate import evaluate_spec

    _check_outputs(args, {"--json": args.json}, [("--table", args.table), *_spec_inputs("AGENT", [args.agent])])
    bar = Progress(args.games, "games", _progress_enabled(args), desc=f"{args.agent} vs perfect")
    try:
        report = evaluate_spec(
            args.agent, args.games, args.table, seed=args.seed, threads=args.threads, progress=bar, rules=args.rules
        )
    finally:
        bar.close()
    print(report.summary())
    if args.json:
        _write_json(args.json, report.to_json())
    return 0
