"""Speed of `costsim plan` with lists: every combination of training hardware x serving hardware x region planned
and ranked (costsim.api.plan_compare).

    .venv/bin/python benchmarks/bench_plan_compare.py     -> benchmarks/results/plan_compare.json

2 training hardware x 2 serving hardware x 3 regions = 12 combinations, purchase pricing, target loss 2.1 and 1e13
lifetime tokens: once cold (every price grid built with the cores) and once warm (the process cache: a second
comparison that shares hardware and economics, e.g. another target or demand).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

from costsim.api.plan_compare import compare_plans  # noqa: E402
from costsim.specs.plan import PlanRequest  # noqa: E402

TRAIN, SERVE, REGIONS = ["h100-sxm", "b200"], ["h100-sxm", "h200"], ["us-pjm-virginia", "fr-france", "de-germany"]


def main() -> None:
    req = PlanRequest(target_loss=2.1, lifetime_tokens=1e13, economics={"pricing": "purchase"})
    out = {"what": "plan comparison: 2 training x 2 serving hardware x 3 regions (12 plans), one core",
           "combinations": len(TRAIN) * len(SERVE) * len(REGIONS)}
    for label in ("cold", "warm"):
        t0 = time.perf_counter()
        cmp = compare_plans(req, train_hardware=TRAIN, serve_hardware=SERVE, regions=REGIONS)
        dt = time.perf_counter() - t0
        out[label] = {"seconds": dt, "combinations_per_s": out["combinations"] / dt}
    out["best"] = cmp.options[0].label
    out["best_total_usd"] = cmp.options[0].total_usd
    out["machine_info"] = machine_info()
    print(json.dumps(out, indent=2))
    p = Path(__file__).resolve().parent / "results" / "plan_compare.json"
    p.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
