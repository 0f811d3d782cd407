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


def _reference_lp_objective(load_w, dt_s, *, energy_j, rating_w, rte, e0_j, e_min_j, e_max_j, cap_w, w_per_kwh,
                            demand_usd_per_w, final_soc_at_least_initial=False):
    """The plain formulation the LP started from (kept here as the reference): variables c, d, e, u in
    every step and P, the grid import as an expression (load - d + c - u) in three inequality rows per
    step (no export, cap, <= P), no bounds on P. Objective value in the same units (USD or g)."""
    from scipy import sparse
    from scipy.optimize import linprog

    n = load_w.size
    dt = dt_s / 3600.0
    load = load_w / 1e6
    cap = np.broadcast_to(np.asarray(cap_w, float), (n,)) / 1e6
    eta = np.sqrt(rte)
    e0, e_min, e_max = e0_j / 3.6e9, e_min_j / 3.6e9, e_max_j / 3.6e9
    w = np.asarray(w_per_kwh, float) * 1000.0
    penalty = max(UNSERVED_PENALTY_USD_PER_J * 3.6e9, 1e3 * float(np.abs(w).max()))
    ic, id_, ie, iu, ip = 0, n, 2 * n, 3 * n, 4 * n
    nv = 4 * n + 1
    cost = np.zeros(nv)
    cost[ic:ic + n], cost[id_:id_ + n], cost[iu:iu + n] = w * dt, -w * dt, -w * dt + penalty * dt
    cost[ip] = demand_usd_per_w * 1e6
    a_ub, b_ub = [], []
    for i in range(n):
        for sign, rhs in ((-1.0, load[i]), (1.0, cap[i] - load[i])):  # no export; cap
            if np.isfinite(rhs):
                row = np.zeros(nv)
                row[[ic + i, id_ + i, iu + i]] = sign * np.array([1.0, -1.0, -1.0])
                a_ub.append(row)
                b_ub.append(rhs)
        row = np.zeros(nv)
        row[[ic + i, id_ + i, iu + i, ip]] = [1.0, -1.0, -1.0, -1.0]
        a_ub.append(row)
        b_ub.append(-load[i])
    a_eq = np.zeros((n, nv))
    b_eq = np.zeros(n)
    for i in range(n):
        a_eq[i, [ie + i, ic + i, id_ + i]] = [1.0, -dt * eta, dt / eta]
        if i:
            a_eq[i, ie + i - 1] = -1.0
    b_eq[0] = e0
    e_lo = np.full(n, e_min)
    if final_soc_at_least_initial:
        e_lo[-1] = e0
    bounds = ([(0, rating_w / 1e6)] * (2 * n) + [(lo, e_max) for lo in e_lo]
              + [(0, max(float(x), 0.0)) for x in np.clip(load - cap, 0.0, np.maximum(load, 0.0))] + [(0, None)])
    res = linprog(cost, A_ub=sparse.csr_matrix(np.array(a_ub)), b_ub=b_ub, A_eq=sparse.csr_matrix(a_eq), b_eq=b_eq,
                  bounds=bounds, method="highs")
    assert res.status == 0, res.message
    return float(res.fun + np.sum(w * load * dt))


@pytest.mark.parametrize("case", ["demand+cap", "demand, no cap", "shortfall", "final soc", "varying cap", "carbon", "negative prices"])
def test_lp_objective_equals_the_reference_formulation(case):
    """The LP as built (grid import a variable, the cap as its bounds, P boxed by bounds every optimum
    satisfies, peak rows only where the import can exceed the lower bound) has the optimum of the plain
    formulation, on four days of hourly steps, with and without the cap binding, with load the battery
    cannot cover, the terminal SoC condition, a time-varying cap with uncapped hours, the carbon objective
    and negative prices."""
    from costsim.power.battery_lp import optimal_dispatch_arrays
    from costsim.power.signals import load_region

    n = 96
    t = np.arange(n) * H
    price = np.asarray(load_region("us-ercot-texas").price.at(t), float)
    rng = np.random.default_rng(3)
    load = 50e6 + 6e6 * np.sin(np.arange(n) / 24 * 2 * np.pi) + rng.normal(0, 2e6, n)
    kw = dict(energy_j=40 * 3.6e9, rating_w=10e6, rte=0.85, e0_j=20 * 3.6e9, e_min_j=2 * 3.6e9, e_max_j=38 * 3.6e9)
    cap, demand, w, objective, final = 54e6, 15.0 / 1000.0, price, "cost", False
    if case == "demand, no cap":
        cap = np.inf
    elif case == "shortfall":
        cap = 48e6
    elif case == "final soc":
        final = True
    elif case == "varying cap":
        cap = np.where(np.arange(n) % 24 < 12, 53e6, np.inf)
    elif case == "carbon":
        w, objective, demand = 300.0 + 200.0 * np.cos(np.arange(n) / 24 * 2 * np.pi), "carbon", 0.0
    elif case == "negative prices":
        w = price - 0.03
    _, _, _, obj = optimal_dispatch_arrays(load, H, cap_w=cap, price_usd_per_kwh=w, carbon_g_per_kwh=w, objective=objective,
                                           demand_charge_usd_per_w=demand, final_soc_at_least_initial=final, **kw)
    ref = _reference_lp_objective(load, H, cap_w=cap, w_per_kwh=w, demand_usd_per_w=demand,
                                  final_soc_at_least_initial=final, **kw)
    assert obj == pytest.approx(ref, rel=1e-9, abs=1e-6), (case, obj, ref)
    if case == "shortfall":
        assert ref > float(np.sum(price * np.minimum(load, cap) * H) / J_PER_KWH)  # the penalty is in both


def test_monthly_demand_charge_minimizes_the_monthly_bill():
    """With demand_period_s (the billing month) the LP's objective is the bill of
    costsim.economics.timeseries.demand_charge_usd (each month's peak, partial months pro rata): equal to it
    for its own dispatch, and no worse than the one-peak-over-the-horizon LP's dispatch billed monthly."""
    from costsim.economics.timeseries import S_PER_MONTH, demand_charge_usd
    from costsim.power.battery import dispatch
    from costsim.power.battery_lp import optimal_dispatch_arrays

    n = 24 * 75  # two and a half billing months, hourly
    rng = np.random.default_rng(3)
    h = np.arange(n)
    load = 80e6 + 10e6 * np.sin(h / 24 * 2 * np.pi) + 6e6 * (h > 24 * 40) + rng.normal(0, 2e6, n)
    price = 0.04 + 0.03 * (np.sin(h / 24 * 2 * np.pi - 1.0) > 0)
    rate = 15.0  # USD per kW-month
    spec = BatterySpec(energy_mwh=60, power_mw=15, policy="optimal")

    def bill(grid_w):
        return float(np.sum(price * grid_w * 3600.0) / 3.6e6 + demand_charge_usd(grid_w, 3600.0, rate))

    cap_j = spec.energy_mwh * 3.6e9
    _, _, _, obj = optimal_dispatch_arrays(load, 3600.0, energy_j=cap_j, rating_w=15e6, rte=spec.round_trip_efficiency_frac,
                                           e0_j=spec.initial_soc_frac * cap_j, e_min_j=spec.min_soc_frac * cap_j,
                                           e_max_j=spec.max_soc_frac * cap_j, price_usd_per_kwh=price,
                                           demand_charge_usd_per_w=rate / 1000.0, demand_period_s=S_PER_MONTH)
    monthly = dispatch(load, 3600.0, spec, price=price, demand_charge_usd_per_w=rate / 1000.0, demand_period_s=S_PER_MONTH)
    assert bill(monthly.grid_import_w) == pytest.approx(obj, rel=1e-6)
    months = n * 3600.0 / S_PER_MONTH
    one_peak = dispatch(load, 3600.0, spec, price=price, demand_charge_usd_per_w=rate / 1000.0 * months)
    assert bill(monthly.grid_import_w) <= bill(one_peak.grid_import_w) * (1 + 1e-9)
    # the later months' peaks are higher: one peak for all months overcharges the early ones and misplaces discharge
    assert bill(monthly.grid_import_w) < bill(one_peak.grid_import_w) - 1.0
    for pol in ("peak_shaving", "smoothing", "arbitrage"):
        assert bill(monthly.grid_import_w) <= bill(dispatch(load, 3600.0, spec.model_copy(update={"policy": pol}), price=price).grid_import_w) + 1e-6
