"""Grid import cap, curtailment windows, and what a cap means per accelerator.

The import cap is a hard limit at the meter: what the site cannot import (after any battery)
is reported as shortfall, i.e. load that must be curtailed; it is never silently dropped.
A site cap turns into a per-GPU power cap: (cap / PUE - non-GPU IT power) / number of GPUs.
"""

from __future__ import annotations

import math

import numpy as np

from costsim.power.battery import DispatchResult, dispatch, no_battery
from costsim.specs.site import GridSpec
from costsim.units import MEGA, S_PER_HOUR


def base_cap_w(grid: GridSpec | None) -> float:
    return math.inf if grid is None or grid.import_cap_mw is None else grid.import_cap_mw * MEGA


def import_cap_series_w(t_s, grid: GridSpec | None) -> np.ndarray:
    """Import cap at each time t_s (seconds from the start), W: the permanent cap, lowered inside
    curtailment windows. inf where unlimited. Vectorized."""
    t = np.asarray(t_s, float)
    cap = np.full(t.shape, base_cap_w(grid))
    if grid is not None:
        for w in grid.curtailment:
            inside = (t >= w.start_h * S_PER_HOUR) & (t < (w.start_h + w.duration_h) * S_PER_HOUR)
            cap = np.where(inside, np.minimum(cap, w.max_import_mw * MEGA), cap)
    return cap


def curtailment_mask(t_s, grid: GridSpec | None) -> np.ndarray:
    t = np.asarray(t_s, float)
    m = np.zeros(t.shape, bool)
    if grid is not None:
        for w in grid.curtailment:
            m |= (t >= w.start_h * S_PER_HOUR) & (t < (w.start_h + w.duration_h) * S_PER_HOUR)
    return m


def apply_import_cap(load_w, cap_w) -> tuple[np.ndarray, np.ndarray]:
    """(grid import, shortfall) for a load under a cap, W. import <= cap always."""
    load = np.asarray(load_w, float)
    imp = np.minimum(load, cap_w)
    return imp, load - imp


def per_gpu_power_cap_w(site_cap_w, num_gpus, *, non_gpu_it_w_per_gpu, pue):
    """Per-accelerator power cap that keeps the facility under a site import cap, W (vectorized).
    Negative means even idle-free GPUs would not fit (the cap is below the non-GPU load)."""
    return (np.asarray(site_cap_w, float) / np.asarray(pue, float) - np.asarray(num_gpus, float) * non_gpu_it_w_per_gpu) / np.asarray(num_gpus, float)


def max_gpus_under_cap(site_cap_w: float, facility_w_per_gpu: float) -> int:
    """Largest number of accelerator slots whose facility power fits under the cap."""
    if not math.isfinite(site_cap_w):
        raise ValueError("no grid cap given")
    if facility_w_per_gpu <= 0:
        raise ValueError("facility power per GPU must be > 0")
    return int(math.floor(site_cap_w / facility_w_per_gpu * (1 + 1e-12)))


def site_import(load_w, dt_s: float, grid: GridSpec | None, *, t0_s: float = 0.0, price=None) -> DispatchResult:
    """Grid import for a facility load series under the grid spec (cap, curtailment, battery)."""
    load = np.asarray(load_w, float)
    t = t0_s + dt_s * np.arange(load.size)
    cap = import_cap_series_w(t, grid)
    if grid is not None and grid.battery is not None:
        return dispatch(load, dt_s, grid.battery, cap_w=cap, price=price)
    return no_battery(load, dt_s, cap_w=cap)
