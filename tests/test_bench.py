"""Smoke test of `python -m rgou.bench`: runs, writes JSON, numbers are positive (no timing assertions)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rgou import bench


def test_quick_engine_features_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    bench.main(["--quick", "--quiet", "--only", "engine,features", "--json", str(out)])
    report = json.loads(out.read_text())
    assert set(report["sections"]) == {"engine", "features"}
    for name in ("engine", "features"):
        metrics = report["sections"][name]["metrics"]
        assert metrics, name
        for key, m in metrics.items():
            assert m["value"] > 0, f"{name}.{key} = {m['value']}"
    assert report["machine"]["numba_threads"] >= 1
    assert "[engine]" in capsys.readouterr().out


def test_quick_rules_plays_each_rule_sets_own_games(tmp_path):
    # The section's games are the arena's games of that rule set: the same turns a game, the same seed.
    from rgou.agents import make_agent
    from rgou.arena import match
    from rgou.bench.timing import BENCH_SEED
    from rgou.rules import RULE_SETS

    out = tmp_path / "bench.json"
    bench.main(["--quick", "--quiet", "--only", "rules", "--json", str(out)])
    metrics = {k: m["value"] for k, m in json.loads(out.read_text())["sections"]["rules"]["metrics"].items()}
    for name in RULE_SETS:
        assert metrics[f"{name}_selfplay_games_per_s"] > 0 and metrics[f"{name}_emm3_decision_us"] > 0
        agent = make_agent("emm-2", rules=name)
        arena = match(agent, agent, 40, BENCH_SEED)
        assert metrics[f"{name}_selfplay_plies_per_game"] == pytest.approx(arena.mean_plies)
    assert len({metrics[f"{name}_selfplay_plies_per_game"] for name in RULE_SETS}) == len(RULE_SETS)


def test_quick_web_answers_every_request_as_expected(tmp_path):
    """The web section drives a real `rgou serve`: every load request gets its expected answer, the server lives."""
    out = tmp_path / "web.json"
    bench.main(["--quick", "--quiet", "--only", "web", "--json", str(out)])
    report = json.loads(out.read_text())
    metrics = report["sections"]["web"]["metrics"]
    assert metrics["load_unexpected_answers"]["value"] == 0 and metrics["alive_after_load"]["value"] == 1
    assert 0 < metrics["ml_plus_move_ms_median"]["value"] <= metrics["ml_plus_move_ms_max"]["value"]
    names = {t["metric"] for t in report["targets"]}
    assert {"ml_plus_move_ms_p95", "load_unexpected_answers", "load_rss_growth_mb"} <= names


def test_unknown_section_is_rejected():
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--only", "nope"])


def test_quick_nn_json(tmp_path, capsys):
    """The nn section runs (Numba trainer always; PyTorch and JAX when installed) and reports its targets."""
    out = tmp_path / "nn.json"
    bench.main(["--quick", "--quiet", "--only", "nn", "--json", str(out)])
    report = json.loads(out.read_text())
    assert set(report["sections"]) == {"nn"}
    metrics = report["sections"]["nn"]["metrics"]
    for key in (
        "gemm_gflops",
        "numba_b32_samples_per_s",
        "numba_b1024_samples_per_s",
        "numba_b1024_exec_gemm_pct",
        "value_policy_one_us",
        "ml_agent_decision_us",
        "ml_plus_agent_decision_mean_us",
    ):
        assert key in metrics, key
    for key, m in metrics.items():
        if not key.endswith("_other_load"):
            assert m["value"] > 0, f"nn.{key} = {m['value']}"
    targets = {t["metric"] for t in report["targets"]}
    assert {"numba_steps_exec_gemm_pct_min_ge256", "value_policy_one_us", "ml_agent_decision_us"} <= targets
    assert {"numba_exec_gemm_pct_min_ge256", "numba_steps_b1024_exec_gemm_pct"} <= set(metrics)
    # a share of the GEMM rate counts the FLOPs the trainer executes, not the columns it skips
    value = {key: m["value"] for key, m in metrics.items()}
    assert value["numba_flops_per_sample"] < value["train_flops_per_sample"]
    for key in ("numba_b1024", "numba_steps_b1024"):
        executed = value[f"{key}_samples_per_s"] * value["numba_flops_per_sample"] / 1e9
        assert value[f"{key}_exec_gemm_pct"] == pytest.approx(100 * executed / value["gemm_gflops"])
    assert "ml_plus_agent_decision_mean_us" in targets
    for optional, key in (("torch", "numba_vs_torch_b32"), ("jax", "jax_b32_samples_per_s")):
        try:
            __import__(optional)
        except ImportError:
            continue
        assert key in metrics, key
    assert "[nn]" in capsys.readouterr().out


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="VmHWM is Linux's")
def test_child_processes_report_their_own_peak_memory():
    from rgou.bench.timing import run_rgou

    ballast = np.ones(600 * 2**20 // 8)  # 600 MB resident in the parent: a fork's ru_maxrss would start there
    wall, peak_mb = run_rgou(["--version"])
    assert ballast.sum() > 0 and wall > 0
    assert 10 < peak_mb < 400


def test_gpu_trainers_script_times_both_trainers_and_they_agree(tmp_path):
    """benchmarks/gpu_trainers.py (run by hand on a GPU machine) on this CPU: its rates and agreement."""
    import subprocess
    import sys

    pytest.importorskip("jax")
    from rgou.selfplay import generate

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_trainers.py"
    data = generate(20, depth=1, seed=3).save(tmp_path / "d.npz")
    out = tmp_path / "r.json"
    cmd = [sys.executable, str(script), "--data", str(data), "--batches", "32,64"]
    subprocess.run([*cmd, "--repeats", "1", "--agree-steps", "20", "--json", str(out)], check=True, capture_output=True)
    result = json.loads(out.read_text())
    assert [r["batch"] for r in result["rates"]] == [32, 64]
    assert all(r["jax_samples_per_s"] > 0 and r["numba_samples_per_s"] > 0 for r in result["rates"])
    assert result["agreement"] < 1e-4  # 2.5e-6 measured on this CPU, 9.1e-6 on an H200
    bad = subprocess.run([*cmd[:-1], "1000000"], capture_output=True, text=True)
    assert bad.returncode != 0 and "--batches" in bad.stderr


def _fake_report() -> dict:
    """A report with made-up nn and scaling measurements, shaped as `bench.run` returns it."""

    def metric(value: float, unit: str) -> dict:
        return {"value": value, "unit": unit, "label": "fake"}

    nn = {"gemm_gflops": metric(390.0, "GFLOP/s")}
    nn["train_flops_per_sample"] = metric(824_832, "FLOPs")
    nn["numba_flops_per_sample"] = metric(677_376, "FLOPs")
    for batch, rate in ((32, 150_000.0), (256, 250_000.0), (1024, 290_000.0)):
        nn[f"numba_b{batch}_samples_per_s"] = metric(rate, "samples/s")
        nn[f"numba_steps_b{batch}_samples_per_s"] = metric(1.1 * rate, "samples/s")
        nn[f"torch_b{batch}_samples_per_s"] = metric(rate / 5, "samples/s")
        nn[f"jax_b{batch}_samples_per_s"] = metric(rate / 4, "samples/s")
        nn[f"jax_scan_b{batch}_samples_per_s"] = metric(rate / 3, "samples/s")
    scaling = {f"train_b{batch}_samples_per_s": metric(1000.0 * batch, "samples/s") for batch in (32, 256, 1024)}
    scaling |= {f"generate_depth{d}_games_per_s": metric(1000.0 / d, "games/s") for d in (1, 2, 3)}
    return {"machine": {"cpu": "test CPU"}, "sections": {"nn": {"metrics": nn}, "scaling": {"metrics": scaling}}}


def _png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's header; fails if the file is not a PNG."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", path
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def test_plot_draws_the_trainers_and_scaling_figures_from_a_report(tmp_path):
    pytest.importorskip("matplotlib")
    from rgou.bench.plots import DPI, TRAINERS_FIGSIZE, plot_report

    written = plot_report(_fake_report(), tmp_path / "figures")
    names = {p.name for p in written}
    assert names == {"trainers.png", "train_batch.png", "generate_depth.png"}
    for path in written:
        assert 5_000 < path.stat().st_size < 500_000, path
    width, height = _png_size(tmp_path / "figures" / "trainers.png")
    assert (width, height) == (round(TRAINERS_FIGSIZE[0] * DPI), round(TRAINERS_FIGSIZE[1] * DPI))


def test_plot_without_nn_or_scaling_draws_nothing(tmp_path):
    pytest.importorskip("matplotlib")
    from rgou.bench.plots import plot_report

    report = _fake_report()
    report["sections"] = {"engine": {"metrics": {"x": {"value": 1.0, "unit": "x", "label": "x"}}}}
    assert plot_report(report, tmp_path) == []


def test_plot_without_matplotlib_stops_before_the_run_and_says_what_to_install(tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # find_spec answers None: not installed
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--quiet", "--only", "engine", "--plot", str(tmp_path / "figures")])
    err = capsys.readouterr().err
    assert "pip install 'rgou[plot]'" in err
    assert not (tmp_path / "figures").exists()


def test_the_pytorch_reference_loads_without_the_wait_policy_rgou_chose(tmp_path, monkeypatch):
    # torch's own OpenMP reads OMP_WAIT_POLICY as it loads; rgou's passive waiting is for Numba's regions only
    import os
    import sys

    from rgou import _numba
    from rgou.bench import nn

    (tmp_path / "torch.py").write_text("import os\nseen = os.environ.get('OMP_WAIT_POLICY')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.setenv("OMP_WAIT_POLICY", "passive")
    monkeypatch.setattr(_numba, "OMP_POLICY_CHOSEN_HERE", True)
    assert nn._import_torch().seen is None
    assert os.environ["OMP_WAIT_POLICY"] == "passive"
    monkeypatch.delitem(sys.modules, "torch")
    monkeypatch.setattr(_numba, "OMP_POLICY_CHOSEN_HERE", False)  # the user's own setting reaches torch too
    assert nn._import_torch().seen == "passive"
