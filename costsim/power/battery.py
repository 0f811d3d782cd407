"""On-site battery dispatch over a power time series.

Sign convention: battery power `p` > 0 discharges (feeds the load), < 0 charges (draws from the
grid). Grid import = load - p (no export). Round-trip efficiency is split evenly:
eta_c = eta_d = sqrt(rte); stored energy E changes by -p*dt/eta_d when discharging and
by -p*dt*eta_c when charging; E stays in [min_soc, max_soc] x capacity.

Policies (desired battery power before limits):
  * peak_shaving: discharge what the load exceeds a threshold (the import cap, or a given
    threshold; the load's 75th percentile without either), charge with the headroom below it, never above the
    load's own peak (a cap above the peak would otherwise be filled up to: a higher import peak than no battery).
  * smoothing: the grid sees a trailing moving average of the load (window_s, default 15 min);
    the battery absorbs the fast swings (synchronous training: compute vs communication phases,
    checkpoints), with a slow pull back to mid state of charge.
  * arbitrage: with each day's prices known in advance (day-ahead), pair the dearest steps of the day
    (discharge into the load, no export) with the cheapest (charge) while the dear price times the
    round-trip efficiency beats the cheap one, up to one cycle of the usable energy a day
    (`arbitrage_day_w`); a day whose spread does not pay for the round-trip loss leaves it idle.
  * optimal: perfect-foresight linear program (costsim.power.battery_lp): least energy cost plus
    demand charge, or least emissions; never worse than the heuristics above on its objective.
Limits applied every step: power rating, state of charge, the import cap (the battery must
discharge to keep import under the cap; whatever it cannot cover is reported as shortfall, never
silently dropped), and no charging above the cap.

Vectorized where possible: when the desired series never hits a state-of-charge bound, the
whole dispatch is one cumulative sum; otherwise a per-step loop resolves the bounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costsim.specs.site import BatterySpec
from costsim.units import J_PER_MWH, MEGA, S_PER_DAY


@dataclass(frozen=True)
class DispatchResult:
    grid_import_w: np.ndarray
    battery_w: np.ndarray  # + discharge, - charge
    soc_frac: np.ndarray  # state of charge at the END of each step
    shortfall_w: np.ndarray  # load that could not be served under the cap (must be curtailed)
    dt_s: float
    capacity_j: float
    soc0_frac: float = 0.0

    def summary(self) -> dict:
        dt = self.dt_s
        dis = np.clip(self.battery_w, 0, None).sum() * dt
        ch = np.clip(-self.battery_w, 0, None).sum() * dt
        return {"peak_grid_import_w": float(self.grid_import_w.max(initial=0.0)),
                "mean_grid_import_w": float(self.grid_import_w.mean()) if self.grid_import_w.size else 0.0,
                "battery_discharged_j": float(dis), "battery_charged_j": float(ch),
                "battery_losses_j": float(ch - dis - (self.soc_frac[-1] - self.soc0_frac) * self.capacity_j) if self.soc_frac.size else 0.0,
                "shortfall_energy_j": float(self.shortfall_w.sum() * dt),
                "min_soc_frac": float(self.soc_frac.min(initial=1.0)), "max_soc_frac": float(self.soc_frac.max(initial=0.0))}


def _as_series(x, n: int, name: str) -> np.ndarray:
    a = np.asarray(x, float)
    if a.ndim == 0:
        return np.full(n, float(a))
    if a.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have the same length as the load ({n}), got shape {a.shape}")
    return a


def trailing_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Causal moving average over the last `window` samples (shorter at the start)."""
    window = max(int(window), 1)
    c = np.concatenate([[0.0], np.cumsum(x)])
    i = np.arange(1, x.size + 1)
    lo = np.maximum(i - window, 0)
    return (c[i] - c[lo]) / (i - lo)


def desired_power_w(policy: str, load_w: np.ndarray, dt_s: float, spec: BatterySpec, *, cap_w: np.ndarray,
                    price=None, threshold_w: float | None = None, window_s: float = 900.0) -> np.ndarray:
    """Desired battery power per step for a policy (before SoC limits)."""
    n = load_w.size
    rating = spec.power_mw * MEGA
    if policy == "peak_shaving":
        thr = cap_w if threshold_w is None else np.minimum(cap_w, threshold_w)
        if not np.all(np.isfinite(thr)):
            fallback = float(np.percentile(load_w, 75)) if n else 0.0
            thr = np.where(np.isfinite(thr), thr, fallback)
        # a cap above the load's own peak is not a level to charge up to: the battery would raise the import peak (and
        # the demand charge) it is there to shave. It charges below the no-battery peak only.
        peak = float(load_w.max()) if n else 0.0
        return load_w - np.minimum(thr, peak)
    if policy == "smoothing":
        target = trailing_mean(load_w, int(round(window_s / dt_s)))
        return load_w - target
    if policy == "arbitrage":
        if price is None:
            raise ValueError("the arbitrage policy needs a price series")
        pr = _as_series(price, n, "price")
        steps_per_day = max(int(round(S_PER_DAY / dt_s)), 1)
        usable_j = spec.energy_mwh * J_PER_MWH * (spec.max_soc_frac - spec.min_soc_frac)
        over_cap = load_w > np.broadcast_to(cap_w, (n,))
        out = np.zeros(n)
        for s in range(0, n, steps_per_day):
            day = slice(s, s + steps_per_day)
            # refill only on days where the import cap binds (it forces discharges the trades did not plan)
            out[day] = arbitrage_day_w(pr[day], load_w[day], dt_s, rating_w=rating, usable_j=usable_j,
                                       round_trip_efficiency_frac=spec.round_trip_efficiency_frac,
                                       refill=bool(over_cap[day].any()))
        return out
    raise ValueError(f"unknown battery policy {policy!r}; use peak_shaving, smoothing, arbitrage or optimal")


def arbitrage_day_w(price, load_w, dt_s: float, *, rating_w: float, usable_j: float,
                    round_trip_efficiency_frac: float, refill: bool = False) -> np.ndarray:
    """Desired battery power (W, + discharge) over one day of steps that pairs the dearest steps with the cheapest.

    Day-ahead knowledge only: the day's prices are known (a day-ahead market), later days and the load's
    future are not. Energy delivered to the load, Q, is filled into the dearest steps (each at most the rating
    and the load: no export) and bought in the cheapest (each at most the rating, Q / rte of grid energy);
    Q grows while the marginal dear price x rte beats the marginal cheap price, up to one cycle of the usable
    energy (usable x sqrt(rte) delivered). A step cannot both charge and discharge: where it would, the
    dear price would not beat the cheap one. Steps of equal price share their allocation. With `refill`
    (days where an import cap binds) the chosen cheap steps charge at the full rating instead, so the
    state-of-charge limit, not the plan, ends the charge and what the cap took is put back. Vectorized over
    the step breakpoints."""
    p = np.asarray(price, float)
    load = np.asarray(load_w, float)
    n = p.size
    rte = float(round_trip_efficiency_frac)
    out = np.zeros(n)
    if n == 0 or rating_w <= 0 or usable_j <= 0 or rte <= 0:
        return out
    dear = np.argsort(-p, kind="stable")
    cheap = np.argsort(p, kind="stable")
    cap_d = np.minimum(rating_w, np.maximum(load, 0.0))[dear] * dt_s   # J deliverable per dear step
    cap_c = np.full(n, rating_w * dt_s * rte)                          # J delivered per cheap step's purchase
    cum_d, cum_c = np.cumsum(cap_d), np.cumsum(cap_c)
    starts = np.unique(np.concatenate([[0.0], cum_d, cum_c]))
    a = np.searchsorted(cum_d, starts, side="right")   # dear step being filled from each breakpoint on
    b = np.searchsorted(cum_c, starts, side="right")
    ok = (a < n) & (b < n)
    ok[ok] = p[dear[a[ok]]] * rte > p[cheap[b[ok]]]   # profitable from this breakpoint on (true, then false)
    if not ok[0]:
        return out
    # the last breakpoint (where a side runs out) is never profitable, so a first unprofitable one exists
    q_j = min(starts[int(np.argmin(ok))], usable_j * float(np.sqrt(rte)))
    out[dear] = _spread_ties(np.clip(q_j - (cum_d - cap_d), 0.0, cap_d), cap_d, p[dear]) / dt_s
    out[cheap] -= _spread_ties(np.clip(q_j - (cum_c - cap_c), 0.0, cap_c), cap_c, p[cheap]) / (rte * dt_s)
    if refill:
        # charge at the full rating in the chosen cheap steps: the state-of-charge limit stops it once full, and it
        # also refills what an import cap forced the battery to give between trades
        out = np.where(out < 0, -rating_w, out)
    return out


def _spread_ties(alloc_j: np.ndarray, cap_j: np.ndarray, price: np.ndarray) -> np.ndarray:
    """Spread what was allocated to steps of equal price over all of them, in proportion to each step's capacity
    (same cost; a flat tariff period is then charged at a low steady power instead of at the full rating in its
    first steps, which an import cap may not allow)."""
    _, group = np.unique(price, return_inverse=True)
    alloc_g = np.bincount(group, weights=alloc_j)
    cap_g = np.bincount(group, weights=cap_j)
    share = np.divide(alloc_g, cap_g, out=np.zeros_like(alloc_g), where=cap_g > 0)
    return cap_j * share[group]


def dispatch(load_w, dt_s: float, spec: BatterySpec, *, cap_w=np.inf, policy: str | None = None, price=None,
             threshold_w: float | None = None, window_s: float = 900.0, max_discharge_w=None,
             max_charge_w=None, reserve_soc_frac: float | None = None, carbon=None,
             demand_charge_usd_per_w: float = 0.0, demand_period_s: float | None = None,
             end_value_per_kwh: float = 0.0) -> DispatchResult:
    """Dispatch a battery against a load series (W, one value per step of dt_s seconds).

    `end_value_per_kwh` (policy optimal only; the objective's unit per kWh delivered): what the energy left in the
    battery at the end is worth to the program (costsim.power.battery_lp); the heuristics do not look ahead.

    `reserve_soc_frac`: discharge beyond what the import cap requires (arbitrage, smoothing) never
    takes the state of charge below this; the reserve is kept for the cap.

    `max_discharge_w` / `max_charge_w` (scalar or per step, >= 0; default the power rating) lower
    the rating available to this dispatch, e.g. when part of it is reserved for sub-step swings."""
    load = np.asarray(load_w, float)
    if load.ndim != 1:
        raise ValueError("load_w must be a 1-D series")
    if dt_s <= 0:
        raise ValueError("dt_s must be > 0")
    n = load.size
    cap = _as_series(cap_w, n, "cap_w")
    pol = policy or spec.policy
    if pol == "optimal":  # perfect foresight: the linear program (costsim.power.battery_lp)
        from costsim.power.battery_lp import optimal_dispatch

        return optimal_dispatch(load, dt_s, spec, cap_w=cap, price=price, carbon=carbon,
                                demand_charge_usd_per_w=demand_charge_usd_per_w, demand_period_s=demand_period_s,
                                max_discharge_w=max_discharge_w, max_charge_w=max_charge_w, end_value_per_kwh=end_value_per_kwh)
    cap_j = spec.energy_mwh * J_PER_MWH
    rating = spec.power_mw * MEGA
    eta = float(np.sqrt(spec.round_trip_efficiency_frac))
    e_min, e_max = spec.min_soc_frac * cap_j, spec.max_soc_frac * cap_j
    e0 = spec.initial_soc_frac * cap_j

    dis_lim = np.clip(_as_series(rating if max_discharge_w is None else max_discharge_w, n, "max_discharge_w"), 0.0, rating)
    chg_lim = np.clip(_as_series(rating if max_charge_w is None else max_charge_w, n, "max_charge_w"), 0.0, rating)
    des = desired_power_w(pol, load, dt_s, spec, cap_w=cap, price=price, threshold_w=threshold_w, window_s=window_s)
    # step-wise limits that do not depend on SoC: rating, no export, no charging above the cap,
    # discharge at least what the cap requires
    p = np.clip(des, -chg_lim, dis_lim)
    p = np.minimum(p, load)  # no export
    p = np.maximum(p, np.minimum(load - cap, dis_lim))  # must discharge to respect the cap
    p = np.maximum(p, load - cap)  # charging must not lift import above the cap
    p = np.clip(p, -chg_lim, dis_lim)
    p = np.minimum(p, np.maximum(load, 0.0))

    required = np.clip(load - cap, 0.0, dis_lim)  # discharge the cap makes mandatory
    e_res = e_min if reserve_soc_frac is None else min(max(reserve_soc_frac * cap_j, e_min), e_max)
    # fast path: SoC never leaves its window (nor the reserve)
    de = np.where(p > 0, -p * dt_s / eta, -p * dt_s * eta)
    e = e0 + np.cumsum(de)
    if n and e.min() >= e_res - 1e-9 * cap_j and e.max() <= e_max + 1e-9 * cap_j and pol != "smoothing":
        soc = e / cap_j
        out_p = p
    else:
        out_p = np.empty(n)
        soc = np.empty(n)
        mid = 0.5 * (e_min + e_max)
        tau = 4 * 3600.0
        ecur = e0
        for i in range(n):
            pi = p[i]
            if pol == "smoothing":
                pi = float(np.clip(pi + (ecur - mid) / tau, -chg_lim[i], dis_lim[i]))
                pi = min(pi, load[i])
                pi = min(max(pi, load[i] - cap[i]), dis_lim[i])
            if pi > required[i] and e_res > e_min:
                pi = min(pi, max(required[i], (ecur - e_res) * eta / dt_s))
            if pi > 0:
                pi = min(pi, max(ecur - e_min, 0.0) * eta / dt_s)
                ecur -= pi * dt_s / eta
            elif pi < 0:
                pi = max(pi, -max(e_max - ecur, 0.0) / (eta * dt_s))
                ecur -= pi * dt_s * eta
            ecur = min(max(ecur, e_min), e_max)  # only floating-point dust is clamped here
            out_p[i] = pi
            soc[i] = ecur / cap_j
    grid = load - out_p
    short = np.maximum(grid - cap, 0.0)
    grid = np.minimum(grid, cap)
    return DispatchResult(grid, out_p, soc, short, float(dt_s), cap_j, spec.initial_soc_frac)


def no_battery(load_w, dt_s: float, *, cap_w=np.inf) -> DispatchResult:
    """The same result shape without a battery: import = min(load, cap), the rest is shortfall."""
    load = np.asarray(load_w, float)
    cap = _as_series(cap_w, load.size, "cap_w")
    grid = np.minimum(load, cap)
    return DispatchResult(grid, np.zeros(load.size), np.zeros(load.size), load - grid, float(dt_s), 0.0, 0.0)
