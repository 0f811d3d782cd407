"""Power / grid benchmarks: battery dispatch and grid-cap evaluation over a year of minutes, and
device power model evaluations per second.

    .venv/bin/python benchmarks/bench_power.py   -> prints, writes benchmarks/results/power.json

Load: a 100 MW training site at 1-minute steps for a year (525,600 steps) with compute /
communication swings, checkpoint dips and a daily maintenance hour (seeded, deterministic); cap 95 MW.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np

from costsim.core.power import device_power_w, phase_power_w
from costsim.power.battery import dispatch, no_battery
from costsim.power.grid import apply_import_cap
from costsim.specs.site import BatterySpec

STEPS = 525_600
DT_S = 60.0


def _load() -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(STEPS)
    base = 100e6 * (0.9 + 0.05 * np.sin(2 * np.pi * t / 1440.0))
    swing = 8e6 * (rng.random(STEPS) < 0.3)
    ckpt = np.where(t % 180 < 3, -40e6, 0.0)
    maint = np.where((t % 1440) // 60 == 3, -60e6, 0.0)
    return np.maximum(base + swing + ckpt + maint, 5e6)


def _best(fn, repeats: int = 3) -> float:
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> dict:
    load = _load()
    cap = 95e6
    out: dict = {"steps": STEPS, "dt_s": DT_S, "python": platform.python_version(), "machine": platform.machine(),
                 "numpy": np.__version__}
    t = _best(lambda: apply_import_cap(load, cap))
    out["grid_cap_steps_per_s"] = STEPS / t
    t = _best(lambda: no_battery(load, DT_S, cap_w=cap))
    out["no_battery_dispatch_steps_per_s"] = STEPS / t
    price = 0.05 + 0.04 * (((np.arange(STEPS) * DT_S / 3600.0) % 24) >= 16)
    for pol, spec in (("peak_shaving", BatterySpec(energy_mwh=40, power_mw=20, policy="peak_shaving")),
                      ("smoothing", BatterySpec(energy_mwh=40, power_mw=20, policy="smoothing")),
                      ("arbitrage", BatterySpec(energy_mwh=40, power_mw=20, policy="arbitrage"))):
        res = {}

        def run(pol=pol, spec=spec):
            res["r"] = dispatch(load, DT_S, spec, cap_w=cap, policy=pol, price=price if pol == "arbitrage" else None)
        t = _best(run, 2)
        r = res["r"]
        out[f"battery_{pol}_steps_per_s"] = STEPS / t
        out[f"battery_{pol}_wall_s"] = t
        out[f"battery_{pol}_max_import_over_cap_w"] = float(np.max(r.grid_import_w - cap))
        out[f"battery_{pol}_shortfall_mwh"] = float(np.sum(r.shortfall_w) * DT_S / 3.6e9)
    n = 1_000_000
    rng = np.random.default_rng(1)
    uc, um = rng.random(n), rng.random(n)
    t = _best(lambda: device_power_w(70.0, 700.0, uc, um, power_cap_w=600.0))
    out["device_power_w_evals_per_s_vectorized"] = n / t
    k = 20_000
    t = _best(lambda: [device_power_w(70.0, 700.0, float(a), float(b)) for a, b in zip(uc[:k], um[:k])])
    out["device_power_w_evals_per_s_scalar_calls"] = k / t
    t = _best(lambda: [phase_power_w(70.0, 700.0, "compute") for _ in range(k)])
    out["phase_power_w_evals_per_s_scalar_calls"] = k / t
    return out


if __name__ == "__main__":
    res = main()
    for k, v in res.items():
        print(f"{k:50s} {v:,.6g}" if isinstance(v, float) else f"{k:50s} {v}")
    p = Path(__file__).parent / "results" / "power.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(res, indent=1))
    print(f"wrote {p}")
