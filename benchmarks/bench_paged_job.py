"""Paged-KV finite job speed (costsim.core.serving_paged): simulated requests per wall-second of the cohort schedule
plus its vectorized pricing, next to the SimPy serving simulation running the same offline burst.

Cases: AMD's Llama 3.1 405B FP8 row on 8 x MI300X (rocm-vllm, 1,500 requests of 128 in / 4,096 out where 975 fit the
KV cache at full length: 525 preemptions) and Llama 3 8B bf16 on one H100 (vllm, 600 requests of 128 / 2,048 where
211 fit), the second also through the discrete-event simulation (one replica, a trace with every request at t = 0).

    .venv/bin/python benchmarks/bench_paged_job.py

Also times `costsim serve --requests` end to end on paged engines (costsim.api.serve: the search or the replica,
then the job: exact schedules of 1 and 2 x max_num_seqs requests per replica and the extrapolation beyond), and
checks the extrapolation against the exact schedule of 4 x max_num_seqs requests on the 405B row.

Writes benchmarks/results/paged_job.json.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

from costsim.core import inference as core
from costsim.core.serving_paged import paged_finite_job
from costsim.estimators.inference import PREFILL_CHUNK_TOKENS, core_inputs
from costsim.api.serve import serve
from costsim.estimators.offline_job import paged_replica_job
from costsim.sim.offline_burst import run_offline_burst
from costsim.specs.requests import ServeRequest
from costsim.specs.catalog import get_accelerator, get_model


def paged(model: str, hw: str, wp: str, kv: str | None, engine: str, tp: int, n: int, i: int, o: int, reps: int = 5):
    ci = core_inputs(get_model(model), get_accelerator(hw), wp, kv, engine, None)
    lay = core.Layout(tp=tp)
    cap = float(core.kv_capacity_tokens(ci.shape, ci.dev, ci.prec, lay, i + o, min(PREFILL_CHUNK_TOKENS, i + o)))
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        job = paged_finite_job(ci.shape, ci.dev, ci.prec, lay, kv_capacity_tokens=cap, max_seqs=n, input_tokens=i,
                               output_tokens=o, num_requests=n)
        best = min(best, time.perf_counter() - t0)
    return job, best


def des_burst_s(n: int, i: int, o: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        sim = run_offline_burst(Path(d), model="llama-3-8b", hardware="h100-sxm", engine="vllm", num_requests=n,
                                input_tokens=i, output_tokens=o, max_num_seqs=n)
        return sim.makespan_s, time.perf_counter() - t0


def serve_job_s(reps: int = 3, **kw) -> tuple[dict, float]:
    best, r = float("inf"), {}
    for _ in range(reps):
        t0 = time.perf_counter()
        r = serve(ServeRequest(**kw), with_curve=False)
        best = min(best, time.perf_counter() - t0)
    return r["job"], best


def extrapolation_rel() -> float:
    """Extrapolated / exact time of 4 x max_num_seqs requests (405B row, max_num_seqs 1,500) - 1."""
    ci = core_inputs(get_model("llama-3.1-405b"), get_accelerator("mi300x"), "fp8", "fp8", "rocm-vllm", None)
    lay = core.Layout(tp=8)
    extrapolated = paged_replica_job(ci, lay, 128, 4096, 1500, 6000)[0]
    cap = float(core.kv_capacity_tokens(ci.shape, ci.dev, ci.prec, lay, 4224, 4224))
    exact = paged_finite_job(ci.shape, ci.dev, ci.prec, lay, kv_capacity_tokens=cap, max_seqs=1500, input_tokens=128,
                             output_tokens=4096, num_requests=6000).job_time_s
    return extrapolated / exact - 1.0


def main() -> None:
    big, big_s = paged("llama-3.1-405b", "mi300x", "fp8", "fp8", "rocm-vllm", 8, 1500, 128, 4096)
    small, small_s = paged("llama-3-8b", "h100-sxm", "bf16", None, "vllm", 1, 600, 128, 2048)
    des_job_s, des_wall_s = des_burst_s(600, 128, 2048)
    res = {
        "case_405b": "Llama 3.1 405B FP8, 8 x MI300X, rocm-vllm, 1,500 x (128 in / 4,096 out)",
        "paged_405b_wall_s": big_s,
        "paged_405b_requests_per_wall_s": 1500 / big_s,
        "paged_405b_preemptions": big.schedule.preemptions,
        "paged_405b_decode_segments": int(big.schedule.decode_steps.size),
        "paged_405b_throughput_tokens_per_s": big.throughput_tokens_per_s,
        "case_8b": "Llama 3 8B bf16, 1 x H100, vllm, 600 x (128 in / 2,048 out)",
        "paged_8b_wall_s": small_s,
        "paged_8b_requests_per_wall_s": 600 / small_s,
        "paged_8b_job_s": small.job_time_s,
        "des_8b_job_s": des_job_s,
        "des_8b_wall_s": des_wall_s,
        "des_8b_requests_per_wall_s": 600 / des_wall_s,
        "paged_vs_des_job_time_rel": small.job_time_s / des_job_s - 1.0,
        **_serve_rows(),
        "extrapolated_vs_exact_405b_6000_requests_rel": extrapolation_rel(),
        "machine": machine_info(),
    }
    out = Path(__file__).parent / "results" / "paged_job.json"
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps({k: v for k, v in res.items() if k != "machine"}, indent=2))


def _serve_rows() -> dict:
    amd, amd_s = serve_job_s(model="llama-3.1-405b", hardware="mi300x", gpus=8, single_replica=True, weight_precision="fp8",
                             kv_precision="fp8", engine="rocm-vllm", input_tokens=128, output_tokens=4096, requests=1_000_000,
                             max_num_seqs=1500)
    v8, v8_s = serve_job_s(model="llama-3.1-8b", hardware="h100-sxm", gpus=8, engine="vllm", input_tokens=1000,
                           output_tokens=500, requests=10_000_000, max_num_seqs=1024)
    return {
        "serve_requests_405b": "costsim serve: 405B row, 1,000,000 requests, max_num_seqs 1,500 (one replica)",
        "serve_requests_405b_wall_s": amd_s, "serve_requests_405b_preemptions": amd["preemptions"],
        "serve_requests_8b": "costsim serve: Llama 3.1 8B, 8 x H100 budget, vllm, 10,000,000 x (1,000 / 500), max_num_seqs 1,024",
        "serve_requests_8b_wall_s": v8_s, "serve_requests_8b_job_throughput_tokens_per_s": v8["throughput_tokens_per_s"],
        "serve_requests_8b_steady_throughput_tokens_per_s": v8["steady_throughput_tokens_per_s"],
    }


if __name__ == "__main__":
    main()
