"""Energy, cost, carbon and water over power time series (numpy; what the simulations call).

Power series are sampled every dt_s seconds from t0_s (piecewise constant: sample i holds on
[t0 + i*dt, t0 + (i+1)*dt)). Prices and intensities are a number or any object with a
vectorized `at(t_s)` (costsim.power.signals.Signal), evaluated at the start of each step.
  energy_j = sum(P * dt)                       (the integral of a piecewise-constant power)
  cost_usd = sum(P * dt / 3.6e6 * price(t))    (linear in price)
  carbon_kg = sum(P * dt / 3.6e6 * g(t)) / 1000 (energy x intensity)
Demand charge: usd_per_kw_month x the highest import in each calendar month (30.44-day months
from t=0), pro-rated for a partial month.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from costsim.units import G_PER_KG, J_PER_KWH, S_PER_YEAR

S_PER_MONTH = S_PER_YEAR / 12.0


def _series(power_w) -> np.ndarray:
    p = np.asarray(power_w, float)
    if p.ndim != 1:
        raise ValueError("power series must be 1-D")
    return p


def step_times_s(n: int, dt_s: float, t0_s: float = 0.0) -> np.ndarray:
    return t0_s + dt_s * np.arange(n)


def _value_at(signal: Any, t: np.ndarray) -> np.ndarray:
    if hasattr(signal, "at"):
        return np.asarray(signal.at(t), float)
    v = np.asarray(signal, float)
    if v.ndim == 0:
        return np.full(t.shape, float(v))
    if v.shape != t.shape:
        raise ValueError(f"a price/intensity series must match the power series length ({t.size}), got {v.shape}")
    return v


def energy_j(power_w, dt_s: float) -> float:
    return float(_series(power_w).sum() * dt_s)


def energy_cost_usd(power_w, dt_s: float, usd_per_kwh, t0_s: float = 0.0) -> float:
    p = _series(power_w)
    price = _value_at(usd_per_kwh, step_times_s(p.size, dt_s, t0_s))
    return float((p * dt_s / J_PER_KWH * price).sum())


def carbon_kg(power_w, dt_s: float, gco2e_per_kwh, t0_s: float = 0.0) -> float:
    p = _series(power_w)
    g = _value_at(gco2e_per_kwh, step_times_s(p.size, dt_s, t0_s))
    return float((p * dt_s / J_PER_KWH * g).sum() / G_PER_KG)


def demand_charge_usd(power_w, dt_s: float, usd_per_kw_month: float, t0_s: float = 0.0) -> float:
    """Sum over months of (peak import in the month, kW) x rate x (share of the month covered)."""
    p = _series(power_w)
    if usd_per_kw_month == 0 or p.size == 0:
        return 0.0
    t = step_times_s(p.size, dt_s, t0_s)
    month = np.floor(t / S_PER_MONTH).astype(np.int64)
    total = 0.0
    for m in np.unique(month):
        sel = month == m
        covered = min(sel.sum() * dt_s / S_PER_MONTH, 1.0)
        total += p[sel].max() / 1e3 * usd_per_kw_month * covered
    return float(total)


def water_l(it_power_w, dt_s: float, wue_l_per_kwh: float | None) -> float:
    if not wue_l_per_kwh:
        return 0.0
    return energy_j(it_power_w, dt_s) / J_PER_KWH * wue_l_per_kwh


def electricity_bill(power_w, dt_s: float, *, usd_per_kwh, gco2e_per_kwh, demand_charge_usd_per_kw_month: float = 0.0,
                     market_based_gco2e_per_kwh: float | None = None, t0_s: float = 0.0) -> dict[str, float]:
    """Energy, $ (energy + demand) and operational carbon (location-based; market-based if given)
    for a grid-import series."""
    out = {
        "energy_j": energy_j(power_w, dt_s),
        "energy_usd": energy_cost_usd(power_w, dt_s, usd_per_kwh, t0_s),
        "demand_charge_usd": demand_charge_usd(power_w, dt_s, demand_charge_usd_per_kw_month, t0_s),
        "operational_location_based_kg": carbon_kg(power_w, dt_s, gco2e_per_kwh, t0_s),
        "peak_power_w": float(np.max(_series(power_w), initial=0.0)),
    }
    if market_based_gco2e_per_kwh is not None:
        out["operational_market_based_kg"] = carbon_kg(power_w, dt_s, market_based_gco2e_per_kwh, t0_s)
    out["electricity_usd"] = out["energy_usd"] + out["demand_charge_usd"]
    return out
