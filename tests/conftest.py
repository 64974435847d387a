"""Shared test settings: hypothesis profiles, the golden reference folder, a synthetic solved table,
scripts that run beside the suite."""

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from reference import REFERENCE_DIR

from rgou.game import apply_move, legal_moves, pass_turn_inplace
from rgou.solve import Table, position_count, state_index
from rgou.testing import random_states

# CI derandomizes hypothesis so a red build can be replayed; locally it explores.
settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")
LONG_SOLVE_PIECES = 5  # solves of this many pieces take a minute or more: benchmarks, not tests


@pytest.fixture(autouse=True)
def _no_long_solve(monkeypatch):
    """Fail a test that would start a solve of 5 or more pieces (a minute to several): with no solved table in
    the cache folder (as in CI), `rgou train` solves the 7-piece game first, and `rgou solve --rules blitz`
    solves 5 pieces. A test that means to reach that call patches `rgou.solve.solve` itself."""
    import rgou.solve

    real = rgou.solve.solve

    def guarded(n_pieces, *args, **kwargs):
        if n_pieces >= LONG_SOLVE_PIECES:
            raise AssertionError(f"the test started the {n_pieces}-piece solve; give a table or patch rgou.solve.solve")
        return real(n_pieces, *args, **kwargs)

    monkeypatch.setattr(rgou.solve, "solve", guarded)


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """tests/data: the golden vectors of the upstream engine."""
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def states():
    """Rolled positions of random games (passes included)."""
    return np.concatenate([random_states(seed)[0][::9] for seed in (1, 2)])


@pytest.fixture(scope="session")
def table(states):
    """A 7-piece 'table' of zeros with random values at every position one move (or a pass) from `states`."""
    values = np.zeros(position_count(7), np.float32)
    rng = np.random.default_rng(0)
    moves = np.empty(7, np.int8)
    for state in states:
        for roll in range(5):
            rolled = state.copy()
            rolled[15] = roll
            successors = [apply_move(rolled, m) for m in moves[: legal_moves(rolled, moves)]]
            passed = rolled.copy()
            pass_turn_inplace(passed)
            for s in [*successors, passed]:
                index = state_index(s)
                if index >= 0 and values[index] == 0:
                    values[index] = rng.uniform(0.01, 0.99)
    return Table(n_pieces=7, values=values, tolerance=1e-7, residual=0.0)


# Scripts that compile every kernel anew (a fresh Numba cache) spend a minute each on one core. A test marked
# `@pytest.mark.script(SCRIPT, env={...})` has its script started as soon as collection ends, in its own
# process, so that it compiles while the suite runs; the test's `script_run` fixture waits for it (and starts
# it, for a test run a second time in one session). Under pytest-xdist (`-n 2`, as CI runs) every worker
# collects every test: the worker that first claims a script's folder (an atomic mkdir) starts it, and the
# worker that runs the test waits for the exit status the script leaves in that folder.
SCRIPT_TIMEOUT_S = 900
# Runs the script given as argv[1] with stdout and stderr in files, then leaves its exit status in "status".
_RUNNER = """import os, subprocess, sys
with open("stdout", "w") as out, open("stderr", "w") as err:
    code = subprocess.call([sys.executable, "-c", sys.argv[1]], stdout=out, stderr=err)
with open("status.tmp", "w") as f:
    f.write(str(code))
os.replace("status.tmp", "status")
"""


_RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex  # the same for all workers of a run


def _scripts_folder() -> Path:
    """Where this run's scripts live: one folder for all workers of an xdist run (its run id names it)."""
    return Path(tempfile.gettempdir()) / f"rgou-scripts-{_RUN}"


@dataclass
class ScriptRun:
    """`python -c SCRIPT` in a folder of its own (its working directory, which holds its Numba cache, its
    output and, once it exits, its status), started by this process or by another worker of the run."""

    folder: Path
    process: subprocess.Popen | None = None  # None: another worker started it

    @classmethod
    def claim(cls, nodeid: str, script: str, env: dict[str, str] | None = None) -> "ScriptRun":
        """The run of the script of test `nodeid`: started here unless another worker claimed it first."""
        folder = _scripts_folder() / hashlib.sha1(nodeid.encode()).hexdigest()[:16]
        folder.parent.mkdir(exist_ok=True)
        try:
            folder.mkdir()
        except FileExistsError:
            return cls(folder)
        full_env = dict(os.environ, NUMBA_CACHE_DIR=str(folder / "cache"), **(env or {}))
        process = subprocess.Popen(
            [sys.executable, "-c", _RUNNER, script], cwd=folder, env=full_env, start_new_session=True
        )
        return cls(folder, process)

    def wait(self) -> subprocess.CompletedProcess:
        """Its exit status and output (text); the folder is removed."""
        status = self.folder / "status"
        deadline = time.monotonic() + SCRIPT_TIMEOUT_S
        try:
            while not status.exists():
                if not self.folder.exists():
                    raise RuntimeError(f"the script's folder was removed before it finished ({self.folder})")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the test's script did not finish in {SCRIPT_TIMEOUT_S} s ({self.folder})")
                if self.process is not None and self.process.poll() is not None and not status.exists():
                    raise RuntimeError(f"the script runner stopped without a status ({self.folder})")
                time.sleep(0.2)
            code = int(status.read_text())
            out, err = ((self.folder / name).read_text() for name in ("stdout", "stderr"))
        finally:
            self.stop()
        return subprocess.CompletedProcess(["python", "-c", "..."], code, out, err)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)  # the runner and the script
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


_SCRIPTS: dict[str, ScriptRun] = {}


def pytest_configure(config):
    config.addinivalue_line("markers", "script(source, env=None): a Python script the test reads (see conftest.py)")


def pytest_collection_finish(session):
    if session.config.option.collectonly:
        return
    for item in session.items:
        marker = item.get_closest_marker("script")
        if marker is not None:
            _SCRIPTS[item.nodeid] = ScriptRun.claim(item.nodeid, *marker.args, **marker.kwargs)


def pytest_sessionfinish(session, exitstatus):
    stopped = exitstatus == pytest.ExitCode.INTERRUPTED or bool(session.shouldstop or session.shouldfail)
    for run in _SCRIPTS.values():  # started here, their tests not run here
        if run.process is None:
            continue
        if stopped or not os.environ.get("PYTEST_XDIST_WORKER"):
            run.stop()  # their tests will not run (-x, Ctrl-C)
        else:
            run.process.wait(timeout=SCRIPT_TIMEOUT_S)  # the other worker runs their tests: it reads and removes them
    try:
        _scripts_folder().rmdir()
    except OSError:
        pass  # never made, or another worker's scripts are still in it


@pytest.fixture
def script_run(request) -> subprocess.CompletedProcess:
    """The finished run of the test's `script` marker: returncode, stdout, stderr."""
    run = _SCRIPTS.pop(request.node.nodeid, None)
    if run is None:
        marker = request.node.get_closest_marker("script")
        run = ScriptRun.claim(request.node.nodeid, *marker.args, **marker.kwargs)
    return run.wait()
