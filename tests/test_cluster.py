"""Sharded generation and matches on a LocalCluster of two worker processes; training from shards."""

import json
import os
import signal
import time

import numpy as np
import pytest

pytest.importorskip("dask.distributed")

from rgou.cluster import generate_shards, match_sharded, shard_plan
from rgou.dataset import Dataset
from rgou.manifest import read_manifest
from rgou.selfplay import GenerateOptions, generate
from rgou.shards import ShardedData, shard_files


@pytest.fixture(scope="module")
def client():
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


def _union(folder) -> Dataset:
    return Dataset.concatenate([Dataset.load(p) for p in shard_files([str(folder)])])


def _same(a: Dataset, b: Dataset) -> None:
    for name in ("state", "move", "value_target", "outcome", "game_id", "features"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_shard_plan_covers_every_game_once():
    plan = shard_plan(10, 3, first_game=5)
    assert plan == [(5, 4), (9, 3), (12, 3)]
    with pytest.raises(ValueError, match="shards"):
        shard_plan(3, 4)


def test_sharded_run_equals_one_run_and_repairs_damaged_shards(tmp_path, client):
    single = generate(9, depth=2, seed=4, epsilon=0.1)
    folder = tmp_path / "shards"
    manifest = generate_shards(folder, GenerateOptions(9, depth=2, seed=4, epsilon=0.1), 4, client=client)
    assert manifest["complete"] and len(manifest["shards"]) == 4 and manifest["samples"] == len(single)
    _same(_union(folder), single)
    # one shard deleted, one corrupted: a rerun regenerates exactly those two
    (folder / "shard-00001.npz").unlink()
    damaged = folder / "shard-00002.npz"
    damaged.write_bytes(damaged.read_bytes()[:-10] + b"0123456789")
    untouched = (folder / "shard-00000.npz").stat().st_mtime_ns
    again = generate_shards(folder, GenerateOptions(9, depth=2, seed=4, epsilon=0.1), 4, client=client)
    assert again["complete"] and (folder / "shard-00000.npz").stat().st_mtime_ns == untouched
    _same(_union(folder), single)
    with pytest.raises(ValueError, match="another run"):
        generate_shards(folder, GenerateOptions(9, depth=3, seed=4, epsilon=0.1), 4, client=client)


def test_sharded_runs_take_an_agent_and_manifests_from_before_still_resume(tmp_path, client):
    folder = tmp_path / "shards"
    manifest = generate_shards(folder, GenerateOptions(6, seed=2, epsilon=0.1, agent="emm-1"), 3, client=client)
    assert manifest["complete"] and manifest["agent"] == "emm-1"
    _same(_union(folder), generate(6, seed=2, epsilon=0.1, agent="emm-1"))
    with pytest.raises(ValueError, match=r"another run \(agent: 'emm-1' there, None now\)"):
        generate_shards(folder, GenerateOptions(6, seed=2, epsilon=0.1), 3, client=client)
    old = tmp_path / "old"  # a manifest written before runs named their agent and targets
    generate_shards(old, GenerateOptions(4, seed=2), 2, client=client)
    doc = json.loads((old / "manifest.json").read_text())
    for key in ("agent", "value_target", "afterstates"):
        del doc[key]
    (old / "manifest.json").write_text(json.dumps(doc))
    assert generate_shards(old, GenerateOptions(4, seed=2), 2, client=client)["complete"]
    with pytest.raises(ValueError, match=r"afterstates \(--afterstates\): .*exact or exact-unrolled"):
        generate_shards(tmp_path / "x", GenerateOptions(4, afterstates=True), 2, client=client)
    with pytest.raises(ValueError, match=r"no solved table at .*none\.table"):
        generate_shards(
            tmp_path / "x",
            GenerateOptions(4, value_target="exact", table=str(tmp_path / "none.table")),
            2,
            client=client,
        )
    assert not (tmp_path / "x").exists()


def test_a_worker_killed_mid_run_loses_no_shard(tmp_path, client):
    folder = tmp_path / "shards"
    killed = []

    def progress(done, total):
        if done and not killed:  # the first shard is in: kill a worker while others run
            pid = next(iter(client.run(os.getpid).values()))
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    manifest = generate_shards(folder, GenerateOptions(24, depth=2, seed=7), 8, client=client, progress=progress)
    assert killed and manifest["complete"] and len(manifest["shards"]) == 8
    _same(_union(folder), generate(24, depth=2, seed=7))
    deadline = time.time() + 60
    while len(client.scheduler_info()["workers"]) < 2 and time.time() < deadline:  # the nanny restarts it
        time.sleep(0.5)


def test_a_cluster_that_cancels_the_work_is_one_error_that_says_the_shards_are_kept(tmp_path, client):
    """A review: a scheduler that went away (which cancels every task) ended `rgou generate --shards` and `rgou
    arena --scheduler` in Dask's traceback, exit 1. Here the tasks are cancelled after the first shard."""
    from distributed import Future

    from rgou.cluster import ClusterError

    folder = tmp_path / "shards"

    def cancel_the_rest(done, total):
        if done:
            client.cancel([Future(key, client) for key in list(client.futures) if "rgou-shard" in str(key)])

    options = GenerateOptions(24, depth=2, seed=9)
    with pytest.raises(ClusterError, match=r"the Dask cluster failed \(FutureCancelledError") as error:
        generate_shards(folder, options, 8, client=client, progress=cancel_the_rest)
    assert f"the finished shards are kept in {folder}: run the same command again to resume" in str(error.value)
    kept = read_manifest(folder)
    assert not kept["complete"] and 1 <= len(kept["shards"]) < 8
    moved = tmp_path / "moved"  # its tasks' keys are new (they name the folder): the cancelled ones are not reused
    folder.rename(moved)
    manifest = generate_shards(moved, options, 8, client=client)  # resumes from the kept shards
    assert manifest["complete"] and len(manifest["shards"]) == 8
    _same(_union(moved), generate(24, depth=2, seed=9))


def test_workers_read_an_agents_file_named_relative_to_this_folder(tmp_path, client, monkeypatch):
    """A review: `ml:m.json` went to the workers as given, and a worker started in another folder did not find
    it (here the workers stay in the folder they started in, and this process moves)."""
    from rgou.agents import absolute_spec
    from rgou.models import load_model
    from rgou.weights import save_weights

    monkeypatch.chdir(tmp_path)
    save_weights("m.json", load_model("default"))
    assert absolute_spec("ml-1+:m.json:value") == f"ml-1+:{tmp_path / 'm.json'}:value"
    assert absolute_spec("perfect:t.table") == f"perfect:{tmp_path / 't.table'}" and absolute_spec("ml+") == "ml+"
    assert absolute_spec("ml-2:./sub/./m.json:policy") == f"ml-2:{tmp_path}/./sub/./m.json:policy"  # as written
    assert absolute_spec("perfect:.//t.table") == f"perfect:{tmp_path}/.//t.table"
    assert absolute_spec("ml+:m.json") == f"ml+:{tmp_path / 'm.json'}:value"  # the mode, written out
    (tmp_path / "default").write_text("")  # a file named as the shipped model is the file, read here and there
    assert absolute_spec("ml:policy") == f"ml:{tmp_path / 'default'}:policy"
    result = match_sharded("ml:./m.json", "random", 8, seed=3, chunks=2, client=client)
    assert result.a == "ml:./m.json" and result.games == 8


def test_sharded_match_equals_the_single_machine_match(client):
    from rgou.agents import make_agent
    from rgou.arena import match

    for rules in ("finkel", "blitz"):
        sharded = match_sharded("heuristic", "random", 30, seed=5, chunks=4, client=client, rules=rules)
        single = match(make_agent("heuristic", rules=rules), make_agent("random", rules=rules), 30, seed=5)
        for field in ("games", "a_wins", "b_wins", "mean_plies", "a_win_rate_as_p1", "a_win_rate_as_p2"):
            assert getattr(sharded, field) == getattr(single, field), (rules, field)
    assert sharded.mean_plies != match(make_agent("heuristic"), make_agent("random"), 30, seed=5).mean_plies


def test_training_from_shards_sees_the_same_samples_per_epoch(tmp_path):
    from rgou.train import TrainOptions
    from rgou.train.sources import _MemorySource, _ShardSource

    data = generate(12, depth=1, seed=3)
    for k, ids in enumerate(np.array_split(np.unique(data.game_id), 3)):
        data.subset(np.flatnonzero(np.isin(data.game_id, ids))).save(tmp_path / f"shard-{k}.npz")
    shards = ShardedData.open(shard_files([str(tmp_path / "shard-*.npz")]))
    options = TrainOptions(batch_size=1, validation_split=0.25)
    memory, streamed = _MemorySource(data, options), _ShardSource(shards, options, buffer=50)
    assert streamed.counts() == memory.counts()
    np.testing.assert_array_equal(streamed.val_games, np.unique(data.game_id[memory.val_rows]))
    validation = np.concatenate([b.x.copy() for b in streamed._batches(True, epoch=0, size=7, shuffle=False)])
    assert sorted(map(bytes, validation)) == sorted(map(bytes, data.features[memory.val_rows]))
    seen = []
    for batch in streamed._batches(False, epoch=0, size=1, shuffle=True):
        seen.append(batch.x[0].copy())
    expected = data.features[memory.train_rows]
    assert len(seen) == len(expected)
    key = lambda rows: sorted(map(bytes, rows))
    assert key(np.array(seen)) == key(expected)
    assert not np.array_equal(np.array(seen), expected)  # and shuffled
    assert read_manifest(tmp_path) is None


def test_a_shard_made_twice_is_the_same_file(tmp_path):
    # Dask reruns the task of a worker that died; whichever copy lands last must match the manifest's SHA-256.
    from rgou.cluster import _generate_shard
    from rgou.heuristic import DEFAULT_PARAMS

    options = {**GenerateOptions(4, depth=1, seed=3).to_json(), "heuristic_params": DEFAULT_PARAMS.to_dict()}
    options["table"] = None
    first = _generate_shard(1, str(tmp_path), 2, 2, options)
    copy = (tmp_path / first["file"]).read_bytes()
    second = _generate_shard(1, str(tmp_path), 2, 2, options)
    assert second == first and (tmp_path / first["file"]).read_bytes() == copy


@pytest.mark.parametrize(
    "address, message",
    [
        ("bogus", "--scheduler bogus: not a scheduler address"),
        ("foo://x:1", "--scheduler foo://x:1: not a scheduler address"),
    ],
)
def test_a_bad_scheduler_address_names_the_option(address, message):
    from rgou.cluster import connect

    with pytest.raises(ValueError, match=message):
        connect(address)


@pytest.mark.parametrize("reply", [b"", b"HTTP/1.0 400 Bad Request\r\n\r\n" * 4])
def test_an_address_that_is_no_dask_scheduler_is_named_in_bounded_time(monkeypatch, reply):
    """A review: a web server's port held `rgou generate --scheduler` for good (Dask's timeout does not bound
    its handshake), and one that answered was read as a message of exabytes ("out of memory")."""
    import socket
    import threading

    import rgou.cluster
    from rgou.cluster import connect

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    held = []

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)
            if reply:
                conn.sendall(reply)

    threading.Thread(target=serve, daemon=True).start()
    monkeypatch.setattr(rgou.cluster, "CONNECT_SECONDS", 3)
    start = time.perf_counter()
    try:
        with pytest.raises(ValueError, match=rf"--scheduler tcp://127.0.0.1:{port}: (nothing answered|what answered)"):
            connect(f"tcp://127.0.0.1:{port}")
    finally:
        server.close()
        for conn in held:
            conn.close()
    assert time.perf_counter() - start < 30


def _late_client():
    """A client class whose scheduler answers once `answer` is set, and `closed`, set when it is closed."""
    import threading

    answer, closed = threading.Event(), threading.Event()

    class LateClient:
        cluster = None

        def __init__(self, address, timeout):
            answer.wait(30)

        def close(self, **kwargs):
            closed.set()

    return LateClient, answer, closed


def test_a_client_made_after_the_wait_is_closed(monkeypatch):
    """A review: a scheduler that answered after the wait gave up left a connected client behind, unclosed."""
    import rgou.cluster

    monkeypatch.setattr(rgou.cluster, "CONNECT_SECONDS", 0)
    monkeypatch.setattr(rgou.cluster, "CONNECT_GRACE", 0.2, raising=False)  # the code before waited 5 s more
    LateClient, answer, closed = _late_client()
    with pytest.raises(ValueError, match="nothing answered as a Dask scheduler"):
        rgou.cluster._remote_client(LateClient, "tcp://127.0.0.1:8786")
    answer.set()
    assert closed.wait(30)


def test_a_ctrl_c_while_waiting_for_a_scheduler_keeps_no_client(monkeypatch):
    """A review: a Ctrl-C during the wait left the client made after it connected, and never closed."""
    import threading

    import rgou.cluster

    LateClient, answer, closed = _late_client()
    # A real Ctrl-C, to this thread: it wakes the wait (interrupt_main's flag is read only when the wait ends)
    threading.Timer(0.3, signal.pthread_kill, (threading.get_ident(), signal.SIGINT)).start()
    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        rgou.cluster._remote_client(LateClient, "tcp://127.0.0.1:8786")
    assert time.perf_counter() - started < rgou.cluster.CONNECT_SECONDS  # at the Ctrl-C, not the wait's end
    answer.set()
    assert closed.wait(30)


def test_a_failed_attempts_half_made_client_goes_in_its_own_thread():
    """A review: a failed attempt's half-made client (in a reference cycle, as Dask's is) was freed by whichever
    thread next collected garbage, and its __del__ may wait on Dask's loop (a second attempt took 25 s)."""
    import gc
    import threading

    import rgou.cluster

    freed = []

    class HalfMade:
        def __init__(self, address, timeout):
            self.me = self
            raise OSError("connection refused")

        def __del__(self):
            freed.append(threading.current_thread().name)

    gc.disable()  # only the attempt's own collection frees it
    try:
        with pytest.raises(ValueError, match="cannot reach a Dask scheduler there"):
            rgou.cluster._remote_client(HalfMade, "tcp://127.0.0.1:8786")
        deadline = time.perf_counter() + 30
        while not freed and time.perf_counter() < deadline:
            time.sleep(0.01)
    finally:
        gc.enable()
    assert freed == ["rgou-connect"]
