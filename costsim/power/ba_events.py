"""What a site placed in a balancing authority sees: the hours of a real year in which the BA's
load plus the site's would exceed the BA's planning peak, as curtailment windows for the
simulations (`GridSpec.curtailment` shape), and what would avoid them (a battery, a power cap).

Method (costsim.core.headroom, Norris et al. 2025): margin(t) = threshold(t) - load(t) - queue,
where queue is new load connected ahead of the site. In an hour with margin < site load the site
may import only max(margin, 0). Caps are rounded down to multiples of `cap_step_frac` of the site
load (conservative) and consecutive hours with the same cap become one window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from costsim.core.headroom import annual_threshold_w, event_runs, headroom_w, seasonal_threshold_w
from costsim.power.balancing import HourlyLoad, load_ba_demand
from costsim.specs.grid_ba import BalancingAuthoritySpec
from costsim.specs.site import BatterySpec, CurtailmentWindow

S_PER_HOUR = 3600.0


def margin_w(load: HourlyLoad, planning_peak: str = "seasonal") -> np.ndarray:
    """Threshold minus load every hour, W (thresholds over all years of `load`)."""
    if planning_peak == "seasonal":
        thr = seasonal_threshold_w(load.load_w, load.month)
    elif planning_peak == "annual":
        thr = annual_threshold_w(load.load_w)
    else:
        raise ValueError(f"planning_peak must be 'seasonal' or 'annual', got {planning_peak!r}")
    return thr - load.load_w


@dataclass(frozen=True)
class SiteEvents:
    """Curtailment a site sees in a balancing authority over a horizon (hours from the sim start)."""

    region: str
    """Balancing-authority id."""
    year: int
    """Year of the BA's load (UTC)."""
    site_load_w: float
    """Site load added to the BA, W."""
    queue_load_w: float
    """New load connected ahead of the site, W."""
    start_hour_of_year: int
    """Hour of the year (UTC) at simulation t = 0."""
    horizon_h: int
    """Hours covered."""
    wrapped: bool
    """True when the horizon ran past the end of the year and wrapped to its start."""
    margin_w: np.ndarray = field(repr=False)
    """Threshold - BA load - queue for each hour of the horizon, W."""
    windows: tuple[CurtailmentWindow, ...] = field(repr=False)
    """Curtailment windows (hours from t = 0, import cap in MW) for the simulations."""
    curtailment_hours: float
    """Hours in the horizon with any curtailment of the site."""
    num_events: int
    """Runs of consecutive curtailed hours."""
    mean_event_h: float
    """Mean event length, h."""
    max_event_h: float
    """Longest event, h."""
    energy_curtailed_j: float
    """Energy the site cannot import at full load over the horizon, J (unrounded caps)."""
    battery_energy_to_avoid_j: float
    """Usable-window battery energy that would carry the site through the worst event, J (nameplate: / SOC window / discharge efficiency)."""
    battery_power_to_avoid_w: float
    """Battery power that would carry the site through the worst hour, W."""
    power_cap_to_avoid_w: float
    """Largest constant site import that sees no curtailment over the horizon, W."""

    def summary(self) -> dict:
        return {"ba_region": self.region, "ba_year": self.year, "ba_site_load_w": self.site_load_w,
                "ba_queue_load_w": self.queue_load_w, "ba_horizon_h": self.horizon_h,
                "ba_horizon_curtailment_hours": self.curtailment_hours,
                "ba_horizon_events": self.num_events, "ba_mean_event_h": self.mean_event_h, "ba_max_event_h": self.max_event_h,
                "ba_horizon_energy_curtailed_j": self.energy_curtailed_j,
                "ba_battery_energy_to_avoid_j": self.battery_energy_to_avoid_j,
                "ba_battery_power_to_avoid_w": self.battery_power_to_avoid_w,
                "ba_power_cap_to_avoid_w": self.power_cap_to_avoid_w, "ba_horizon_wrapped": self.wrapped}


def queue_load_w(ba: BalancingAuthoritySpec, margin: np.ndarray, year: np.ndarray) -> float:
    q = ba.queue_mw * 1e6
    if ba.queue_curtailment_pct is not None:
        q += float(headroom_w(margin, year, ba.queue_curtailment_pct / 100.0)[0])
    return q


def site_events(ba: BalancingAuthoritySpec, site_load_w: float, *, start_month: int = 1, start_hour: int = 0,
                horizon_h: int | None = None, battery: BatterySpec | None = None) -> SiteEvents:
    """Curtailment windows and statistics for a site of `site_load_w` placed in `ba.region` in
    `ba.year`, from start_month/start_hour (UTC) for horizon_h hours (default: one year)."""
    if not (math.isfinite(site_load_w) and site_load_w > 0):
        raise ValueError("site load must be a positive finite power")
    load = load_ba_demand(ba.region)
    m_all = margin_w(load, ba.planning_peak)
    yr = load.year
    queue = queue_load_w(ba, m_all, yr)
    m_year = m_all[yr == ba.year] - queue
    n_year = m_year.size
    first = np.datetime64(f"{ba.year}-{start_month:02d}-01T00", "h") + np.timedelta64(start_hour, "h")
    h0 = int((first - np.datetime64(f"{ba.year}-01-01T00", "h")).astype(int))
    horizon = n_year if horizon_h is None else max(int(horizon_h), 1)
    idx = (h0 + np.arange(horizon)) % n_year
    wrapped = h0 + horizon > n_year
    m = m_year[idx]
    L = float(site_load_w)
    short = np.clip(L - m, 0.0, L)  # W the site cannot import each hour
    on = short > 0
    starts, lengths = event_runs(on)
    step = ba.cap_step_frac * L
    cap = np.where(on, np.floor(np.clip(m, 0.0, None) / step) * step, np.inf)
    windows: list[CurtailmentWindow] = []
    for s, k in zip(starts, lengths):
        seg = cap[s:s + k]
        a = 0
        for j in range(1, k + 1):  # split the event where the rounded cap changes
            if j == k or seg[j] != seg[a]:
                windows.append(CurtailmentWindow(start_h=float(s + a), duration_h=float(j - a), max_import_mw=float(seg[a]) / 1e6))
                a = j
    bat = battery or BatterySpec(energy_mwh=1.0, power_mw=1.0)
    soc_window = bat.max_soc_frac - bat.min_soc_frac
    worst_j = max((float(short[s:s + k].sum()) * S_PER_HOUR for s, k in zip(starts, lengths)), default=0.0)
    return SiteEvents(region=ba.region, year=ba.year, site_load_w=L, queue_load_w=queue, start_hour_of_year=h0,
                      horizon_h=horizon, wrapped=bool(wrapped), margin_w=m, windows=tuple(windows),
                      curtailment_hours=float(on.sum()), num_events=int(lengths.size),
                      mean_event_h=float(lengths.mean()) if lengths.size else 0.0,
                      max_event_h=float(lengths.max()) if lengths.size else 0.0,
                      energy_curtailed_j=float(short.sum()) * S_PER_HOUR,
                      battery_energy_to_avoid_j=worst_j / math.sqrt(bat.round_trip_efficiency_frac) / soc_window if worst_j > 0 else 0.0,
                      battery_power_to_avoid_w=float(short.max()) if on.any() else 0.0,
                      power_cap_to_avoid_w=float(max(np.min(m), 0.0)))
