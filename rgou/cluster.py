"""Sharded self-play data and sharded matches on Dask (the optional extra `cluster`).

Nothing here is home-made distribution: shards are Dask tasks on a
`dask.distributed` cluster, a `LocalCluster` on this machine (`scheduler=
"local"`) or a running scheduler's address. Shards are seed-determined game
ranges: shard i of K plays games [start_i, start_i + n_i) of the run, and game
k of a run always rolls dice stream k, so the union of the shards is bit for
bit one single-machine run with the same seed, whatever K and the number of
workers.

`generate_shards` writes one .npz dataset per shard into a folder plus a
`manifest.json` (`rgou.manifest`: the run's options, and per shard its file,
game range, sample count and SHA-256), updated atomically as shards finish. A rerun
verifies the listed shards' checksums and generates only the missing or
damaged ones; Dask retries a failed or lost task. `match_sharded` plays a
match's games in chunks of paired games and returns the same `PairResult` as
`rgou.arena.match`. Workers must be able to write the output folder (on
several machines: a shared file system).
"""

from __future__ import annotations

import gc
import hashlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from rgou._random import MAX_SEED
from rgou._validate import check_callback, check_int, shown
from rgou.manifest import (
    MANIFEST,
    MANIFEST_FORMAT,
    Shard,
    file_sha256,
    read_manifest,
    verified_shards,
    write_manifest,
)
from rgou.rules import DEFAULT_RULES
from rgou.selfplay import DATA_FIELDS, GenerateOptions

TASK_RETRIES = 2
SHARD_COUNT = "shard_count"
# A manifest's run: the generation options that decide the samples, and the shard count.
RUN_FIELDS = (*DATA_FIELDS, SHARD_COUNT)
# What a manifest written before a field existed means by its absence.
RUN_DEFAULTS = {"agent": None, "value_target": "search", "afterstates": False, "rules": DEFAULT_RULES}


def _dask():
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as e:
        raise ValueError(f"--scheduler and --shards need Dask: pip install 'rgou[cluster]' ({e})") from None
    return Client, LocalCluster, as_completed


class ClusterError(OSError):
    """The Dask cluster failed under a run (its scheduler lost, a worker killed again and again), not the input."""


def _result(future: Any, kept: str) -> Any:
    """`future.result()`, with the cluster's own failures as one ClusterError that says what is `kept`: they
    ended a run in a traceback of Dask's (a scheduler that went away cancels every task)."""
    from concurrent.futures import CancelledError  # Dask's FutureCancelledError is one

    from distributed.comm.core import CommClosedError
    from distributed.scheduler import KilledWorker

    try:
        return future.result()
    except (CancelledError, KilledWorker, CommClosedError) as e:
        raise ClusterError(f"the Dask cluster failed ({type(e).__name__}: {e}); {kept}") from None


@contextmanager
def _sigint_held() -> Iterator[None]:
    """Start processes that never see the terminal's Ctrl-C.

    SIGINT is ignored during the block: processes started then inherit that,
    across exec. It is also blocked in this thread, which keeps a press
    pending only if the kernel picks this thread for it; Dask's threads and
    workers do not inherit the mask (measured), so a press while they start
    is most often lost (the docs ask for a second press).
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def connect(scheduler: str, workers: int | None = None):
    """A Dask client: `local` starts a LocalCluster (one single-threaded process per core), else an address.

    The local workers start with Ctrl-C blocked: the terminal's Ctrl-C reaches
    this process only, which closes them (no traceback from every worker).
    """
    Client, LocalCluster, _ = _dask()
    if scheduler == "local":
        n = workers or os.cpu_count() or 1
        client = None
        try:
            with _sigint_held():
                cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
                client = Client(cluster)
        except KeyboardInterrupt:
            if client is not None:
                close_client(client)
            elif "cluster" in locals():
                cluster.close()
            raise
        return client
    return _remote_client(Client, scheduler)


CONNECT_SECONDS = 20  # for a scheduler to answer: Dask's own timeout bounds the connection, not its handshake
CONNECT_GRACE = 5  # seconds past Dask's own timeout before the wait gives up


def _remote_client(client_type: Any, scheduler: str):
    """A client of the scheduler at `scheduler`, or a ValueError naming the option within CONNECT_SECONDS.

    Dask's timeout covers reaching the port; a server there that is not a Dask
    scheduler held the handshake for good (a web server), or answered bytes
    read as a message length of exabytes (a MemoryError). So the client is
    made in a thread (a daemon: one that never answers is left behind) and
    waited for; a client made after the wait is closed by that thread.
    """
    made: dict[str, Any] = {}
    lock, answered = threading.Lock(), threading.Event()

    def attempt() -> None:
        try:
            client = client_type(scheduler, timeout=f"{CONNECT_SECONDS}s")
        except BaseException as e:  # handed to the caller's thread
            with lock:
                made["error"] = e
            answered.set()
            # The half-made client goes now, in this thread: its __del__ may wait on Dask's loop, and left to
            # the garbage collector it ran in whichever thread next collected (a second attempt took 25 s).
            traceback.clear_frames(e.__traceback__)
            gc.collect()
            return
        with lock:
            late = made.setdefault("client", client) is not client
        answered.set()
        if late:  # the caller gave up waiting: no one else will close it
            try:
                close_client(client)
            except Exception:  # nothing to report it to
                pass

    thread = threading.Thread(target=attempt, name="rgou-connect", daemon=True)
    thread.start()
    try:
        answered.wait(CONNECT_SECONDS + CONNECT_GRACE)
    except BaseException:  # a Ctrl-C: no client is kept, made or to come
        with lock:
            client = made.setdefault("client", None)
        if client is not None:
            close_client(client)
        raise
    with lock:
        gave_up = not made
        if gave_up:
            made["client"] = None  # taken: a client made from now on is closed by its thread
    if gave_up:
        raise ValueError(
            f"--scheduler {scheduler}: nothing answered as a Dask scheduler within {CONNECT_SECONDS} s "
            "(is the address a Dask scheduler's, e.g. tcp://HOST:8786?)"
        )
    error = made.get("error")
    if error is None:
        return made["client"]
    if isinstance(error, OSError):
        raise ValueError(f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({error})") from None
    if isinstance(error, ValueError):  # an address Dask cannot parse: no port, an unknown protocol
        raise ValueError(f"--scheduler {scheduler}: not a scheduler address, e.g. tcp://HOST:8786 ({error})") from None
    if isinstance(error, (MemoryError, TypeError, KeyError)):  # bytes that were not Dask's messages
        raise ValueError(f"--scheduler {scheduler}: what answered there is not a Dask scheduler") from None
    raise error


def shard_plan(games: int, shards: int, first_game: int = 0) -> list[tuple[int, int]]:
    """(first game, games) of each shard: contiguous ranges whose sizes differ by at most one."""
    games = check_int("games", games, 1)
    shards = check_int("shards", shards, 1, games)
    first_game = check_int("first_game", first_game, 0)
    base, extra = divmod(games, shards)
    plan, start = [], first_game
    for i in range(shards):
        n = base + (i < extra)
        plan.append((start, n))
        start += n
    return plan


def _generate_shard(index: int, folder: str, first_game: int, games: int, options: dict) -> dict:
    """A Dask task: generate one shard on one thread and write it atomically; returns its manifest entry.

    `options`: the run's `GenerateOptions.to_json()` with "heuristic_params" and "table" (a path or None).
    """
    from rgou.heuristic import HeuristicParams
    from rgou.selfplay import generate

    fields = {k: options[k] for k in DATA_FIELDS}
    params = HeuristicParams.from_dict(options["heuristic_params"])
    shard = GenerateOptions(
        **{**fields, "games": games, "first_game": first_game}, table=options["table"], params=params
    )
    data = generate(shard, threads=1)
    # The file holds no timing, so a shard made twice (a task rerun when its worker dies) is the same bytes
    # whichever copy lands last, and the manifest's SHA-256 matches it.
    data = replace(data, meta={k: v for k, v in data.meta.items() if k != "seconds"}, _positions_checked=True)
    path = Path(folder) / f"shard-{index:05d}.npz"
    data.save(path)
    return asdict(Shard(index, path.name, first_game, games, len(data), file_sha256(path)))


ProgressFn = Callable[[int, int], None]


@contextmanager
def _folder_of_this_run(folder: Path) -> Iterator[None]:
    """Create `folder` and its missing parents; if the block fails, remove those it created that are still empty.

    A folder that existed before, or that holds anything (a shard, a manifest), stays.
    """
    created = []
    missing = folder.absolute()
    while not missing.exists() and missing != missing.parent:
        created.append(missing)
        missing = missing.parent
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield
    except BaseException:
        for made in created:
            try:
                made.rmdir()
            except OSError:  # not empty: a shard or a manifest was written, keep it and its parents
                break
        raise


def generate_shards(
    folder: str | Path,
    options: GenerateOptions,
    shards: int,
    scheduler: str = "local",
    workers: int | None = None,
    progress: ProgressFn | None = None,
    client=None,
) -> dict[str, Any]:
    """Generate a run (`options`) as `shards` Dask tasks into `folder`; returns the manifest (module docstring).

    `options.table` is a path every worker can read (None: each worker's
    default cache file); workers memory-map it, so the workers of one machine
    share one copy. Sharded runs use the default heuristic parameters.
    """
    from rgou._version import __version__
    from rgou.agents import absolute_spec
    from rgou.heuristic import DEFAULT_PARAMS
    from rgou.solve import require_table_file

    if not isinstance(options, GenerateOptions):
        raise TypeError(f"options must be a GenerateOptions, got {shown(options)}")
    check_callback("progress", progress)
    if options.params != DEFAULT_PARAMS:
        raise ValueError("--params: sharded runs use the default heuristic parameters")
    if options.table is not None and not isinstance(options.table, (str, Path)):
        raise ValueError("table: a sharded run's workers read the table from a path; give its path")
    table = None if options.table is None else str(Path(options.table).resolve())  # the workers' path
    if table is not None:
        require_table_file(table, options.rules)
    folder = Path(folder)
    games, seed = options.games, options.seed
    with _folder_of_this_run(folder):
        plan = shard_plan(games, shards, options.first_game)
        run = {**options.to_json(), SHARD_COUNT: int(shards)}
        manifest = read_manifest(folder)
        if manifest is not None:
            saved = {k: manifest.get(k, RUN_DEFAULTS.get(k)) for k in RUN_FIELDS}
            differ = [k for k in RUN_FIELDS if saved[k] != run[k]]
            if differ:
                detail = ", ".join(f"{k}: {saved[k]!r} there, {run[k]!r} now" for k in differ)
                raise ValueError(f"{folder / MANIFEST} belongs to another run ({detail}); use another --out folder")
        done = verified_shards(folder, manifest) if manifest else {}
        params = DEFAULT_PARAMS.to_dict()
        header = {"format": MANIFEST_FORMAT, "version": __version__, **run, "heuristic_params": params}

        def write(complete: bool) -> dict:
            entries = [done[i] for i in sorted(done)]
            samples = int(sum(e["samples"] for e in entries))
            doc = {**header, "complete": complete, "samples": samples, "shards": entries}
            write_manifest(folder, doc)
            return doc

        todo = [i for i in range(len(plan)) if i not in done]
        finished = sum(plan[i][1] for i in done)
        if progress is not None:
            progress(finished, games)
        if todo:
            own_client = client is None
            client = client or connect(scheduler, workers)
            try:
                _, _, as_completed = _dask()
                task = {**run, "heuristic_params": header["heuristic_params"], "table": table}
                task["agent"] = absolute_spec(task["agent"])  # a worker started elsewhere reads the same file
                # Keys name the run (seed and folder): two runs on one scheduler never share a task.
                run_key = hashlib.sha256(f"{seed} {folder.resolve()}".encode()).hexdigest()[:16]
                futures = [
                    client.submit(
                        _generate_shard,
                        i,
                        str(folder.resolve()),
                        plan[i][0],
                        plan[i][1],
                        task,
                        retries=TASK_RETRIES,
                        pure=False,
                        key=f"rgou-shard-{run_key}-{i}",
                    )
                    for i in todo
                ]
                kept = f"the finished shards are kept in {folder}: run the same command again to resume"
                for future in as_completed(futures):
                    entry = _result(future, kept)
                    done[entry["index"]] = entry
                    write(complete=False)
                    finished += entry["games"]
                    if progress is not None:
                        progress(finished, games)
            finally:
                if own_client:
                    close_client(client)
        return write(complete=len(done) == len(plan))


CLOSE_TIMEOUT = 10  # seconds to close a client and its cluster while an error (a Ctrl-C) is on its way


def close_client(client) -> None:
    """Close a client and its local cluster.

    Called while an exception is on its way (a Ctrl-C in `finally`), closing
    waits at most CLOSE_TIMEOUT and its own errors are dropped: a timeout while
    closing turned a Ctrl-C into "timed out after 60 s" and exit status 2.
    """
    unwinding = sys.exc_info()[1] is not None
    cluster = client.cluster
    try:
        client.close(**({"timeout": CLOSE_TIMEOUT} if unwinding else {}))
        if cluster is not None:
            cluster.close(**({"timeout": CLOSE_TIMEOUT} if unwinding else {}))
    except Exception:
        if not unwinding:
            raise


def _play_chunk(spec_a: str, spec_b: str, seed: int, first_stream: int, games: int, max_plies: int, rules: str) -> dict:
    """A Dask task: `games` paired games under `rules` from dice stream `first_stream` on; the per-game arrays."""
    from rgou.agents import make_agent
    from rgou.specialise import specialise

    a, b = make_agent(spec_a, seed=seed, rules=rules), make_agent(spec_b, seed=seed, rules=rules)
    play_games = specialise("rgou.playout", rules).play_games
    rec = play_games(a.data, b.data, games, seed, first_game=first_stream, paired=True, max_plies=max_plies, threads=1)
    return {k: getattr(rec, k) for k in ("winners", "first_agent", "plies", "time_ns", "decisions")}


def match_sharded(
    spec_a: str,
    spec_b: str,
    games: int,
    seed: int = 0,
    scheduler: str = "local",
    chunks: int | None = None,
    workers: int | None = None,
    max_plies: int = 10_000,
    client=None,
    progress: ProgressFn | None = None,
    rules: str = DEFAULT_RULES,
):
    """`rgou.arena.match` of two agent specs under `rules`, its games played as Dask tasks of paired games."""
    from rgou.agents import absolute_spec, make_agent
    from rgou.arena import summarize

    games = check_int("games", games, 1)
    seed = check_int("seed", seed, 0, MAX_SEED)
    max_plies = check_int("max_plies", max_plies, 1)
    if chunks is not None:
        chunks = check_int("chunks", chunks, 1)
    if workers is not None:
        workers = check_int("workers", workers, 1)
    check_callback("progress", progress)
    make_agent(spec_a, rules=rules)  # fail on a bad spec or rule set before starting a cluster
    make_agent(spec_b, rules=rules)
    worker_a, worker_b = absolute_spec(spec_a), absolute_spec(spec_b)  # as a worker started elsewhere reads them
    pairs = (games + 1) // 2
    chunks = min(chunks or max(1, pairs // 50), pairs)
    plan = shard_plan(pairs, chunks)
    own_client = client is None
    client = client or connect(scheduler, workers)
    try:
        _, _, as_completed = _dask()
        futures = {}
        for k, (first_pair, n_pairs) in enumerate(plan):
            n_games = min(2 * n_pairs, games - 2 * first_pair)
            futures[
                client.submit(
                    _play_chunk,
                    worker_a,
                    worker_b,
                    seed,
                    first_pair,
                    n_games,
                    max_plies,
                    rules,
                    retries=TASK_RETRIES,
                    pure=False,
                )
            ] = k
        parts: dict[int, dict] = {}
        done = 0
        for future in as_completed(list(futures)):
            parts[futures[future]] = _result(future, "no games of this match are kept")
            done += len(parts[futures[future]]["winners"])
            if progress is not None:
                progress(done, games)
    finally:
        if own_client:
            close_client(client)
    arrays = {k: np.concatenate([parts[i][k] for i in range(len(plan))]) for k in parts[0]}
    return summarize(
        spec_a,
        spec_b,
        arrays["winners"],
        arrays["first_agent"],
        arrays["plies"],
        arrays["time_ns"],
        arrays["decisions"],
    )
