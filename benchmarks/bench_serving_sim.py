"""Serving DES speed: simulated requests per wall-second for one hour of a 1,000-GPU fleet.

Case: 125 replicas of 8 x H100-SXM (TP8) serving Llama 3 70B (bf16 weights), chat-like lengths
(prompt lognormal mean ~1,000 tokens, output mean ~250), Poisson arrivals at 300 requests/s
(1.08 M requests in the hour), least-outstanding routing, chunked prefill, one core.

    .venv/bin/python benchmarks/bench_serving_sim.py [--duration-s 3600] [--rate 300]

Writes benchmarks/results/serving_sim.json. Peer note: Vidur (Microsoft, MLSys 2024), a Python DES
of LLM serving, simulates every iteration of every replica with per-request objects; it is not
installed here and was not run. Its paper reports simulating a whole-day trace on the order of
minutes to an hour of CPU time per configuration (so roughly 10^2-10^3 simulated requests per
wall-second on one core for comparable fleets); treat that as an order-of-magnitude note, not a
measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info, peak_rss_bytes  # noqa: E402

from costsim.sim.serving import simulate_serving
from costsim.specs.scenario import Scenario


def scenario(duration_s: float, rate: float) -> Scenario:
    return Scenario.model_validate({
        "name": "bench-1000-gpu-llama3-70b",
        "serving": {
            "model": "llama-3-70b", "hardware": "h100-sxm", "num_replicas": 125, "gpus_per_replica": 8,
            "weight_precision": "bf16",
            "arrivals": {"process": "poisson", "rate_per_s": rate},
            "input_tokens": {"kind": "lognormal", "mean": 1000, "cv": 1.0, "low": 4, "high": 6000},
            "output_tokens": {"kind": "lognormal", "mean": 250, "cv": 1.0, "low": 1, "high": 2000},
            "scheduler": {"max_num_seqs": 256, "max_num_batched_tokens": 8192},
            "routing": "least_outstanding",
            "slo": {"ttft_s": 2.0, "tpot_s": 0.1},
            "request_table_limit": 0,
        },
        "simulation": {"duration_s": duration_s},
    })


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration-s", type=float, default=3600.0)
    ap.add_argument("--rate", type=float, default=300.0)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "serving_sim.json"))
    a = ap.parse_args()
    sc = scenario(a.duration_s, a.rate)
    t0 = time.perf_counter()
    c0 = os.times()
    out = simulate_serving(sc, seed=0)
    wall = time.perf_counter() - t0
    c1 = os.times()
    cpu = (c1.user - c0.user) + (c1.system - c0.system)  # os.times CPU seconds (machine is shared)
    s = out.summary
    res = {
        "case": "125 x 8xH100 (1,000 GPUs), Llama 3 70B bf16 TP8, Poisson %.0f req/s, %.0f s simulated" % (a.rate, a.duration_s),
        "requests_arrived": s["requests_arrived"],
        "requests_completed": s["requests_completed"],
        "wall_s": wall,
        "cpu_s": cpu,
        "simulated_requests_per_wall_s": s["requests_arrived"] / wall,
        "simulated_requests_per_cpu_s": s["requests_arrived"] / cpu,
        "sim_speedup_x_realtime": a.duration_s / wall,
        "gpu_utilization_frac": s["gpu_utilization_frac"],
        "ttft_p50_s": s["ttft_p50_s"], "tpot_p50_s": s["tpot_p50_s"],
        "throughput_tokens_per_s": s["throughput_tokens_per_s"],
        "facility_peak_power_w": s["facility_peak_power_w"],
        "load_average_1min_at_end": __import__("os").getloadavg()[0],
        "peak_rss_bytes": peak_rss_bytes(),
        "machine_info": machine_info(),
        "python": platform.python_version(), "machine": platform.processor() or platform.machine(),
        "peer_note": "Vidur (MLSys 2024) not installed/not run; its per-iteration, per-request-object design is "
                     "expected at ~1e2-1e3 simulated requests per wall-second on one core (order of magnitude, not measured).",
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
