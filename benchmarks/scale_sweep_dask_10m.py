"""Ten million core-mode points on a Dask LocalCluster of 2 worker processes, then aggregated with
`costsim query` (DuckDB over the Parquet store).

Grid: 8 GPU counts (groups) x 125 token budgets x 100 electricity prices x 100 PUE values =
10,000,000 points. The driver enumerates the points (ids), the workers evaluate work units of
100,000 points each (batched estimators) and send their rows back as Arrow tables, the driver
writes them into the partitioned store.

Not part of `make bench` (it takes minutes on a shared 2-core machine); run it alone when the
machine is quiet-ish. Records wall time, the driver's CPU time, peak memory of the driver and of
all processes together (sampled every 0.5 s with psutil), the store size, and the query time.

Run: .venv/bin/python benchmarks/scale_sweep_dask_10m.py [--out DIR] [--keep]
     -> benchmarks/results/sweep_dask_10m.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from costsim.api.run import scenario_from_dict
from costsim.sweep import run_sweep
from costsim.sweep.points import parse_grid

BASE = {
    "name": "bench-sweep-10m",
    "training": {"model": "llama-3-8b", "hardware": "h100-sxm", "num_gpus": 1024, "tokens": 1e12, "global_batch": 16384,
                 "layout": {"tp": 1, "pp": 1, "cp": 1, "micro_batch": 1, "recompute": "selective", "zero": 1, "vp": 1}},
    "economics": {"pricing": "purchase"},
}
GRID = ["training.num_gpus=" + ",".join(str(128 * 2**i) for i in range(8)),
        "training.tokens=" + ",".join(f"{1e11 + i * 1.2e11:.6g}" for i in range(125)),
        "economics.electricity_usd_per_kwh=" + ",".join(f"{0.02 + i * 0.002:.6g}" for i in range(100)),
        "facility.pue=" + ",".join(f"{1.05 + i * 0.005:.6g}" for i in range(100))]


class MemorySampler(threading.Thread):
    """Peak RSS of this process and of this process + its children (the Dask workers)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.me = psutil.Process()
        self.peak_self = 0
        self.peak_all = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                rss_self = self.me.memory_info().rss
                rss_all = rss_self + sum(c.memory_info().rss for c in self.me.children(recursive=True))
            except psutil.Error:
                continue
            self.peak_self = max(self.peak_self, rss_self)
            self.peak_all = max(self.peak_all, rss_all)
            self.stop.wait(0.5)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None, help="store directory (default: a temporary one, removed afterwards)")
    ap.add_argument("--keep", action="store_true", help="keep the store")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    out = a.out or tempfile.mkdtemp(prefix="costsim-10m-")
    s = scenario_from_dict(BASE)
    mem = MemorySampler()
    mem.start()
    load0 = os.getloadavg()[0]
    c0, t0 = time.process_time(), time.perf_counter()
    res = run_sweep(s, out=out, grid=parse_grid(GRID), mode="core", executor="dask", workers=a.workers, progress=True, max_wall_s=None)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    mem.stop.set()
    mem.join()
    print(f"sweep: {res['ran']:,} points ({res['errors']} failed, {res['lost']} lost) in {wall:.1f} s wall "
          f"(setup {res['setup_s']:.1f} s), driver CPU {cpu:.1f} s; peak RSS driver {mem.peak_self / 1e9:.2f} GB, all {mem.peak_all / 1e9:.2f} GB",
          flush=True)
    exe = Path(sys.executable).parent / "costsim"
    sql = ("SELECT param_training_num_gpus AS gpus, count(*) AS points, avg(training_cost_usd) AS mean_cost_usd, "
           "quantile_cont(training_cost_usd, [0.1, 0.5, 0.9]) AS cost_p10_p50_p90, max(training_facility_energy_j) AS max_energy_j "
           "FROM points GROUP BY 1 ORDER BY 1")
    tq = time.perf_counter()
    q = subprocess.run([str(exe), "query", out, sql, "--json"], capture_output=True, text=True, timeout=1800)
    q_s = time.perf_counter() - tq
    rows = json.loads(q.stdout) if q.returncode == 0 else None
    total = sum(r["points"] for r in rows) if rows else None
    print(f"costsim query: exit {q.returncode}, {q_s:.1f} s, {total:,} points aggregated" if rows else q.stderr[-2000:], flush=True)
    size = sum(f.stat().st_size for f in Path(out).rglob("*.parquet"))
    files = len(list(Path(out).rglob("*.parquet")))
    doc = {
        "benchmark": "sweep_dask_10m",
        "target": "a 10-million-point sweep on a Dask LocalCluster of the 2 cores completes and `costsim query` aggregates it",
        "command": "python benchmarks/scale_sweep_dask_10m.py",
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count(),
                    "load_avg_1m_at_start": load0, "load_avg_1m_at_end": os.getloadavg()[0],
                    "note": "shared by ~8 engineers' jobs: wall time is pessimistic"},
        "points": res["points_total"], "ran": res["ran"], "errors": res["errors"], "lost": res["lost"],
        "wall_s": round(wall, 1), "setup_s": round(res["setup_s"], 1), "driver_cpu_s": round(cpu, 1),
        "points_per_wall_s": round(res["ran"] / wall),
        "peak_rss_driver_bytes": mem.peak_self, "peak_rss_all_processes_bytes": mem.peak_all,
        "store_bytes": size, "store_files": files,
        "query_exit": q.returncode, "query_s": round(q_s, 1), "query_points_aggregated": total, "query_rows": rows,
        "completed": res["ran"] == res["points_total"] and q.returncode == 0 and total == res["points_total"],
    }
    path = Path(__file__).parent / "results" / "sweep_dask_10m.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"completed: {doc['completed']} -> {path}")
    if not a.keep and not a.out:
        shutil.rmtree(out, ignore_errors=True)
    return 0 if doc["completed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
