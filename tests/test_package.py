"""rgou as a user installs it: a wheel in a fresh virtual environment, run from outside the checkout."""

import json
import os
import re
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
POSITION = {"p1": [4, -1, -1, -1, -1, -1, -1], "p2": [9, -1, -1, -1, -1, -1, -1], "to_move": 2, "dice": 2}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with rgou's wheel installed; its dependencies come from this environment (no network)."""
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    wheel = next(dist.glob("rgou-*.whl"))
    env = base / "env"
    venv.EnvBuilder(with_pip=False).create(env)
    python = env / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # numpy, numba & co. from this environment; a plain path entry does not activate its editable rgou
    (Path(purelib) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    return env


def _run(env: Path, args: list[str], cwd: Path, stdin: str = "") -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NUMBA_CACHE_DIR")}
    return subprocess.run(args, input=stdin, capture_output=True, text=True, cwd=cwd, env=clean, timeout=900)


def test_wheel_runs_analyze_with_the_heuristic_and_the_shipped_model(installed, tmp_path):
    where = _run(installed, [str(installed / "bin" / "python"), "-c", "import rgou; print(rgou.__file__)"], tmp_path)
    assert where.returncode == 0, where.stderr
    assert str(installed) in where.stdout and str(ROOT) not in where.stdout
    line = json.dumps(POSITION) + "\n"
    run = _run(
        installed, [str(installed / "bin" / "rgou"), "analyze", "--depth", "2", "--model", "default"], tmp_path, line
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout)
    assert out["legal_moves"] == list(range(7)) and len(out["scores"]) == 7 and -1 <= out["value"] <= 1
    assert out["best_move"] in out["legal_moves"] and out["ml_move"] in out["legal_moves"]
    upstream = _run(
        installed, [str(installed / "bin" / "rgou"), "analyze", "--model", "upstream", "--no-features"], tmp_path, line
    )
    assert upstream.returncode == 0, upstream.stderr[-3000:]


def test_no_machine_paths_in_the_package_or_tests():
    pattern = re.compile(r"(/work/|/home/|/root/|/Users/|C:\\\\)")
    offenders = []
    for folder in ("rgou", "tests", "docs", "benchmarks"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".md", ".json", ".toml", ".sh") and path.is_file():
                text = path.read_text(errors="ignore")
                if path.name != "test_package.py" and pattern.search(text):
                    offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, offenders


def test_version_is_defined_once():
    from rgou import __version__

    text = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in text and "rgou.__version__" in text
    assert f"## {__version__}" in (ROOT / "CHANGELOG.md").read_text()
