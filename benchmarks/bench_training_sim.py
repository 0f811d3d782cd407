"""Speed of the training DES: one 54-day 16k-GPU replicate (Llama 3 405B scenario), 100
replicates (Monte Carlo), and seconds per simulated week. Targets: one < 1 s; 100 < 30 s.

Run: .venv/bin/python benchmarks/bench_training_sim.py  -> benchmarks/results/training_sim.json
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
import sys as _sys

_sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

import yaml

from costsim.sim.training import monte_carlo_training, prepare, simulate_training
from costsim.specs.scenario import Scenario

REPO = Path(__file__).resolve().parents[1]


def _cpu() -> float:
    """CPU seconds of this process (user + system, os.times): the machine is shared, so wall time
    alone overstates the cost under load."""
    t = os.times()
    return t.user + t.system


def main() -> dict:
    sc = Scenario.model_validate(yaml.safe_load((REPO / "scenarios" / "llama3-405b-pretraining.yaml").read_text()))
    t = time.perf_counter()
    su = prepare(sc)
    prep_s = time.perf_counter() - t
    simulate_training(sc, seed=0, setup=su)  # warm-up
    one, one_cpu = [], []
    for seed in range(3):
        t, c = time.perf_counter(), _cpu()
        out = simulate_training(sc, seed=seed, setup=su)
        one.append(time.perf_counter() - t)
        one_cpu.append(_cpu() - c)
    one_s = min(one)
    t, c = time.perf_counter(), _cpu()
    mc = monte_carlo_training(sc, seeds=range(100), progress=False)
    mc_s = time.perf_counter() - t
    mc_cpu = _cpu() - c
    weeks = out.summary["simulated_time_s"] / (7 * 86400)
    d = mc["distributions"]
    res = {
        "scenario": sc.name,
        "num_gpus": sc.training.num_gpus,
        "simulated_days": out.summary["simulated_time_s"] / 86400,
        "prepare_s": prep_s,
        "one_replicate_s": one_s,  # with fine windows; Monte Carlo runs skip them
        "one_replicate_cpu_s": min(one_cpu),
        "replicates_100_s": mc_s,  # includes one prepare() (training-core layout search)
        "replicates_100_cpu_s": mc_cpu,
        "s_per_simulated_week": one_s / weeks,
        "targets": {"one_replicate_s": 1.0, "replicates_100_s": 30.0},
        "interruptions_mean": d["interruptions"]["mean"],
        "interruptions_p5_p95": [d["interruptions"]["p5"], d["interruptions"]["p95"]],
        "goodput_mean": d["goodput_frac"]["mean"],
        "goodput_p5_p95": [d["goodput_frac"]["p5"], d["goodput_frac"]["p95"]],
        "power_swing_w_mean": d["power_swing_w"]["mean"],
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load_avg": os.getloadavg()},
        "machine_info": machine_info(),
    }
    return res


if __name__ == "__main__":
    r = main()
    out = REPO / "benchmarks" / "results" / "training_sim.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(r, indent=2))
    for k, v in r.items():
        print(f"{k}: {v}")
