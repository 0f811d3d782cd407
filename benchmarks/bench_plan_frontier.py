"""Speed of the planner's frontier: best model size for every (demand level x fit) at a quality target.

    .venv/bin/python benchmarks/bench_plan_frontier.py     -> benchmarks/results/plan_frontier.json

FLOP mode and cost mode (sizes priced once with the cores, then the frontier is pure numpy): 200 sizes x
200 lifetime demand levels x every shipped fit, best of 3.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

from costsim.api.plan import demand_frontier, load_fits  # noqa: E402
from costsim.api.plan_grid import plan_economics, price_grid  # noqa: E402
from costsim.specs.plan import PlanRequest  # noqa: E402


def main() -> None:
    demands = np.logspace(10, 15, 200)
    out = {"what": "planner frontier: best N for 200 sizes x 200 lifetime demand levels x every fit, one core",
           "sizes": 200, "demand_levels": 200, "fits": len(load_fits())}
    for mode in ("flops", "cost"):
        req = PlanRequest(target_loss=2.1, lifetime_tokens=1e12, mode=mode)
        t0 = time.perf_counter()
        prices = price_grid(req, plan_economics(req)) if mode == "cost" else None
        price_s = time.perf_counter() - t0
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            res = demand_frontier(req, prices, 2.1, demands, points=200)
            best = min(best, time.perf_counter() - t0)
        out[mode] = {"frontier_best_of_3_s": best, "pricing_s": price_s,
                     "params_at_lowest_and_highest_demand_besiroglu2024": [float(res["besiroglu2024"]["params"][0]),
                                                                            float(res["besiroglu2024"]["params"][-1])]}
    out["machine_info"] = machine_info()
    print(json.dumps(out, indent=2))
    p = Path(__file__).resolve().parent / "results" / "plan_frontier.json"
    p.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
