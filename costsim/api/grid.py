"""Grid API: interconnection headroom of a balancing authority for flexible new load, the
shipped grid regions, and what a balancing authority's curtailment costs a training run.

* `grid_regions()` -> the shipped balancing authorities (years, sources, what each has).
* `grid_headroom(region | load_csv, curtailment_pct=..., by=..., ...)` -> `HeadroomResult`:
  the largest constant (or shaped) new load that fits with curtailment limited to r % of its
  annual energy (or hours), its events, and the same load as a pausing (training) or shifting
  (serving) load with a cost. Method and data: costsim.core.headroom (Norris et al. 2025).
* `ba_baseline_difference(summary, scenario, seed)` -> the training run again without the
  balancing authority's events: extra days, $ and CO2e they cost.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from costsim.core import headroom as H
from costsim.errors import InputError
from costsim.power.ba_events import margin_w
from costsim.power.balancing import HourlyLoad, ba_catalog, get_ba, load_ba_demand, load_load_csv, manifest
from costsim.power import balancing as B

METHOD_SOURCE = "Norris et al. 2025 (Rethinking Load Growth, Nicholas Institute, Duke, NI R 25-01, pp. 15-17, App. C)"
def method_text(by: str, planning_peak: str) -> str:
    """How the headroom was computed: the study's method (by energy, seasonal peaks) or which of its two choices the
    request changed."""
    peak = ("seasonal planning peaks (max summer load May-Sep applied Apr-Oct, max winter load Nov-Mar)" if planning_peak == "seasonal"
            else "one annual planning peak (the all-time peak load; not the study's choice)")
    limit = ("limit on the mean over years of the yearly curtailed share of the new load's energy" if by == "energy"
             else "limit on the mean over years of the yearly share of hours with any curtailment (not the study's choice)")
    return f"{METHOD_SOURCE}: {peak}, constant new load, {limit}"
MAX_LEVELS = 20


@dataclass(frozen=True)
class FlexCost:
    """Cost assumptions for a new load that bends during curtailment."""

    value_usd_per_mwh: float = 100.0
    """Value of a MWh of the new load not served (lost training progress or dropped requests), USD/MWh."""
    min_power_frac: float = 0.3
    """Pause mode: the load can throttle down to this share of its power (GPU power cap floor ~0.3 TDP); deeper cuts pause it."""
    restart_h: float = 0.25
    """Pause mode: work lost per pause event (checkpoint, ramp down, restart), h at full load."""
    max_delay_h: int = 4
    """Shift mode: curtailed work may be served up to this many hours later."""
    shift_usd_per_mwh: float = 10.0
    """Shift mode: cost of serving a MWh later (latency penalty, moving it), USD/MWh."""

    def __post_init__(self) -> None:
        for name in ("value_usd_per_mwh", "restart_h", "shift_usd_per_mwh"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and 0 <= v <= 1e9):
                raise InputError(f"{name} must be a finite number in [0, 1e9], got {v!r}.", field=name)
        if not (0 <= self.min_power_frac <= 1):
            raise InputError(f"min_power_frac must be in [0, 1], got {self.min_power_frac!r}.", field="min_power_frac")
        if not (0 <= int(self.max_delay_h) <= 168):
            raise InputError(f"max_delay_h must be in [0, 168] hours, got {self.max_delay_h!r}.", field="max_delay_h")


@dataclass(frozen=True)
class CurtailmentLevel:
    """Headroom and events at one curtailment limit."""

    curtailment_pct: float
    """Limit on the mean yearly curtailed share of the new load (energy or hours, see `by`), %."""
    headroom_w: float
    """Largest new load (constant, or the peak of the shape) that fits the limit, W."""
    events: int
    """Curtailment events over all analysed years (runs of consecutive curtailed hours)."""
    events_per_year: float
    """Events per year."""
    curtailed_hours_per_year: float
    """Hours with any curtailment, per year."""
    mean_event_h: float
    """Mean event length, h."""
    max_event_h: float
    """Longest event, h."""
    load_kept_frac_median: float
    """Median share of the new load still served during curtailed hours (0..1)."""
    load_kept_frac_mean: float
    """Mean share of the new load still served during curtailed hours (0..1)."""
    hours_kept_50pct_frac: float
    """Share of curtailed hours that keep >= 50 % of the new load (0..1)."""
    hours_kept_75pct_frac: float
    """Share of curtailed hours that keep >= 75 % of the new load (0..1)."""
    hours_kept_90pct_frac: float
    """Share of curtailed hours that keep >= 90 % of the new load (0..1)."""
    curtailed_energy_frac: float
    """Curtailed energy / new-load energy over all years (0..1)."""
    study_headroom_w: float | None
    """The study's published headroom for this BA and limit, W (None where it has none)."""
    headroom_vs_study_frac: float | None
    """headroom_w / study_headroom_w - 1 (None without a published value)."""
    pause_energy_not_drawn_frac: float
    """Pause mode (training): energy not drawn incl. whole-load pauses and restart losses / new-load energy (0..1)."""
    pause_cost_usd_per_year: float
    """Pause mode: value of the energy not drawn, USD per year."""
    shift_served_later_frac: float
    """Shift mode (serving): share of the curtailed energy served later within max_delay_h (0..1)."""
    shift_cost_usd_per_year: float
    """Shift mode: shifting cost plus value of what could not be shifted, USD per year."""
    hours_per_state_change_h: float = 0.0
    """Curtailed hours per change of state (each event's start and end counted), h: about half of mean_event_h;
    the reading under which the Duke study's published mean durations are reproduced (costsim.core.headroom)."""


@dataclass(frozen=True)
class HeadroomResult:
    """Curtailment-enabled headroom of a balancing authority (or a user load series)."""

    region: str
    """Region id (or the CSV path)."""
    years: list[int]
    """Calendar years analysed (UTC)."""
    by: str
    """'energy': limit on curtailed energy share; 'hours': on the share of hours with curtailment."""
    planning_peak: str
    """'seasonal' or 'annual' thresholds."""
    summer_threshold_w: float
    """Summer planning peak (seasonal) or the all-time peak (annual), W."""
    winter_threshold_w: float
    """Winter planning peak, W (= summer for 'annual')."""
    peak_load_w: float
    """Highest hourly load of the analysed years, W."""
    mean_load_w: float
    """Mean load of the analysed years, W."""
    load_factor_frac: float
    """mean_load_w / peak_load_w (0..1)."""
    results: list[CurtailmentLevel]
    """One entry per curtailment limit."""
    method: str
    """How it was computed (source)."""
    source: str
    """Where the load data come from."""
    notes: list[str] = field(default_factory=list)
    """Repairs of the input, caveats."""
    flex: FlexCost = field(default_factory=FlexCost)
    """Cost assumptions of the pause/shift figures."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RegionInfo:
    """One shipped balancing authority."""

    region: str
    """Region id."""
    name: str
    """Full name."""
    eia_code: str
    """EIA-930 respondent code."""
    years: list[int]
    """Years of hourly demand (UTC)."""
    generation_year: int | None
    """Year of the hourly generation mix / carbon series (None: not shipped)."""
    price: str
    """'real hourly <year> (<market>)', 'stylized typical day (<id>)' or 'none'."""
    source: str
    """Data source and licence."""
    study_headroom_gw: dict[str, float]
    """Published headroom (Norris et al. 2025, Fig. 1), GW by curtailment %."""


def grid_regions() -> list[RegionInfo]:
    out = []
    for r in ba_catalog().values():
        out.append(RegionInfo(region=r.id, name=r.name, eia_code=r.eia_code, years=list(r.demand_years),
                              generation_year=r.generation_year,
                              price=_price_text(r),
                              source="demand: cleaned EIA-930, Ruggles & Farnham (CC BY 4.0)"
                                     + ("; generation mix: EIA-930 via HewlettPackard/dc-rl (MIT; EIA public domain)" if r.generation_year else "")
                                     + (f"; price: {B.price_series_info(r.price_series)['source']}" if r.price_series and r.generation_year else ""),
                              study_headroom_gw={k: v / 1e9 for k, v in r.study_headroom_w.items()}))
    return out


def _price_text(r) -> str:
    if not r.generation_year:
        return "none"
    if r.price_series:
        return f"real hourly {B.GENERATION_YEAR} ({B.price_series_info(r.price_series)['market']})"
    return f"stylized typical day ({r.price_sibling})" if r.price_sibling else "none"


@dataclass(frozen=True)
class PriceRegionInfo:
    """One shipped price+carbon region on a real hourly year (US balancing authority or non-US market region)."""

    region: str
    """Region id (use with --region of `costsim site`, training/plan scenarios)."""
    name: str
    """Full name."""
    year: int
    """Data year (UTC)."""
    price: str
    """'real' or 'stylized'."""
    carbon: str
    """'real'."""
    mean_usd_per_kwh: float
    """Annual mean price, USD/kWh (time-weighted)."""
    mean_gco2e_per_kwh: float
    """Annual mean carbon intensity, gCO2e/kWh (time-weighted)."""
    source: str
    """Which parts are real and which stylized, with sources and licences."""


def grid_price_regions() -> list[PriceRegionInfo]:
    """Every price+carbon region on a real year (the ids `load_region` accepts besides the stylized files)."""
    out = []
    for rid in B.real_region_ids():
        prof = B.real_region_profile(rid)
        mk = B.market_catalog().get(rid)
        name = mk.name if mk else B.get_ba(rid).name
        year = mk.year if mk else B.GENERATION_YEAR
        out.append(PriceRegionInfo(region=rid, name=name, year=year,
                                   price="stylized" if "STYLIZED" in prof.meta["source"] else "real", carbon="real",
                                   mean_usd_per_kwh=prof.price.mean(), mean_gco2e_per_kwh=prof.carbon.mean(),
                                   source=prof.meta["source"]))
    return out


def _levels(curtailment_pct: Sequence[float]) -> list[float]:
    try:
        pcts = [float(x) for x in curtailment_pct]
    except (TypeError, ValueError):
        raise InputError(f"curtailment levels must be numbers in percent, e.g. 0.25,0.5,1; got {curtailment_pct!r:.80}.", field="curtailment") from None
    if not pcts:
        raise InputError("give at least one curtailment level in percent, e.g. --curtailment 0.5.", field="curtailment")
    if len(pcts) > MAX_LEVELS:
        raise InputError(f"{len(pcts)} curtailment levels; at most {MAX_LEVELS}.", field="curtailment")
    for x in pcts:
        if not math.isfinite(x) or x <= 0 or x >= 50:
            raise InputError(f"curtailment level {x:g} % is out of range; give percents in (0, 50), e.g. 0.25,0.5,1.", field="curtailment")
    return pcts


def _shape(shape: Sequence[float] | None, n: int) -> np.ndarray | None:
    if shape is None:
        return None
    s = np.asarray(list(shape), float)
    if s.ndim != 1 or s.size not in (24, n):
        raise InputError(f"load shape must have 24 values (hour of day, UTC) or one per hour ({n}); got {s.size}.", field="shape")
    if not np.all(np.isfinite(s)) or s.min() < 0 or s.max() <= 0:
        raise InputError("load shape values must be finite, >= 0 and not all zero.", field="shape")
    s = s / s.max()
    return np.tile(s, n // 24 + 1)[:n] if s.size == 24 else s


def load_series(region: str | None = None, load_csv: str | None = None, years: Sequence[int] | None = None) -> HourlyLoad:
    """The hourly load of a shipped BA or of a user CSV, restricted to `years` (all by default)."""
    if (region is None) == (load_csv is None):
        raise InputError("give a balancing-authority region (e.g. us-pjm) or a load CSV, not both / neither.", field="region")
    load = load_ba_demand(region) if region is not None else load_load_csv(load_csv)
    if years:
        load = load.select_years(years)
    full_years = [y for y in load.years if np.sum(load.year == y) >= 24 * 28]
    if not full_years:
        raise InputError(f"{load.region}: less than four weeks of data in every year; headroom needs at least a season.", field="load_csv")
    return load


def grid_headroom(region: str | None = None, *, load_csv: str | None = None, curtailment_pct: Sequence[float] = (0.25, 0.5, 1.0),
                  by: str = "energy", years: Sequence[int] | None = None, planning_peak: str = "seasonal",
                  shape: Sequence[float] | None = None, flex: FlexCost | None = None) -> HeadroomResult:
    """Curtailment-enabled headroom of a balancing authority (shipped region id) or of a CSV of
    hourly load, at each curtailment limit (percent of the new load's annual energy, or of the
    hours with `by='hours'`). A `shape` (24 hourly values, UTC, or one per hour) makes the new
    load shaped: the headroom is then its peak."""
    pcts = _levels(curtailment_pct)
    if by not in ("energy", "hours"):
        raise InputError(f"by must be 'energy' or 'hours', got {str(by)[:40]!r}.", field="by")
    if planning_peak not in ("seasonal", "annual"):
        raise InputError(f"planning_peak must be 'seasonal' or 'annual', got {str(planning_peak)[:40]!r}.", field="planning_peak")
    flex = flex or FlexCost()
    load = load_series(region, load_csv, years)
    notes = list(load.notes)
    try:
        m = margin_w(load, planning_peak)
    except ValueError as exc:
        raise InputError(f"{load.region}: {exc}; give at least a summer and a winter month of data.", field="load_csv") from None
    s = _shape(shape, m.size)
    yr = load.year
    ny = len(np.unique(yr))
    hr = H.headroom_w(m, yr, [p / 100.0 for p in pcts], shape=s, by=by)
    thr = m + load.load_w
    summer = float(thr[np.isin(load.month, H.SUMMER_APPLY_MONTHS)].max()) if planning_peak == "seasonal" else float(thr.max())
    winter = float(thr[~np.isin(load.month, H.SUMMER_APPLY_MONTHS)].max()) if planning_peak == "seasonal" else float(thr.max())
    study = get_ba(region).study_headroom_w if region is not None else {}
    if study and (by != "energy" or planning_peak != "seasonal" or s is not None):
        # the study's figures answer its own method (an energy limit under the seasonal peaks, constant load): another
        # basis is not compared with them (an hours limit under the annual peak had sat beside them as if it were)
        study = {}
        notes.append(f"the study's figures (Norris et al. 2025: an energy limit under the seasonal planning peaks, constant "
                     f"load) are left out: this request limits {by} under the {planning_peak} peak"
                     f"{' with a shaped load' if s is not None else ''}.")
    levels = []
    for p, L in zip(pcts, hr):
        L = float(L)
        ev = H.event_stats(m, L, ny, shape=s)
        energy_j_per_year = L * (s.sum() if s is not None else m.size) * H.S_PER_HOUR / ny
        # pause (training): throttle to min_power_frac, else stop; each event loses restart_h of work
        pc = H.pause_curtailment_w(m, L, flex.min_power_frac) if s is None else H.curtailment_w(m, L, s)
        pause_j = (float(pc.sum()) * H.S_PER_HOUR + ev.num_events * flex.restart_h * L * H.S_PER_HOUR) / ny
        # shift (serving): serve curtailed energy later, within max_delay_h
        if s is None:
            served, lost = H.shift_curtailment_w(m, L, int(flex.max_delay_h))
        else:
            c = H.curtailment_w(m, L, s)
            served, lost = np.zeros_like(c), c
        served_j, lost_j = float(served.sum()) * H.S_PER_HOUR / ny, float(lost.sum()) * H.S_PER_HOUR / ny
        ref = study.get(_pct_key(p))
        levels.append(CurtailmentLevel(
            curtailment_pct=p, headroom_w=L, events=ev.num_events, events_per_year=ev.events_per_year,
            curtailed_hours_per_year=ev.curtailed_hours_per_year, mean_event_h=ev.mean_event_h, max_event_h=ev.max_event_h,
            load_kept_frac_median=ev.load_kept_frac_median, load_kept_frac_mean=ev.load_kept_frac_mean,
            hours_kept_50pct_frac=ev.hours_kept_50pct_frac, hours_kept_75pct_frac=ev.hours_kept_75pct_frac,
            hours_kept_90pct_frac=ev.hours_kept_90pct_frac, curtailed_energy_frac=ev.curtailed_energy_frac,
            hours_per_state_change_h=ev.hours_per_state_change_h,
            study_headroom_w=ref, headroom_vs_study_frac=(L / ref - 1.0) if ref else None,
            pause_energy_not_drawn_frac=pause_j / energy_j_per_year if energy_j_per_year > 0 else 0.0,
            pause_cost_usd_per_year=pause_j / 3.6e9 * flex.value_usd_per_mwh,
            shift_served_later_frac=served_j / (served_j + lost_j) if served_j + lost_j > 0 else 1.0,
            shift_cost_usd_per_year=served_j / 3.6e9 * flex.shift_usd_per_mwh + lost_j / 3.6e9 * flex.value_usd_per_mwh))
    zero = [p for p, L in zip(pcts, hr) if float(L) <= 0.0]
    if zero:
        # no load fits: the hours at (or above) the planning peak curtail any new load whole, already more than the limit
        floor_frac = float(H.curtailment_rate(m, yr, 1.0, shape=s, by=by)[0])
        at_peak_h = float(np.sum(m <= 0.0)) / ny
        notes.append(f"no constant new load fits at {', '.join(f'{p:g} %' for p in zero)} curtailment: in {at_peak_h:.1f} hours a "
                     f"year the load already stands at the planning peak, where any new load is curtailed whole, "
                     f"{100 * floor_frac:.3g} % of its {'energy' if by == 'energy' else 'hours'} before it grows at all.")
    if region is not None and region == "us-pjm":
        notes.append("PJM 2020-2024 is the sum of its EIA-930 subregions, 1.8 % below the BA-level total (overlap Jan-Jun 2020); 2016-2019 is BA-level.")
    if s is not None:
        notes.append("shaped load: pause/shift figures use plain curtailment (no throttle floor, no shifting).")
    return HeadroomResult(region=load.region, years=list(load.years), by=by, planning_peak=planning_peak,
                          summer_threshold_w=summer, winter_threshold_w=winter, peak_load_w=float(load.load_w.max()),
                          mean_load_w=float(load.load_w.mean()), load_factor_frac=float(load.load_w.mean() / load.load_w.max()),
                          results=levels, method=method_text(by, planning_peak), source=load.source,
                          notes=notes, flex=flex)


def _pct_key(p: float) -> str:
    return f"{p:g}"


@dataclass(frozen=True)
class EventRow:
    """One curtailment event of a new load."""

    start: str
    """First curtailed hour, ISO (UTC)."""
    duration_h: int
    """Length, h."""
    max_curtailed_w: float
    """Largest curtailment in the event, W."""
    energy_curtailed_j: float
    """Energy curtailed in the event, J."""


def curtailment_events(region: str | None = None, *, new_load_w: float, load_csv: str | None = None,
                       years: Sequence[int] | None = None, planning_peak: str = "seasonal") -> tuple[list[EventRow], np.ndarray, np.ndarray]:
    """Every event of a constant new load (for the chart): rows, plus the hourly times (datetime64[h])
    and the curtailment each hour (W)."""
    if not (isinstance(new_load_w, (int, float)) and math.isfinite(new_load_w) and 0 < new_load_w < 1e13):
        raise InputError(f"new load must be a positive power in W below 10 TW, got {new_load_w!r}.", field="new_load_w")
    load = load_series(region, load_csv, years)
    m = margin_w(load, planning_peak)
    c = H.curtailment_w(m, float(new_load_w))
    starts, lengths = H.event_runs(c > 0)
    t = load.hours
    rows = [EventRow(str(t[s]), int(k), float(c[s:s + k].max()), float(c[s:s + k].sum()) * H.S_PER_HOUR) for s, k in zip(starts, lengths)]
    return rows, t, c


def source_totals() -> dict[str, Any]:
    """Annual totals of the shipped series' sources (from the build manifest)."""
    return manifest()["regions"]


def _difference(summary: dict[str, Any], base: dict[str, Any], key: str) -> float | None:
    """summary[key] - base[key] where both are numbers (a run with the BA minus the same run without)."""
    a, b = summary.get(key), base.get(key)
    return float(a) - float(b) if isinstance(a, (int, float)) and isinstance(b, (int, float)) else None


def ba_baseline_difference(summary: dict[str, Any], scenario, seed: int) -> dict[str, Any]:
    """Run the training scenario again without grid.balancing_authority (same seed, one replicate)
    and return what the BA's curtailment cost: extra days, USD and CO2e (replicate 0 vs the baseline)."""
    from costsim.sim.training import simulate_training

    g = scenario.grid.model_copy(update={"balancing_authority": None})
    sim = scenario.model_copy(update={"grid": g, "simulation": scenario.simulation.model_copy(update={"replicates": 1})})
    base = simulate_training(sim, seed=seed, fine=False).summary

    def d(key):
        return _difference(summary, base, key)

    days = d("wall_time_s")
    out = {"ba_baseline_wall_time_s": base.get("wall_time_s"), "ba_extra_days": days / 86400.0 if days is not None else None,
           "ba_cost_difference_usd": d("cost_usd"), "ba_co2e_difference_kg": d("co2e_kg"),
           "ba_baseline_completed": base.get("completed"), "ba_difference_basis": "whole runs (same seed, replicate 0)"}
    if summary.get("completed") is False or base.get("completed") is False:
        # window-limited runs: compare them projected to the full token count at their own rates
        tok, tok0, target = (summary.get("tokens_trained") or 0.0, base.get("tokens_trained") or 0.0, summary.get("tokens_target") or 0.0)
        if tok > 0 and tok0 > 0 and target > 0:
            def proj(sm, key, t):
                v = sm.get(key)
                return float(v) * target / t if isinstance(v, (int, float)) else None
            w1, w0 = proj(summary, "wall_time_s", tok), proj(base, "wall_time_s", tok0)
            c1, c0 = proj(summary, "cost_usd", tok), proj(base, "cost_usd", tok0)
            e1, e0 = proj(summary, "co2e_kg", tok), proj(base, "co2e_kg", tok0)
            out["ba_extra_days"] = (w1 - w0) / 86400.0
            out["ba_cost_difference_usd"] = c1 - c0 if c1 is not None and c0 is not None else None
            out["ba_co2e_difference_kg"] = e1 - e0 if e1 is not None and e0 is not None else None
            out["ba_difference_basis"] = ("window-limited runs: each projected linearly to tokens_target at its own rate "
                                          "(events after the window are not seen)")
    return out


def ba_serving_difference(summary: dict[str, Any], scenario, seed: int) -> dict[str, Any]:
    """Run the serving scenario again without grid.balancing_authority (same seed: the same requests) and
    return what the BA's curtailment cost the simulated window - requests and tokens not served, USD, SLO
    attainment - and a year's estimate: the window's losses per curtailed hour times the year's curtailed
    hours (an estimate: it assumes the year's events look like the window's)."""
    from costsim.sim.serving import simulate_serving

    g = scenario.grid.model_copy(update={"balancing_authority": None})
    sim = scenario.model_copy(update={"grid": g})
    base = simulate_serving(sim, seed=seed).summary

    def d(key):
        return _difference(summary, base, key)

    lost = -(d("requests_completed") or 0.0)
    out = {"ba_requests_not_served": lost, "ba_cost_difference_usd": d("cost_usd"), "ba_co2e_difference_kg": d("co2e_kg"),
           "ba_slo_attainment_difference_frac": d("slo_attainment_frac"),
           "ba_baseline_requests_completed": base.get("requests_completed"),
           "ba_difference_basis": "the simulated window, same seed and requests, without the balancing authority"}
    hours = summary.get("curtailment_hours") or 0.0
    year_h = summary.get("ba_curtailment_hours")
    if hours > 0 and isinstance(year_h, (int, float)):
        out["ba_year_requests_not_served_est"] = lost / hours * year_h
    return out
