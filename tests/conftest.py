"""Shared test settings: hypothesis profiles, the golden reference folder, a synthetic solved table,
scripts that run beside the suite."""

import os
import shutil
import subprocess
import sys
import tempfile
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
# process, so that it compiles on the second core while the suite runs; the test's `script_run` fixture waits
# for it (and starts it, for a test run a second time in one session).
SCRIPT_TIMEOUT_S = 900


@dataclass
class ScriptRun:
    """A running `python -c SCRIPT` in a fresh folder (its working directory, which holds its Numba cache and
    its output: files, never a full pipe); `wait` removes the folder."""

    process: subprocess.Popen
    folder: Path

    @classmethod
    def start(cls, script: str, env: dict[str, str] | None = None) -> "ScriptRun":
        folder = Path(tempfile.mkdtemp(prefix="rgou-script-"))
        full_env = dict(os.environ, NUMBA_CACHE_DIR=str(folder / "cache"), **(env or {}))
        with open(folder / "stdout", "w") as out, open(folder / "stderr", "w") as err:
            process = subprocess.Popen([sys.executable, "-c", script], cwd=folder, env=full_env, stdout=out, stderr=err)
        return cls(process, folder)

    def wait(self) -> subprocess.CompletedProcess:
        """Its exit status and output (text); the folder is removed."""
        try:
            code = self.process.wait(timeout=SCRIPT_TIMEOUT_S)
            out, err = ((self.folder / name).read_text() for name in ("stdout", "stderr"))
        finally:
            self.stop()
        return subprocess.CompletedProcess(self.process.args, code, out, err)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
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
            _SCRIPTS[item.nodeid] = ScriptRun.start(*marker.args, **marker.kwargs)


def pytest_sessionfinish(session):
    for run in _SCRIPTS.values():  # those of tests that did not run (-x, Ctrl-C)
        run.stop()


@pytest.fixture
def script_run(request) -> subprocess.CompletedProcess:
    """The finished run of the test's `script` marker: returncode, stdout, stderr."""
    run = _SCRIPTS.pop(request.node.nodeid, None)
    if run is None:
        marker = request.node.get_closest_marker("script")
        run = ScriptRun.start(*marker.args, **marker.kwargs)
    return run.wait()
