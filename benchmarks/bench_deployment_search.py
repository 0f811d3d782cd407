"""Speed of the deployment search (`costsim serve --gpus N`, costsim.estimators.deployment.search_deployment).

Searches replicas x TP x PP x EP x weight precision for several (model, accelerator, GPU budget)
cases; reports (candidate, batch) configurations evaluated per second by the vectorized core and
whole searches per second, best of 5 repeats per case, on one core. Writes
benchmarks/results/deployment_search.json.

    .venv/bin/python benchmarks/bench_deployment_search.py
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from costsim.estimators.deployment import search_deployment  # noqa: E402
from costsim.specs.catalog import get_accelerator, get_model  # noqa: E402

CASES = [
    ("llama-2-70b", "h100-sxm", 8, None),
    ("llama-3.1-8b", "h100-sxm", 64, None),
    ("llama-3.1-405b", "b200", 64, None),
    ("mixtral-8x22b", "h100-sxm", 64, None),
    ("deepseek-v3", "gb200", 72, None),
    ("llama-3.1-70b", "mi300x", 8, "fp8"),
]


def main() -> None:
    rows = []
    for model, hw, gpus, wp in CASES:
        m, a = get_model(model), get_accelerator(hw)
        search_deployment(m, a, gpus, input_tokens=1000, output_tokens=500, weight_precision=wp)  # warm catalogs
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            s = search_deployment(m, a, gpus, input_tokens=1000, output_tokens=500, weight_precision=wp)
            times.append(time.perf_counter() - t0)
        best = min(times)
        rows.append({"model": model, "hardware": hw, "gpus": gpus, "weight_precision": wp or "searched",
                     "candidates": s.layouts_considered, "configurations": s.configurations_evaluated,
                     "best_s": best, "median_s": statistics.median(times),
                     "configurations_per_s": s.configurations_evaluated / best,
                     "chosen": None if s.chosen is None else f"{s.chosen.replicas} x (TP{s.chosen.tp} PP{s.chosen.pp} EP{s.chosen.ep}) {s.chosen.weight_precision}"})
    total_cfg = sum(r["configurations"] for r in rows)
    total_s = sum(r["best_s"] for r in rows)
    out = {
        "what": "deployment search: (replica layout x precision x batch) points of the vectorized serving curve per second, one core",
        "configurations_per_s": total_cfg / total_s,
        "searches_per_s": len(rows) / total_s,
        "cases": rows,
    }
    print(json.dumps(out, indent=2))
    path = Path(__file__).resolve().parent / "results" / "deployment_search.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
