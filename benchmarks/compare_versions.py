"""Benchmark two versions of rgou side by side: the working tree against a git revision.

Each round runs `python -m rgou.bench --only SECTIONS --json` once for the
revision (checked out into a temporary git worktree, imported through
PYTHONPATH) and once for the working tree, alternating which goes first, so
both see the same machine. The table gives each key metric's median over the
rounds and the ratio new / old (for times, old / new: above 1 is faster).

    python benchmarks/compare_versions.py --base a8d33e0 --rounds 3 --markdown benchmarks/results/compare.md

With --all every speed row both versions report is compared (rates: units per
second; times: ns, us, ms, s; memory: MB), not only the key metrics.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# (section, metric, higher is better)
KEY_METRICS = (
    ("engine", "random_playout_plies_per_s", True),
    ("engine", "arena_heuristic_games_per_s", True),
    ("search", "depth1_median_us", False),
    ("search", "depth2_median_us", False),
    ("search", "depth3_median_us", False),
    ("search", "depth3_mean_us", False),
    ("search", "depth4_median_us", False),
    ("search", "perfect_decision_us", False),
    ("selfplay", "depth1_games_per_s", True),
    ("selfplay", "depth2_games_per_s", True),
    ("selfplay", "depth3_games_per_s", True),
    ("nn", "numba_b32_samples_per_s", True),
    ("nn", "numba_b64_samples_per_s", True),
    ("nn", "numba_b256_samples_per_s", True),
    ("nn", "numba_b1024_samples_per_s", True),
    ("nn", "numba_b4096_samples_per_s", True),
    ("nn", "numba_exec_gemm_pct_min_ge256", True),  # absent before the executed share: the row is then left out
    ("nn", "value_policy_one_us", False),
    ("nn", "ml_agent_decision_us", False),
    ("nn", "ml1_agent_decision_us", False),
    ("nn", "ml2_agent_decision_us", False),
    ("nn", "ml_upstream_decision_us", False),
)


TIME_UNITS = ("ns", "us", "ms", "s", "MB")  # lower is better


def speed_metrics(report: dict) -> list[tuple[str, str, bool]]:
    """(section, metric, higher is better) for every rate, time or memory row of a report."""
    rows = []
    for section, result in report["sections"].items():
        for metric, entry in result["metrics"].items():
            if entry["unit"].endswith("/s"):
                rows.append((section, metric, True))
            elif entry["unit"] in TIME_UNITS:
                rows.append((section, metric, False))
    return rows


def run_bench(tree: Path, sections: str, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, "-m", "rgou.bench", "--only", sections, "--quiet", "--json", str(out)]
    subprocess.run(cmd, cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="git revision to compare against")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sections", default="search,selfplay,nn")
    parser.add_argument("--markdown", help="write the table here")
    parser.add_argument("--all", action="store_true", help="compare every speed row, not only the key metrics")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rgou-compare-") as tmp:
        base = Path(tmp) / "base"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(base), args.base], cwd=ROOT, check=True, capture_output=True
        )
        try:
            results: dict[str, list[dict]] = {"old": [], "new": []}
            for r in range(args.rounds):
                order = [("old", base), ("new", ROOT)] if r % 2 == 0 else [("new", ROOT), ("old", base)]
                for name, tree in order:
                    print(f"round {r + 1}: {name}", file=sys.stderr, flush=True)
                    results[name].append(run_bench(tree, args.sections, Path(tmp) / f"{name}-{r}.json"))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, capture_output=True)
    rows = []
    metrics = speed_metrics(results["new"][0]) if args.all else KEY_METRICS
    for section, metric, higher in metrics:
        values = {}
        for name in ("old", "new"):
            got = [
                rep["sections"][section]["metrics"][metric]["value"]
                for rep in results[name]
                if metric in rep["sections"].get(section, {}).get("metrics", {})
            ]
            values[name] = statistics.median(got) if got else None
        if values["old"] is None or values["new"] is None:
            continue
        speedup = values["new"] / values["old"] if higher else values["old"] / values["new"]
        unit = results["new"][0]["sections"][section]["metrics"][metric]["unit"]
        rows.append(
            f"| {section} | `{metric}` | {values['old']:,.4g} | {values['new']:,.4g} | {unit} | {speedup:.3f} |"
        )
    loads = [
        rep["sections"][s]["other_load_cores"] or 0.0
        for name in results
        for rep in results[name]
        for s in rep["sections"]
    ]
    text = "\n".join(
        [
            f"# rgou: {args.base} against the working tree ({datetime.date.today()})",
            "",
            f"Command: `python benchmarks/compare_versions.py --base {args.base} --rounds {args.rounds} "
            f"--sections {args.sections}{' --all' if args.all else ''}`. "
            f"Medians over {args.rounds} alternating rounds on this machine; "
            f"other processes used at most {max(loads):.2f} cores during a section.",
            "",
            "| section | metric | before | after | unit | speed after / before |",
            "|---|---|---:|---:|---|---:|",
            *rows,
            "",
        ]
    )
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
        runs = Path(args.markdown)
        runs.with_name(runs.stem + "-runs.json").write_text(json.dumps(results, indent=1))  # every round's report


if __name__ == "__main__":
    main()
