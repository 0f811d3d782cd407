"""Exact battery dispatch with perfect foresight: a linear program solved by HiGHS
(`scipy.optimize.linprog(method="highs")`).

Variables per step i (n steps of dt seconds): charge c_i >= 0 and discharge d_i >= 0 (W, at the
battery terminals), stored energy e_i (J, end of step), unserved load u_i >= 0 (W; the cap could not
be met; a variable only in the steps whose load exceeds the cap), and with a demand charge the grid
import g_i and one peak-import variable P (W).

    g_i = load_i - d_i + c_i - u_i             (without a demand charge an expression, with one a variable)
    0 <= g_i <= cap_i                          (no export; the import cap: rows, or g's bounds)
    g_i <= P
    e_i = e_{i-1} + dt (eta c_i - d_i / eta),   e_min <= e_i <= e_max,  e_{-1} = e0
    0 <= c_i <= max_charge_i,  0 <= d_i <= max_discharge_i

Objective (selectable): energy cost sum(price_i g_i dt) + demand charge x P ("cost"), or
emissions sum(carbon_i g_i dt) ("carbon"); unserved load costs a penalty far above any price, so
the LP first keeps the load under the cap and only then optimizes. Every dispatch the heuristic
policies (costsim.power.battery) can produce is feasible here, so the optimum is never worse than
theirs on the same objective. No terminal state-of-charge condition is imposed (as for the
heuristics); `final_soc_at_least_initial=True` adds e_n >= e0. `end_value_per_kwh` (in the objective's unit per kWh,
e.g. the mean price) values the energy left at the end by what it would deliver (times sqrt(rte)); without it that
energy is worth nothing, and a battery the load cannot empty may burn it in the ties below.

Charge and discharge in the same step are not excluded (that needs integer variables). The optimum uses both only
where it gains from losing energy: in hours of negative price (or carbon) the round-trip loss of cycling within the
hour is paid for (dk-dk1's 281 negative hours: ~286 MWh a year, ~$1.9k against the ~$2.6M a year arbitrage saving of
a 100 MWh / 25 MW battery), and in ties where the leftover energy is worth nothing. The result's battery_w is the net
d - c, so in those steps the state of charge falls by more than battery_w shows; DispatchResult.summary's
battery_losses_j counts it (it is backed out of the state of charge).

The demand charge is on one peak per billing period (`demand_period_s`: the month of
costsim.economics.timeseries, each charged for the share of it covered, as the bill is) or, without a
period, on ONE peak over the whole horizon; each P gets bounds that every optimum satisfies (a window-mean lower bound, the largest possible
import above), which cuts HiGHS's dual simplex iterations, and steps whose import can never exceed the
lower bound get no peak row. The optimum is the one of the plain formulation (tests/test_battery_lp.py
compares them). A year of hourly steps solves in ~0.3 s without a demand charge and ~0.8 s with one
on a 2-core EPYC (was ~1.7-1.9 s; benchmarks/bench_battery_lp.py). The peak variable couples every step
and makes each simplex iteration several times dearer; other configurations (a long-duration battery, a
cap close to the load) can still take 1-1.5 s for a year.
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
                            max_charge_w=None, final_soc_at_least_initial: bool = False, demand_period_s: float | None = None,
                            end_value_per_kwh: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(battery_w: + discharge / - charge, stored energy e_j at the end of each step, unserved_w, objective value).

    Demand charge: with `demand_period_s` None, one peak over the whole horizon costs demand_charge_usd_per_w
    per W; with a period (a billing month, costsim.economics.timeseries.S_PER_MONTH), each period's peak costs
    demand_charge_usd_per_w per W x the share of the period the horizon covers - the bill of
    costsim.economics.timeseries.demand_charge_usd, so the optimum is the least bill."""
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
    # unserved load can only take what exceeds the cap: a variable only in those steps
    short = np.clip(load - cap, 0.0, np.maximum(load, 0.0))
    su = np.flatnonzero(short > 0)
    m = su.size
    use_peak = peak_w > 0
    # variable layout: [c (n), d (n), e (n), u (m: shortfall steps), then with a demand charge g (n: grid
    # import) and P]. Without one the grid import stays an expression, load - d + c - u, in two inequality
    # rows per step (no export; the cap where finite): HiGHS solves that form faster. With one it is a
    # variable bounded by [0, cap] in an equality row, and the peak rows are g_i <= P: faster that way.
    ic, id_, ie, iu, ig = 0, n, 2 * n, 3 * n, 3 * n + m
    ip = ig + n
    if demand_period_s is None:  # one peak over the horizon
        period, covered = np.zeros(n, np.int64), np.ones(1)
    else:
        period = np.floor(np.arange(n) * dt_s / float(demand_period_s)).astype(np.int64)
        covered = np.minimum(np.bincount(period) * dt_s / float(demand_period_s), 1.0)
    n_p = int(period[-1]) + 1
    nv = ip + n_p if use_peak else ig
    rows = np.arange(n)
    one = np.ones(n)
    cost = np.zeros(nv)
    cost[iu:iu + m] = penalty * dt
    # the energy stored at the end is worth what it delivers (eta x stored) at end_value_per_kwh (objective units per MWh)
    cost[ie + n - 1] -= float(end_value_per_kwh) * 1000.0 * eta
    # storage: e_i - e_{i-1} - dt eta c_i + dt/eta d_i = 0 (e_{-1} = e0)
    r_ = [rows, rows[1:], rows, rows]
    c_ = [ie + rows, ie + rows[:-1], ic + rows, id_ + rows]
    v_ = [one, -np.ones(n - 1), -dt * eta * one, dt / eta * one]
    b_eq = [np.r_[e0, np.zeros(n - 1)]]
    e_lo = np.full(n, e_min)
    if final_soc_at_least_initial:
        e_lo[-1] = max(e_min, min(e0, e_max))
    lo = [np.zeros(n), np.zeros(n), e_lo, np.zeros(m)]
    hi = [chg_lim, dis_lim, np.full(n, e_max), short[su]]
    const = 0.0
    if use_peak:
        cost[ig:ig + n] = w * dt
        cost[ip:ip + n_p] = peak_w * covered
        # grid balance g + d - c + u = load; no export and the cap are g's bounds
        r_ += [n + rows, n + rows, n + rows, n + su]
        c_ += [ig + rows, id_ + rows, ic + rows, iu + np.arange(m)]
        v_ += [one, one, -one, np.ones(m)]
        b_eq.append(load)
        # bounds on P that every optimum satisfies (they cut no optimal point, so the optimum is the same):
        # P >= the mean import over any window, which the battery lowers by at most eta x its usable
        # energy (net discharge sum(d - c) dt <= eta (e_start - e_end)); P <= the largest import possible
        # (the optimum has P = max g). HiGHS's dual simplex needs far fewer iterations with P boxed.
        g_max = np.minimum(cap, load + chg_lim)
        storable = eta * (max(e0, e_max) - e_min)
        p_hi = np.array([float(np.max(g_max[period == q])) for q in range(n_p)])
        p_lo = np.minimum([_window_mean_bound((load - short)[period == q], dt, storable) for q in range(n_p)], p_hi)
        lo += [np.zeros(n), p_lo]
        hi += [cap, p_hi]
        # steps whose import can never exceed their period's lower bound need no peak row (g <= g_max <= p_lo <= P)
        pr = rows[g_max > p_lo[period]]
        k = pr.size
        a_ub = sparse.csr_matrix((np.concatenate([np.ones(k), -np.ones(k)]),
                                  (np.concatenate([np.arange(k)] * 2), np.concatenate([ig + pr, ip + period[pr]]))), shape=(k, nv))
        b_ub = np.zeros(k)
    else:
        # grid = load - d + c - u: the load term is a constant of the objective
        cost[ic:ic + n] += w * dt
        cost[id_:id_ + n] -= w * dt
        cost[iu:iu + m] -= w[su] * dt
        const = float(np.sum(w * load * dt))
        # (1) no export: d - c + u <= load; (2) cap: c - d - u <= cap - load (steps with a finite cap)
        fin = rows[np.isfinite(cap)]
        k = fin.size
        us = np.searchsorted(fin, su)  # a shortfall step has a finite cap: its cap row
        a_ub = sparse.csr_matrix((np.concatenate([one, -one, np.ones(m), np.ones(k), -np.ones(k), -np.ones(m)]),
                                  (np.concatenate([rows, rows, su, n + np.arange(k), n + np.arange(k), n + us]),
                                   np.concatenate([id_ + rows, ic + rows, iu + np.arange(m), ic + fin, id_ + fin, iu + np.arange(m)]))),
                                 shape=(n + k, nv))
        b_ub = np.concatenate([load, cap[fin] - load[fin]])
    nr = 2 * n if use_peak else n
    a_eq = sparse.csr_matrix((np.concatenate(v_), (np.concatenate(r_), np.concatenate(c_))), shape=(nr, nv))
    bounds = np.column_stack([np.concatenate(lo), np.concatenate(hi)])
    res = linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=np.concatenate(b_eq), bounds=bounds, method="highs")
    if res.status != 0:
        raise DispatchLPError(f"HiGHS did not find the optimal dispatch: {res.message}")
    x = res.x
    c, d, e = x[ic:ic + n], x[id_:id_ + n], x[ie:ie + n]
    u = np.zeros(n)
    u[su] = x[iu:iu + m]
    return (d - c) * sc_p, e * sc_e, u * sc_p, float(res.fun + const)

def _window_mean_bound(served, dt: float, storable: float) -> float:
    """A lower bound on max_i g_i: for every window W of steps, max g >= (sum_W served dt - storable) / (|W| dt),
    where `served` is the load less the most that may go unserved and `storable` the most net energy the
    battery can deliver over any window. Windows of ~60 lengths from one step to all of them."""
    n = served.size
    cum = np.concatenate([[0.0], np.cumsum(served * dt)])
    best = 0.0
    for k in np.unique(np.round(np.geomspace(1, n, 60)).astype(np.int64)):
        s = cum[k:] - cum[:-k]
        best = max(best, (float(s.max()) - storable) / (k * dt))
    return best


def optimal_dispatch(load_w, dt_s: float, spec, *, cap_w=np.inf, price=None, carbon=None, demand_charge_usd_per_w: float = 0.0,
                     max_discharge_w=None, max_charge_w=None, demand_period_s: float | None = None, end_value_per_kwh: float = 0.0):
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
        final_soc_at_least_initial=spec.final_soc_at_least_initial, demand_period_s=demand_period_s,
        end_value_per_kwh=end_value_per_kwh)
    cap = np.broadcast_to(np.asarray(cap_w, float), (n,))
    grid = load - p
    short = np.maximum(grid - cap, 0.0)
    grid = np.minimum(grid, cap)
    return DispatchResult(grid, p, e / cap_j, short, float(dt_s), cap_j, spec.initial_soc_frac)
