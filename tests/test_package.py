"""rgou as a user installs it: a wheel in a fresh virtual environment, run from outside the checkout."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
POSITION = {"p1": [4, -1, -1, -1, -1, -1, -1], "p2": [9, -1, -1, -1, -1, -1, -1], "to_move": 2, "dice": 2}


# Build the wheel, install it into a fresh venv whose dependencies come from this environment (no network),
# and run it from outside the checkout; prints each run's [returncode, stdout, stderr] as JSON. It runs beside
# the rest of the suite (conftest.py's `script` marker): the installed rgou compiles its kernels anew.
WHEEL_SCRIPT = f"""
import json, os, subprocess, sys, sysconfig, venv
from pathlib import Path

ROOT = Path({str(ROOT)!r})
LINE = {json.dumps(POSITION)!r} + "\\n"
base = Path.cwd()  # the script's own folder, outside the checkout
runs = {{}}


def run(name, args, stdin=""):
    clean = {{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NUMBA_CACHE_DIR")}}
    done = subprocess.run(args, input=stdin, capture_output=True, text=True, cwd=base, env=clean, timeout=900)
    runs[name] = [done.returncode, done.stdout, done.stderr[-3000:]]
    if done.returncode:
        print(json.dumps(runs))
        sys.exit(0)


dist = base / "dist"
build = ["wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(ROOT)]
run("build", [sys.executable, "-m", "pip", *build])
env = base / "env"
venv.EnvBuilder(with_pip=False).create(env)
python = str(env / "bin" / "python")
run("purelib", [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
# numpy, numba & co. from this environment; a plain path entry does not activate its editable rgou
(Path(runs["purelib"][1].strip()) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\\n")
wheel = str(next(dist.glob("rgou-*.whl")))
run("install", [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel])
run("where", [python, "-c", "import rgou; print(rgou.__file__)"])
rgou = str(env / "bin" / "rgou")
run("analyze", [rgou, "analyze", "--depth", "2", "--model", "default"], LINE)
run("upstream", [rgou, "analyze", "--model", "upstream", "--no-features"], LINE)
STATIC = "from rgou.web.server import STATIC, static_file; print(min(len(static_file(n)) for n in STATIC))"
run("static", [python, "-c", STATIC])
runs["env"] = [0, str(env), ""]
print(json.dumps(runs))
"""


@pytest.mark.script(WHEEL_SCRIPT)
def test_wheel_runs_analyze_with_the_heuristic_and_the_shipped_model(script_run):
    assert script_run.returncode == 0, script_run.stderr[-3000:]
    runs = json.loads(script_run.stdout)
    for name, (code, _, err) in runs.items():
        assert code == 0, f"{name}: {err}"
    assert set(runs) == {"build", "purelib", "install", "where", "analyze", "upstream", "static", "env"}
    assert int(runs["static"][1]) > 1000  # the web page's files ship in the wheel
    installed = runs["env"][1]
    assert runs["where"][1].startswith(installed) and str(ROOT) not in runs["where"][1]
    out = json.loads(runs["analyze"][1])
    assert out["legal_moves"] == list(range(7)) and len(out["scores"]) == 7 and -1 <= out["value"] <= 1
    assert out["best_move"] in out["legal_moves"] and out["ml_move"] in out["legal_moves"]
    assert json.loads(runs["upstream"][1])["legal_moves"] == list(range(7))


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
    assert 'dynamic = ["version"]' in text and "rgou._version.__version__" in text
    assert f"## {__version__}" in (ROOT / "CHANGELOG.md").read_text()


def test_ci_runs_the_readmes_test_command():
    readme = (ROOT / "README.md").read_text()
    command = next(line for line in readme.splitlines() if "pytest" in line and line.startswith("sh tools/"))
    ci = (ROOT / ".ci" / "run").read_text().splitlines()[-1]
    assert ci == command.replace("pip install -e", "pip install -q -e")  # the same, less pip's chatter


@pytest.mark.parametrize("given, expected", [(None, "passive"), ("active", "active")])
def test_openmp_threads_wait_passively_unless_the_environment_says(given, expected):
    # Spinning at the end of the solver's many short parallel regions takes a busy machine's core from the
    # thread still working (benchmarks/experiments/contended_solve.md); the setting must be in place before
    # the first parallel kernel loads OpenMP, and a value the user set wins.
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given is not None:
        env["OMP_WAIT_POLICY"] = given
    code = "import os, rgou.solve; print(os.environ['OMP_WAIT_POLICY'])"  # the solver: parallel kernels
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected


def test_the_curated_api_loads_on_first_use():
    # `import rgou` loads no library (the command handles Ctrl-C while they load); each name of __all__ is its
    # home module's object, and dir() lists the API.
    import importlib
    import subprocess
    import sys

    import rgou

    code = "import sys, rgou; print(sorted({'numpy', 'numba'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    for name in rgou.__all__:
        if name != "__version__":
            assert getattr(rgou, name) is getattr(importlib.import_module(rgou._HOMES[name]), name)
    assert set(rgou._HOMES) | {"__version__"} == set(rgou.__all__)
    assert dir(rgou) == sorted(rgou.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        rgou.nothing  # noqa: B018
