"""Seconds to solve a year of hourly battery dispatch exactly (LP, HiGHS), against the heuristics.

    .venv/bin/python benchmarks/bench_battery_lp.py      -> benchmarks/results/battery_lp.json

A 100 MW training site on us-ercot-texas hourly prices, a 110 MW import cap, 15 USD/kW-month demand
charge, a 200 MWh / 50 MW battery: best of 3 solves, and the energy + demand cost of each policy.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

from costsim.economics.timeseries import S_PER_MONTH, demand_charge_usd  # noqa: E402
from costsim.power.battery import dispatch  # noqa: E402
from costsim.power.battery_lp import J_PER_KWH  # noqa: E402
from costsim.power.signals import load_region  # noqa: E402
from costsim.specs.site import BatterySpec  # noqa: E402


def main() -> None:
    n = 8760
    t = np.arange(n) * 3600.0
    price = np.asarray(load_region("us-ercot-texas").price.at(t), float)
    rng = np.random.default_rng(0)
    load = 100e6 + 8e6 * np.sin(np.arange(n) / 24 * 2 * np.pi) + rng.normal(0, 3e6, n)
    cap = 110e6
    demand = 15.0 / 1000.0  # USD per W-month: each billing month's peak (costsim.economics.timeseries.S_PER_MONTH)
    spec = BatterySpec(energy_mwh=200, power_mw=50, policy="optimal")
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        opt = dispatch(load, 3600.0, spec, cap_w=cap, price=price, demand_charge_usd_per_w=demand, demand_period_s=S_PER_MONTH)
        best = min(best, time.perf_counter() - t0)

    best_nodc = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        dispatch(load, 3600.0, spec, cap_w=cap, price=price)
        best_nodc = min(best_nodc, time.perf_counter() - t0)

    def cost(res):
        return float(np.sum(price * res.grid_import_w * 3600.0) / J_PER_KWH
                     + demand_charge_usd(res.grid_import_w, 3600.0, demand * 1000.0))  # the monthly bill

    costs = {"optimal": cost(opt)}
    for pol in ("peak_shaving", "smoothing", "arbitrage"):
        costs[pol] = cost(dispatch(load, 3600.0, spec.model_copy(update={"policy": pol}), cap_w=cap, price=price))
    out = {"what": "a year of hourly battery dispatch solved as an LP (HiGHS via scipy.optimize.linprog), one core",
           "steps": n, "variables": 4 * n + int(np.sum(load > cap)) + 12, "best_of_3_solve_s": best, "best_of_3_solve_s_without_demand_charge": best_nodc,
           "target_s": 1.0, "meets_target": best < 1.0,
           "energy_plus_demand_cost_usd": costs, "machine_info": machine_info()}
    print(json.dumps(out, indent=2))
    p = Path(__file__).resolve().parent / "results" / "battery_lp.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
