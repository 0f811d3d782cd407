"""A site battery on a coarse power timeline (min / mean / max per bucket) through
costsim.power.battery, for all three policies, including the swing inside each bucket.

The load inside a bucket i swings between its min and max around its mean m_i (synchronous
training: compute vs exposed-communication phases every few seconds). The battery splits in two:

* a fast part that takes a share s_i of the within-bucket swing: battery power s_i * (load - m_i),
  so the grid sees g(t) = g_i + (1 - s_i) * (load(t) - m_i). It has zero mean power; its round-trip
  losses are paid from the grid: for a two-level wave the energy discharged per second is
  up_i * dn_i / (up_i + dn_i) (up = max - mean, dn = mean - min), so the loss rate is
  l_i = s_i * up_i * dn_i / (up_i + dn_i) * (1 / rte - 1) and the stored energy is unchanged by it
  (exact for a two-level square wave, an approximation for buckets holding a ramp or a stall).
* a slow part: `costsim.power.battery.dispatch` on the bucket means (load m_i + l_i) with the
  policy of the spec (peak_shaving, smoothing, arbitrage, optimal), under an effective cap
  cap_i - (1 - s_i) * up_i (so the grid's within-bucket maximum stays under the cap) and with the
  rating left after the fast part (R - s_i * up_i + l_i to discharge, R - s_i * dn_i - l_i to charge).
  Its power is placed where it helps inside the bucket: charging in the troughs, discharging into the
  crests (slow_part_extremes), so it neither lifts a crest it could fit below nor exports.

Share s_i by policy: smoothing takes the whole swing (s = 1) in every bucket; peak_shaving and
arbitrage take it only in buckets whose maximum is above the cap (there the battery must shave
the compute-phase peaks); arbitrage and smoothing keep a state-of-charge reserve for the discharge
the cap makes mandatory (`cap_reserve_soc_frac`). s is lowered to what the rating allows; whatever the battery then
cannot keep under the cap is reported as shortfall (the cap would be exceeded), never dropped.
Within-bucket state-of-charge excursions of the fast part (a few MJ per step) are not tracked.
"""

from __future__ import annotations

import numpy as np

from costsim.power.battery import dispatch
from costsim.specs.site import BatterySpec
from costsim.units import MEGA


def fast_share(policy: str, fmax_w, fmean_w, fmin_w, cap_w, rating_w: float) -> np.ndarray:
    """Share (0..1) of the within-bucket swing the battery takes, by policy, within its rating."""
    fmax, fmean, fmin = (np.asarray(x, float) for x in (fmax_w, fmean_w, fmin_w))
    cap = np.broadcast_to(np.asarray(cap_w, float), fmean.shape)
    up, dn = np.maximum(fmax - fmean, 0.0), np.maximum(fmean - fmin, 0.0)
    s = np.ones(fmean.shape) if policy == "smoothing" else (fmax > cap).astype(float)
    amp = np.maximum(up, dn)
    with np.errstate(divide="ignore", invalid="ignore"):
        lim = np.where(amp > 0, rating_w / amp, 1.0)
    return np.clip(np.minimum(s, lim), 0.0, 1.0)


def fast_loss_w(s, up_w, dn_w, rte: float) -> np.ndarray:
    """Grid power that pays the round-trip losses of the fast part (two-level wave), W."""
    up, dn = np.asarray(up_w, float), np.asarray(dn_w, float)
    tot = up + dn
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(tot > 0, up * dn / tot, 0.0)
    return np.asarray(s, float) * d * (1.0 / rte - 1.0)


def slow_part_extremes(load_w, battery_w, up_w, dn_w) -> tuple[np.ndarray, np.ndarray]:
    """The grid's (min, max) inside each bucket when the slow part's mean power `battery_w` (+ discharge) meets a
    two-level swing of `up_w` above and `dn_w` below the mean `load_w` (what the fast part leaves): a controller charges
    in the troughs and discharges into the crests, so a charge up to up_w (a discharge up to dn_w) fills the troughs
    (lowers the crests) without moving the other level; beyond it the grid is flat at load - battery. Held at one
    power through the bucket instead, a charge lifted the crest by all of it and a discharge the size of the mean
    took the trough below zero (export)."""
    load, p = np.asarray(load_w, float), np.asarray(battery_w, float)
    up, dn = np.asarray(up_w, float), np.asarray(dn_w, float)
    tot = up + dn
    c, d = np.maximum(-p, 0.0), np.maximum(p, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = np.where(up > 0, c * tot / up, 0.0)  # the troughs (a share up / (up + dn) of the time) take the charge
        drop = np.where(dn > 0, d * tot / dn, 0.0)  # the crests (dn / (up + dn) of the time) take the discharge
    flat = load - p
    g_max = np.where(c > up, flat, np.where(d > dn, flat, load + up - drop))
    g_min = np.where(d > dn, flat, np.where(c > up, flat, load - dn + lift))
    return g_min, g_max


def cap_reserve_soc_frac(load_w, cap_w, max_discharge_w, dt_s: float, battery: BatterySpec) -> float:
    """State of charge kept back from arbitrage / smoothing for the cap: min_soc plus the largest
    energy (through the discharge efficiency) the cap makes mandatory in any one day."""
    need = np.clip(np.asarray(load_w, float) - np.asarray(cap_w, float), 0.0, np.asarray(max_discharge_w, float))
    if not np.any(need > 0):
        return battery.min_soc_frac
    per_day = max(int(round(86400.0 / dt_s)), 1)
    c = np.concatenate([[0.0], np.cumsum(need * dt_s)])
    lo = np.maximum(np.arange(1, need.size + 1) - per_day, 0)
    worst_j = float(np.max(c[1:] - c[lo]))
    cap_j = battery.energy_mwh * 3.6e9
    frac = worst_j / np.sqrt(battery.round_trip_efficiency_frac) / cap_j
    return float(min(battery.min_soc_frac + frac, battery.max_soc_frac))


def battery_on_buckets(bucket_s: float, fmin_w, fmean_w, fmax_w, cap_w, battery: BatterySpec, *,
                       price=None, carbon=None, demand_charge_usd_per_w: float = 0.0,
                       demand_period_s: float | None = None) -> dict[str, np.ndarray]:
    """Grid import (min / mean / max per bucket), battery power and state of charge for a coarse
    timeline. `cap_w` per bucket (inf = none). `price` per bucket (USD/kWh) for arbitrage.
    Returns arrays: grid_min_w, grid_mean_w, grid_max_w, battery_charge_w (+ = charging, incl.
    losses), soc_frac (end of bucket), fast_share, shortfall_w (grid above the cap, W)."""
    fmin, fmean, fmax = (np.asarray(x, float) for x in (fmin_w, fmean_w, fmax_w))
    n = fmean.size
    cap = np.broadcast_to(np.asarray(cap_w, float), (n,)).astype(float)
    rating = battery.power_mw * MEGA
    up, dn = np.maximum(fmax - fmean, 0.0), np.maximum(fmean - fmin, 0.0)
    s = fast_share(battery.policy, fmax, fmean, fmin, cap, rating)
    loss = fast_loss_w(s, up, dn, battery.round_trip_efficiency_frac)
    load = fmean + loss
    cap_eff = cap - (1.0 - s) * up
    dis = np.clip(rating - s * up + loss, 0.0, rating)
    chg = np.clip(rating - s * dn - loss, 0.0, rating)
    # the policies that shave and smooth never charge the crest above the site's no-battery peak (a charge held
    # through a restart's minute had raised the reported import peak 53 % above any load); arbitrage and optimal may
    # buy above it, under the cap (slow_part_extremes: a charge fills the troughs first)
    if battery.policy in ("peak_shaving", "smoothing"):
        ref = np.minimum(cap, float(fmax.max(initial=0.0)))
        chg = np.minimum(chg, np.maximum(ref - load, 0.0))
    pr = None
    if battery.policy in ("arbitrage", "optimal"):
        pr = np.zeros(n) if price is None else np.broadcast_to(np.asarray(price, float), (n,))
    co = None if carbon is None else np.broadcast_to(np.asarray(carbon, float), (n,))
    if battery.policy == "optimal" and battery.objective == "carbon" and co is None:
        from costsim.errors import InputError

        raise InputError("grid.battery.objective: carbon needs a carbon series; give grid.region (hourly carbon) or use objective: cost.",
                         field="grid.battery.objective")
    reserve = None if battery.policy == "optimal" else cap_reserve_soc_frac(load, cap_eff, dis, bucket_s, battery)
    res = dispatch(load, bucket_s, battery, cap_w=cap_eff, price=pr, max_discharge_w=dis, max_charge_w=chg,
                   reserve_soc_frac=reserve, carbon=co, demand_charge_usd_per_w=demand_charge_usd_per_w,
                   demand_period_s=demand_period_s)
    g_mean = load - res.battery_w  # what the grid must deliver (above cap_eff where the battery falls short)
    g_min, g_max = slow_part_extremes(load, res.battery_w, (1.0 - s) * up, (1.0 - s) * dn)
    short = np.maximum(g_max - cap, 0.0)
    return {"grid_min_w": g_min, "grid_mean_w": g_mean, "grid_max_w": g_max, "battery_charge_w": g_mean - fmean,
            "soc_frac": res.soc_frac, "fast_share": s, "shortfall_w": short}


def grid_ramp_w_per_s(fmin_w, fmax_w, grid_mean_w, share, bucket_s: float, edge_s: float, load_ramp_w_per_s: float) -> float:
    """Largest grid ramp, W/s: inside a bucket the load's edges scaled by (1 - share) (bounded by
    the load's own largest ramp), and the step between successive bucket means."""
    fmin, fmax = np.asarray(fmin_w, float), np.asarray(fmax_w, float)
    inner = (1.0 - np.asarray(share, float)) * np.minimum((fmax - fmin) / edge_s, load_ramp_w_per_s)
    g = np.asarray(grid_mean_w, float)
    slow = np.abs(np.diff(g)) / bucket_s if g.size > 1 else np.zeros(1)
    return float(max(inner.max(initial=0.0), slow.max(initial=0.0)))
