"""Sweep throughput: a 1,000-point sweep of the training core (closed form, `--mode core`),
10 GPU counts x 10 token budgets x 10 electricity prices, on the local executor (target < 10 s)
and on the process executor; plus a 200-point simulation sweep (training DES) locally.

Run: .venv/bin/python benchmarks/bench_sweep.py   -> benchmarks/results/sweep.json
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from costsim.api.run import scenario_from_dict
from costsim.sweep import run_sweep
from costsim.sweep.points import parse_grid
from costsim.sweep.store import query

BASE = {
    "name": "bench-sweep-core",
    "training": {
        "model": "llama-3-8b", "hardware": "h100-sxm", "num_gpus": 1024, "tokens": 1e12,
        # a fixed layout: the core evaluates one configuration per point instead of searching
        "layout": {"tp": 1, "pp": 1, "cp": 1, "micro_batch": 2, "recompute": "selective", "zero": 1, "vp": 1},
    },
}
GRID = [
    "training.num_gpus=256,512,768,1024,1536,2048,3072,4096,6144,8192",
    "training.tokens=1e11,2e11,5e11,1e12,2e12,3e12,5e12,8e12,1e13,1.5e13",
    "economics.electricity_usd_per_kwh=0.03,0.04,0.05,0.06,0.07,0.08,0.1,0.12,0.15,0.2",
]
SIM_BASE = {
    "name": "bench-sweep-sim",
    "training": {"model": "llama-3-8b", "hardware": "h100-sxm", "num_gpus": 2048, "tokens": 2e10, "global_batch": 4096,
                 "layout": {"tp": 1, "pp": 1, "cp": 1, "micro_batch": 1, "recompute": "selective", "zero": 1, "vp": 1},
                 "timeline": {"bucket_s": 600, "fine_max_per_kind": 0}, "reliability": {"rate_scale": 20}},
}


def bench(name: str, scenario, grid, *, mode: str, executor: str, seeds: int = 1, workers: int | None = None) -> dict:
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        res = run_sweep(scenario, out=d, grid=parse_grid(grid), seeds=seeds, mode=mode, executor=executor, workers=workers)
        wall = time.perf_counter() - t0
        _, rows = query(d, "SELECT count(*), count(DISTINCT point_id), sum(CASE WHEN status = 'ok' THEN 1 ELSE 0 END) FROM points")
    n, uniq, ok = rows[0]
    out = {"name": name, "mode": mode, "executor": executor, "points": res["points_total"], "stored": n, "unique": uniq, "ok": ok,
           "wall_s": round(wall, 3), "points_per_s": round(n / wall, 1)}
    print(f"{name:34s} {n:5d} points ({ok} ok)  {wall:7.2f} s  {n / wall:8.1f} points/s")
    return out


def main() -> int:
    core = scenario_from_dict(BASE)
    sim = scenario_from_dict(SIM_BASE)
    results = [
        bench("core, local, 1000 points", core, GRID, mode="core", executor="local"),
        bench("core, process x2, 1000 points", core, GRID, mode="core", executor="process", workers=2),
        bench("training DES, local, 200 points", sim, ["training.num_gpus=1024,2048"], mode="sim", executor="local", seeds=100),
    ]
    doc = {"benchmark": "sweep", "target": "1,000-point training-core sweep in < 10 s locally",
           "machine": {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count()},
           "results": results, "target_met": results[0]["wall_s"] < 10.0 and results[0]["ok"] == 1000}
    out = Path(__file__).parent / "results" / "sweep.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"target (<10 s, 1000 ok) met: {doc['target_met']}  -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
