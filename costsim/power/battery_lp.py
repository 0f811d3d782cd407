"""Exact battery dispatch with perfect foresight: a linear program solved by HiGHS
(`scipy.optimize.linprog(method="highs")`).

Variables per step i (n steps of dt seconds): charge c_i >= 0 and discharge d_i >= 0 (W, at the
battery terminals), stored energy e_i (J, end of step), unserved load u_i >= 0 (W; the cap could not
be met), and one peak-import variable P (W) for the demand charge.

    grid_i = load_i - d_i + c_i - u_i
    0 <= grid_i <= cap_i                       (no export; the import cap)
    grid_i <= P
    e_i = e_{i-1} + dt (eta c_i - d_i / eta),   e_min <= e_i <= e_max,  e_{-1} = e0
    0 <= c_i <= max_charge_i,  0 <= d_i <= max_discharge_i

Objective (selectable): energy cost sum(price_i grid_i dt) + demand charge x P ("cost"), or
emissions sum(carbon_i grid_i dt) ("carbon"); unserved load costs a penalty far above any price, so
the LP first keeps the load under the cap and only then optimizes. Every dispatch the heuristic
policies (costsim.power.battery) can produce is feasible here, so the optimum is never worse than
theirs on the same objective. No terminal state-of-charge condition is imposed (as for the
heuristics); `final_soc_at_least_initial=True` adds e_n >= e0.

A year of hourly steps (35k variables) solves in ~0.2-0.3 s without a demand charge and ~1.6 s with one
on a 2-core EPYC (the peak variable couples every step; benchmarks/bench_battery_lp.py).
"""

from __future__ import annotations

import numpy as np

from costsim.units import J_PER_KWH, J_PER_MWH, MEGA

# USD per J of unserved load: 1,000 USD/kWh, orders of magnitude above any wholesale price
UNSERVED_PENALTY_USD_PER_J = 1000.0 / J_PER_KWH


class DispatchLPError(RuntimeError):
    """HiGHS reported no optimal solution (should not happen: the LP is always feasible)."""


def optimal_dispatch_arrays(load_w, dt_s: float, *, energy_j: float, rating_w: float, rte: float, e0_j: float,
                            e_min_j: float, e_max_j: float, cap_w=np.inf, price_usd_per_kwh=None, carbon_g_per_kwh=None,
                            objective: str = "cost", demand_charge_usd_per_w: float = 0.0, max_discharge_w=None,
                            max_charge_w=None, final_soc_at_least_initial: bool = False
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(battery_w: + discharge / - charge, stored energy e_j at the end of each step, unserved_w, objective value)."""
    from scipy import sparse
    from scipy.optimize import linprog

    load_w = np.asarray(load_w, float)
    n = load_w.size
    if n == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0), 0.0
    # the LP is built in MW, MWh and hours (values of order 1-1e3): HiGHS solves a well-scaled
    # problem several times faster than one in W and J (1e6-1e12)
    sc_p, sc_e = MEGA, J_PER_MWH
    dt = dt_s / 3600.0
    load = load_w / sc_p
    cap = np.broadcast_to(np.asarray(cap_w, float), (n,)).astype(float) / sc_p
    rating = rating_w / sc_p
    e0, e_min, e_max = e0_j / sc_e, e_min_j / sc_e, e_max_j / sc_e
    eta = float(np.sqrt(rte))
    dis_lim = np.clip(np.broadcast_to(np.asarray(rating_w if max_discharge_w is None else max_discharge_w, float), (n,)) / sc_p, 0.0, rating)
    chg_lim = np.clip(np.broadcast_to(np.asarray(rating_w if max_charge_w is None else max_charge_w, float), (n,)) / sc_p, 0.0, rating)
    if objective == "cost":  # USD per MWh
        w = np.broadcast_to(np.asarray(0.0 if price_usd_per_kwh is None else price_usd_per_kwh, float), (n,)) * 1000.0
        peak_w = float(demand_charge_usd_per_w) * sc_p  # USD per MW of peak
    elif objective == "carbon":  # g per MWh
        if carbon_g_per_kwh is None:
            raise ValueError("objective 'carbon' needs a carbon-intensity series")
        w = np.broadcast_to(np.asarray(carbon_g_per_kwh, float), (n,)) * 1000.0
        peak_w = 0.0
    else:
        raise ValueError(f"unknown dispatch objective {objective!r}; use cost or carbon")
    penalty = max(UNSERVED_PENALTY_USD_PER_J * sc_e, 1e3 * float(np.max(np.abs(w), initial=0.0)))
    # variable layout: [c (n), d (n), e (n), u (n), P (only with a demand charge)]
    ic, id_, ie, iu, ip = 0, n, 2 * n, 3 * n, 4 * n
    use_peak = peak_w > 0
    nv = 4 * n + 1 if use_peak else 4 * n
    cost = np.zeros(nv)
    cost[ic:ic + n] = w * dt          # grid = load - d + c - u: the load term is a constant
    cost[id_:id_ + n] = -w * dt
    cost[iu:iu + n] = -w * dt + penalty * dt
    if use_peak:
        cost[ip] = peak_w
    rows = np.arange(n)
    one = np.ones(n)
    # inequalities A x <= b
    # (1) no export: d - c + u <= load
    a1 = sparse.csr_matrix((np.concatenate([one, -one, one]), (np.concatenate([rows] * 3), np.concatenate([id_ + rows, ic + rows, iu + rows]))), shape=(n, nv))
    b1 = load.copy()
    # (2) cap: -d + c - u <= cap - load (rows with an infinite cap are dropped)
    fin = np.isfinite(cap)
    rf = rows[fin]
    k = rf.size
    a2 = sparse.csr_matrix((np.concatenate([-np.ones(k), np.ones(k), -np.ones(k)]),
                            (np.concatenate([np.arange(k)] * 3), np.concatenate([id_ + rf, ic + rf, iu + rf]))), shape=(k, nv))
    b2 = cap[fin] - load[fin]
    blocks, rhs = [a1, a2], [b1, b2]
    if use_peak:  # (3) grid_i <= P: -d + c - u - P <= -load
        a3 = sparse.csr_matrix((np.concatenate([-one, one, -one, -one]),
                                (np.concatenate([rows] * 4), np.concatenate([id_ + rows, ic + rows, iu + rows, np.full(n, ip)]))), shape=(n, nv))
        blocks.append(a3)
        rhs.append(-load)
    a_ub = sparse.vstack(blocks, format="csr")
    b_ub = np.concatenate(rhs)
    # equalities: e_i - e_{i-1} - dt eta c_i + dt/eta d_i = 0 (e_{-1} = e0)
    eq_r = np.concatenate([rows, rows[1:], rows, rows])
    eq_c = np.concatenate([ie + rows, ie + rows[1:] - 1, ic + rows, id_ + rows])
    eq_v = np.concatenate([one, -np.ones(n - 1), -dt * eta * one, dt / eta * one])
    a_eq = sparse.csr_matrix((eq_v, (eq_r, eq_c)), shape=(n, nv))
    b_eq = np.zeros(n)
    b_eq[0] = e0
    e_lo = np.full(n, e_min)
    if final_soc_at_least_initial:
        e_lo[-1] = max(e_min, min(e0, e_max))
    lo = [np.zeros(n), np.zeros(n), e_lo, np.zeros(n)] + ([np.zeros(1)] if use_peak else [])
    hi = [chg_lim, dis_lim, np.full(n, e_max), np.clip(load - cap, 0.0, np.maximum(load, 0.0))] + ([np.full(1, np.inf)] if use_peak else [])
    bounds = np.column_stack([np.concatenate(lo), np.concatenate(hi)])
    res = linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    if res.status != 0:
        raise DispatchLPError(f"HiGHS did not find the optimal dispatch: {res.message}")
    x = res.x
    c, d, e, u = x[ic:ic + n], x[id_:id_ + n], x[ie:ie + n], x[iu:iu + n]
    return (d - c) * sc_p, e * sc_e, u * sc_p, float(res.fun + float(np.sum(w * load * dt)))


def optimal_dispatch(load_w, dt_s: float, spec, *, cap_w=np.inf, price=None, carbon=None, demand_charge_usd_per_w: float = 0.0,
                     max_discharge_w=None, max_charge_w=None):
    """`costsim.power.battery.dispatch` for `policy: optimal` (returns its DispatchResult)."""
    from costsim.power.battery import DispatchResult

    load = np.asarray(load_w, float)
    n = load.size
    cap_j = spec.energy_mwh * J_PER_MWH
    p, e, u, _ = optimal_dispatch_arrays(
        load, dt_s, energy_j=cap_j, rating_w=spec.power_mw * MEGA, rte=spec.round_trip_efficiency_frac,
        e0_j=spec.initial_soc_frac * cap_j, e_min_j=spec.min_soc_frac * cap_j, e_max_j=spec.max_soc_frac * cap_j,
        cap_w=cap_w, price_usd_per_kwh=price, carbon_g_per_kwh=carbon, objective=spec.objective,
        demand_charge_usd_per_w=demand_charge_usd_per_w, max_discharge_w=max_discharge_w, max_charge_w=max_charge_w,
        final_soc_at_least_initial=spec.final_soc_at_least_initial)
    cap = np.broadcast_to(np.asarray(cap_w, float), (n,))
    grid = load - p
    short = np.maximum(grid - cap, 0.0)
    grid = np.minimum(grid, cap)
    return DispatchResult(grid, p, e / cap_j, short, float(dt_s), cap_j, spec.initial_soc_frac)
