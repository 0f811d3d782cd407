"""Exact battery dispatch (issue 15 item 4): the perfect-foresight LP (HiGHS)."""

from __future__ import annotations

import numpy as np
import pytest

from costsim.power.battery import dispatch
from costsim.power.battery_lp import J_PER_KWH, UNSERVED_PENALTY_USD_PER_J
from costsim.specs.site import BatterySpec

H = 3600.0


def _total_cost(res, price, demand_usd_per_w=0.0):
    """Energy cost of the grid import + demand charge on its peak + the unserved-load penalty, USD."""
    return float(np.sum(np.asarray(price) * res.grid_import_w * res.dt_s) / J_PER_KWH
                 + demand_usd_per_w * res.grid_import_w.max(initial=0.0)
                 + UNSERVED_PENALTY_USD_PER_J * res.shortfall_w.sum() * res.dt_s)


def test_two_price_square_wave_equals_the_analytic_value():
    """Load 20 MW flat; price 0.02 USD/kWh for 4 h then 0.10 for 4 h, 10 cycles. Battery 10 MWh
    (usable 9 MWh from 5 % to 95 %), 5 MW, rte 0.81 (0.9 each way), starting empty (5 %). Each cycle it
    draws 9 / 0.9 = 10 MWh in the cheap hours and delivers 9 x 0.9 = 8.1 MWh in the dear ones:
    saving 8,100 x 0.10 - 10,000 x 0.02 = 610 USD per cycle."""
    cycles, per = 10, 4
    price = np.tile(np.r_[np.full(per, 0.02), np.full(per, 0.10)], cycles)
    load = np.full(price.size, 20e6)
    spec = BatterySpec(energy_mwh=10, power_mw=5, round_trip_efficiency_frac=0.81, initial_soc_frac=0.05,
                       min_soc_frac=0.05, max_soc_frac=0.95, policy="optimal")
    res = dispatch(load, H, spec, price=price)
    base = float(np.sum(price * load * H) / J_PER_KWH)
    assert base - _total_cost(res, price) == pytest.approx(cycles * 610.0, rel=1e-6)
    assert res.shortfall_w.max() == 0.0
    assert res.soc_frac.min() >= 0.05 - 1e-9 and res.soc_frac.max() <= 0.95 + 1e-9


def test_cap_is_kept_when_the_battery_can_and_shortfall_reported_when_not():
    load = np.r_[np.full(6, 10e6), np.full(2, 14e6), np.full(4, 10e6)]
    spec = BatterySpec(energy_mwh=10, power_mw=5, policy="optimal")
    res = dispatch(load, H, spec, cap_w=12e6, price=np.full(load.size, 0.05))
    assert res.grid_import_w.max() <= 12e6 + 1e-3 and res.shortfall_w.max() == pytest.approx(0.0, abs=1e-6)
    small = BatterySpec(energy_mwh=1, power_mw=1, policy="optimal")
    res = dispatch(load, H, small, cap_w=12e6, price=np.full(load.size, 0.05))
    assert res.shortfall_w.sum() > 0  # 2 MW over the cap for 2 h: a 1 MW battery cannot cover it, and says so


def _regions():
    from costsim.power.signals import available_regions

    return available_regions()


@pytest.mark.parametrize("region", _regions())
def test_lp_is_never_worse_than_any_heuristic_on_every_region(region):
    """A week of hourly steps of a training-like load (flat with daily maintenance dips and swings) on
    the region's hourly price, with a cap that binds at the peaks and a demand charge."""
    from costsim.power.signals import load_region

    prof = load_region(region)
    n = 24 * 7
    t = np.arange(n) * H
    price = np.asarray(prof.price.at(t), float)
    rng = np.random.default_rng(7)
    load = 80e6 + 6e6 * np.sin(np.arange(n) / 24 * 2 * np.pi) + rng.normal(0, 2e6, n)
    cap = np.full(n, 86e6)
    demand = 15.0 / 1000.0  # 15 USD per kW-month, one month
    for policy in ("peak_shaving", "smoothing", "arbitrage"):
        spec = BatterySpec(energy_mwh=40, power_mw=10, policy=policy)
        heur = dispatch(load, H, spec, cap_w=cap, price=price)
        opt = dispatch(load, H, spec.model_copy(update={"policy": "optimal"}), cap_w=cap, price=price,
                       demand_charge_usd_per_w=demand)
        c_h, c_o = _total_cost(heur, price, demand), _total_cost(opt, price, demand)
        assert c_o <= c_h * (1 + 1e-9) + 1e-6, (region, policy, c_o, c_h)


def test_carbon_objective_moves_energy_to_clean_hours():
    n = 48
    carbon = np.tile(np.r_[np.full(12, 100.0), np.full(12, 500.0)], 2)
    load = np.full(n, 10e6)
    spec = BatterySpec(energy_mwh=20, power_mw=5, policy="optimal", objective="carbon")
    res = dispatch(load, H, spec, carbon=carbon)
    g = res.grid_import_w
    assert g[carbon == 100].mean() > g[carbon == 500].mean()
    emissions = lambda gi: float(np.sum(carbon * gi * H) / J_PER_KWH)  # noqa: E731
    assert emissions(g) < emissions(load)


def test_optimal_policy_in_a_training_scenario():
    """The tiny training scenario with a grid cap, a region and a battery: the LP runs inside the
    simulation's site timeline, never exceeds what the peak-shaving heuristic imports at the peak, and the
    summary states the policy used."""
    from pathlib import Path

    from costsim.api.run import load_scenario, run_scenario

    tiny = Path(__file__).parent / "data" / "sweep-tiny-training.yaml"
    sets = ["grid.region=us-ercot-texas", "grid.battery.energy_mwh=2", "grid.battery.power_mw=0.5",
            "grid.demand_charge_usd_per_kw_month=15"]
    out = {}
    for policy in ("peak_shaving", "optimal"):
        s = load_scenario(tiny, sets + [f"grid.battery.policy={policy}"])
        summ = run_scenario(s, seed=0).variants[0].parts["training"].summary
        assert summ["battery_policy"] == policy
        out[policy] = summ
    assert out["optimal"]["grid_import_max_w"] <= out["peak_shaving"]["grid_import_max_w"] * (1 + 1e-6)
