"""Curtailment-enabled headroom of a balancing authority (pure numpy).

Method (Norris, Profeta, Patino-Echeverri, Cowie-Haskell, "Rethinking Load Growth", Nicholas
Institute, Duke University, Feb 2025, NI R 25-01, pp. 15-17 and Appendix C):

* planning peak: seasonal thresholds, the highest hourly load of summer and of winter over all
  years of the data; the summer threshold applies April-October, the winter one November-March.
  The study searched June-August and December-February, and used a peak one month outside these
  when that is where the season peaked (AZPS, FPL, CAISO): the search windows here are May-Sep and
  Nov-Mar, which gives the same thresholds (`seasonal_threshold_w`).
* a new load L(t) = L * s(t) (s = 1: constant; any shape with max 1) is added every hour; the hourly
  curtailment is c(t) = min(L s(t), max(0, D(t) + L s(t) - T(t))) (the study's max(0, ...), capped
  at the new load itself, which only matters where D(t) > T(t)).
* curtailment rate of a year = curtailed energy / the new load's energy that year; the study's
  limit is on the mean of the yearly rates over the years (a goal-seek for L); `by="hours"` limits
  the mean share of hours with any curtailment instead.
* events: runs of consecutive hours with curtailment > 0 (any magnitude, as the study counts them);
  share of the new load kept in those hours = 1 - c / (L s).

Every function takes hourly arrays (hours on one clock, e.g. UTC) and returns arrays or a
`HeadroomCurve`; no I/O. Powers in W, energies in J (W * 3600 per hour), durations in hours where
the name says `_h`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

S_PER_HOUR = 3600.0
SUMMER_SEARCH_MONTHS = (5, 6, 7, 8, 9)
WINTER_SEARCH_MONTHS = (11, 12, 1, 2, 3)
SUMMER_APPLY_MONTHS = (4, 5, 6, 7, 8, 9, 10)


def seasonal_threshold_w(load_w, month, *, summer_search=SUMMER_SEARCH_MONTHS, winter_search=WINTER_SEARCH_MONTHS,
                         summer_apply=SUMMER_APPLY_MONTHS) -> np.ndarray:
    """Planning-peak threshold for every hour, W: the maximum summer load (over `summer_search`
    months of all years) in `summer_apply` months, the maximum winter load elsewhere.

    Args:
        load_w: hourly load [W], shape (n,).
        month: calendar month (1..12) of each hour, shape (n,).
    Returns:
        threshold [W], shape (n,).
    """
    d = np.asarray(load_w, float)
    m = np.asarray(month)
    s_mask, w_mask = np.isin(m, summer_search), np.isin(m, winter_search)
    if not s_mask.any() or not w_mask.any():
        raise ValueError("seasonal thresholds need hours in both the summer and the winter search months")
    summer, winter = float(d[s_mask].max()), float(d[w_mask].max())
    return np.where(np.isin(m, summer_apply), summer, winter)


def annual_threshold_w(load_w) -> np.ndarray:
    """One threshold for every hour: the all-time peak of the series [W]."""
    d = np.asarray(load_w, float)
    return np.full(d.shape, float(d.max()))


def curtailment_w(margin_w, new_load_w, shape=None) -> np.ndarray:
    """Hourly curtailment of the new load [W]: min(L s, max(0, L s - margin)), margin = T - D.
    Broadcasts: new_load_w may be (k, 1) against margin (n,) for k loads at once."""
    h = np.asarray(margin_w, float)
    s = np.ones_like(h) if shape is None else np.asarray(shape, float)
    ls = np.asarray(new_load_w, float) * s
    return np.clip(ls - h, 0.0, ls)


class _YearTable:
    """Sorted per-year tables so that the curtailed energy and the curtailed hours of a constant
    (or shaped) load L can be evaluated for many L at once in O(log n) each.

    With shape s_t > 0 the curtailment is s_t * max(0, L - k_t) for k_t = margin_t / s_t (for
    L <= min(...)); for margin < 0 (load already above the threshold) it is the whole L s_t."""

    def __init__(self, margin_w: np.ndarray, shape: np.ndarray):
        on = shape > 0
        k = np.where(on, np.maximum(margin_w, 0.0) / np.where(on, shape, 1.0), np.inf)
        order = np.argsort(k)
        self.k = k[order]
        self.s = np.where(on, shape, 0.0)[order]
        self.cs = np.concatenate([[0.0], np.cumsum(self.s)])
        ks = np.zeros_like(self.k)
        pos = self.s > 0
        ks[pos] = self.k[pos] * self.s[pos]
        self.cks = np.concatenate([[0.0], np.cumsum(ks)])
        self.energy_per_w_h = float(self.s.sum())  # new-load energy per W of L, in W*h / W = h

    def curtailed_wh(self, load_w: np.ndarray) -> np.ndarray:
        j = np.searchsorted(self.k, load_w, side="left")
        return load_w * self.cs[j] - self.cks[j]

    def curtailed_hours(self, load_w: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.k, load_w, side="left").astype(float)


def _tables(margin_w, year, shape) -> list[_YearTable]:
    h = np.asarray(margin_w, float)
    y = np.asarray(year)
    s = np.ones_like(h) if shape is None else np.broadcast_to(np.asarray(shape, float), h.shape)
    return [_YearTable(h[y == yy], s[y == yy]) for yy in np.unique(y)]


def curtailment_rate(margin_w, year, new_load_w, *, shape=None, by: str = "energy") -> np.ndarray:
    """Mean over years of the yearly curtailment rate for each new load [W] in `new_load_w`:
    by='energy': curtailed energy / the new load's energy; by='hours': hours with curtailment /
    hours in the year. Returns fractions (0..1), shape of new_load_w."""
    L = np.atleast_1d(np.asarray(new_load_w, float))
    tabs = _tables(margin_w, year, shape)
    out = np.zeros(L.shape)
    for t in tabs:
        if by == "energy":
            with np.errstate(invalid="ignore", divide="ignore"):
                out += np.where(L > 0, t.curtailed_wh(L) / (L * t.energy_per_w_h), 0.0)
        elif by == "hours":
            out += t.curtailed_hours(L) / t.k.size
        else:
            raise ValueError(f"by must be 'energy' or 'hours', got {by!r}")
    return out / len(tabs)


def headroom_w(margin_w, year, limit_frac, *, shape=None, by: str = "energy", tol_w: float = 1e3) -> np.ndarray:
    """Largest new load L [W] whose mean yearly curtailment rate is <= limit_frac (each of an
    array of limits), found by bisection on the monotone rate(L). Returns W, shape of limit_frac."""
    lim = np.atleast_1d(np.asarray(limit_frac, float))
    if np.any(~np.isfinite(lim)) or np.any(lim <= 0) or np.any(lim >= 1):
        raise ValueError("curtailment limits must be fractions in (0, 1)")
    h = np.asarray(margin_w, float)
    lo = np.zeros(lim.shape)
    hi = np.full(lim.shape, max(float(np.max(h)), 1.0) * 2.0 + 1.0)
    # rate(hi) may still be below a large limit: grow hi until it is not (bounded)
    for _ in range(60):
        r = curtailment_rate(h, year, hi, shape=shape, by=by)
        if np.all(r >= lim):
            break
        hi = np.where(r < lim, hi * 2.0, hi)
    for _ in range(200):
        if np.all(hi - lo <= tol_w):
            break
        mid = 0.5 * (lo + hi)
        r = curtailment_rate(h, year, mid, shape=shape, by=by)
        ok = r <= lim
        lo = np.where(ok, mid, lo)
        hi = np.where(ok, hi, mid)
    return lo


def event_runs(mask) -> tuple[np.ndarray, np.ndarray]:
    """Start index and length (hours) of each run of True in a boolean hourly series."""
    m = np.asarray(mask, bool).astype(np.int8)
    if m.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    d = np.diff(np.concatenate([[0], m, [0]]))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    return starts, ends - starts


@dataclass(frozen=True)
class EventStats:
    """Curtailment events of a new load over a series of hours."""

    num_events: int
    """Events (runs of consecutive hours with curtailment > 0) over the whole series [count]."""
    events_per_year: float
    """num_events / number of years [1/year]."""
    curtailed_hours_per_year: float
    """Hours with any curtailment, per year [h/year]."""
    mean_event_h: float
    """Mean event length [h] (0 without events)."""
    max_event_h: float
    """Longest event [h] (0 without events)."""
    load_kept_frac_median: float
    """Median over curtailed hours of the share of the new load still served (0..1; 1 without events)."""
    load_kept_frac_mean: float
    """Mean over curtailed hours of the share of the new load still served (0..1; 1 without events)."""
    hours_kept_50pct_frac: float
    """Share of curtailed hours that keep at least half of the new load (0..1)."""
    hours_kept_75pct_frac: float
    """Share of curtailed hours that keep at least 75 % of the new load (0..1)."""
    hours_kept_90pct_frac: float
    """Share of curtailed hours that keep at least 90 % of the new load (0..1)."""
    curtailed_energy_frac: float
    """Curtailed energy / new-load energy over the whole series (0..1)."""
    hours_per_state_change_h: float = 0.0
    """Curtailed hours / changes of state within the series (an event's start and its end each count once), h:
    about half of mean_event_h. Not an event length: the Duke 'Rethinking Load Growth' study's published mean
    curtailment durations (1.7 / 2.1 / 2.5 / 4.5 h) match this quantity within 0.3 h on the same data, not the run
    length, which suggests it counted each start and each end as an event (its method gives no formula)."""


def event_stats(margin_w, new_load_w: float, num_years: float, *, shape=None) -> EventStats:
    """Events, their lengths and the share of the new load kept, for one new load [W]."""
    h = np.asarray(margin_w, float)
    s = np.ones_like(h) if shape is None else np.broadcast_to(np.asarray(shape, float), h.shape)
    ls = float(new_load_w) * s
    c = np.clip(ls - h, 0.0, ls)
    on = c > 0
    _, lengths = event_runs(on)
    with np.errstate(invalid="ignore", divide="ignore"):
        kept = np.where(ls > 0, 1.0 - c / np.where(ls > 0, ls, 1.0), 1.0)[on]
    n = int(lengths.size)
    tot = float(ls.sum())
    changes = int(np.count_nonzero(np.diff(on.astype(np.int8)))) if on.size > 1 else 0
    return EventStats(
        num_events=n,
        events_per_year=n / num_years,
        curtailed_hours_per_year=float(on.sum()) / num_years,
        mean_event_h=float(lengths.mean()) if n else 0.0,
        max_event_h=float(lengths.max()) if n else 0.0,
        load_kept_frac_median=float(np.median(kept)) if n else 1.0,
        load_kept_frac_mean=float(np.mean(kept)) if n else 1.0,
        hours_kept_50pct_frac=float(np.mean(kept >= 0.5)) if n else 1.0,
        hours_kept_75pct_frac=float(np.mean(kept >= 0.75)) if n else 1.0,
        hours_kept_90pct_frac=float(np.mean(kept >= 0.9)) if n else 1.0,
        curtailed_energy_frac=float(c.sum() / tot) if tot > 0 else 0.0,
        hours_per_state_change_h=float(on.sum()) / changes if changes else 0.0,
    )


def pause_curtailment_w(margin_w, new_load_w: float, min_power_frac: float) -> np.ndarray:
    """A load that can throttle down to min_power_frac of its power and otherwise must stop
    (a training run: power cap down to the driver's floor, else checkpoint and pause): the power
    not drawn each hour [W] is the curtailment where throttling covers it, the whole load where
    it does not. >= curtailment_w(margin, L)."""
    c = curtailment_w(margin_w, new_load_w)
    L = float(new_load_w)
    return np.where(c > (1.0 - min_power_frac) * L + 1e-9, L, c)


def shift_curtailment_w(margin_w, new_load_w: float, max_delay_h: int) -> tuple[np.ndarray, np.ndarray]:
    """A load that can defer work (a serving fleet moving requests in time, up to max_delay_h):
    each hour's curtailed energy is served later in hours with spare margin above the load
    (earliest first, within max_delay_h hours). Returns (served later [W per hour of origin],
    lost [W per hour of origin]); served + lost = curtailment_w(margin, L)."""
    h = np.asarray(margin_w, float)
    L = float(new_load_w)
    c = np.clip(L - h, 0.0, L)
    spare = np.clip(h - L, 0.0, None)  # room above the new load in hours without curtailment
    served = np.zeros_like(c)
    idx = np.flatnonzero(c > 0)
    n = h.size
    for i in idx:  # curtailed hours are few (tens to hundreds a year): a short loop
        need = c[i]
        j = i + 1
        stop = min(n, i + 1 + int(max_delay_h))
        while need > 0 and j < stop:
            take = min(need, spare[j])
            spare[j] -= take
            need -= take
            j += 1
        served[i] = c[i] - need
    return served, c - served
