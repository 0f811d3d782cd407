"""Whole-run accounting over arrays of points (struct of arrays): the vectorized twin of
`costsim.economics.accounting.account_run` for flat (no time series) totals.

    account_run_batch(acc=, node=, num_gpus=, wall_time_s=, gpu_energy_j=, facility=, economics=,
                      gpu_peak_power_w=, varied={"economics.electricity_usd_per_kwh": array, ...})
        -> dict[str, np.ndarray]

`num_gpus`, `wall_time_s`, `gpu_energy_j` and `gpu_peak_power_w` are scalars or arrays of one
length n; `varied` replaces numeric fields of the facility / economics specs by arrays of length n
(keys "facility.<field>" / "economics.<field>", see VARIABLE_FIELDS). Text and switch fields
(pricing, pue_model, include_embodied) come from the specs and are the same for every point.

The result holds one array per scalar of `account_run`'s result, flattened with '_' exactly as a
sweep row flattens it (cost_breakdown_usd_rental_usd, power_by_component_w_gpu_peak_w, ...). A key
that `account_run` leaves out for some points (water_usd when water costs nothing) is NaN there, and
absent when it leaves it out for every point (so a batched sweep stores the per-point path's columns);
a value that is None (cost of an unpriced device) is NaN; text keys are object arrays.
Property test: tests/test_batch_estimators.py checks every key against `account_run`, point by point.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from costsim.economics import ownership
from costsim.economics.accounting import (
    COMPONENTS,
    FABRIC_CATEGORIES,
    NO_PRICE_REASON,
    host_power_per_gpu_w,
)
from costsim.core.power import pue_load_temperature
from costsim.errors import InputError
from costsim.specs.hardware import Accelerator, Node
from costsim.specs.site import EconomicsSpec, FacilitySpec
from costsim.units import J_PER_KWH, S_PER_HOUR

# Numeric fields that may vary from point to point (the others select a formula).
VARIABLE_FIELDS = (
    "facility.pue", "facility.wue_l_per_kwh", "facility.fabric_storage_w_per_gpu", "facility.fixed_overhead_frac",
    "facility.reference_temp_c", "facility.cooling_temp_coef_per_c", "facility.free_cooling_below_c",
    "economics.usd_per_gpu_hour", "economics.electricity_usd_per_kwh", "economics.grid_gco2e_per_kwh",
    "economics.market_based_gco2e_per_kwh", "economics.utilization_frac", "economics.residual_value_frac",
    "economics.host_embodied_frac", "economics.water_usd_per_m3",
)
# design_it_power_w has no effect on flat totals (full-load PUE), so it may vary freely too.
NO_EFFECT_FIELDS = ("facility.design_it_power_w",)


def account_run_batch(*, acc: Accelerator, node: Node | None, num_gpus, wall_time_s, gpu_energy_j,
                      facility: FacilitySpec, economics: EconomicsSpec, gpu_peak_power_w=None,
                      varied: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
    """Flat accounting of n points at once (see the module docstring); every array has length n."""
    varied = dict(varied or {})
    for k in varied:
        if k not in VARIABLE_FIELDS and k not in NO_EFFECT_FIELDS:
            raise InputError(f"'{k}' cannot vary point by point in the batched accounting; it selects a formula. "
                             f"Vary one of: {', '.join(VARIABLE_FIELDS)}.", field=k)
    n_gpu = np.asarray(num_gpus, float)
    wall = np.asarray(wall_time_s, float)
    gpu_j = np.asarray(gpu_energy_j, float)
    shapes = [np.shape(v) for v in (n_gpu, wall, gpu_j, *(np.asarray(v) for v in varied.values()))]
    if gpu_peak_power_w is not None:
        shapes.append(np.shape(np.asarray(gpu_peak_power_w)))
    n = int(max((int(np.prod(s)) for s in shapes if s), default=1))
    ones = np.ones(n)

    def fac(name: str) -> np.ndarray | None:
        v = varied.get(f"facility.{name}", getattr(facility, name))
        return None if v is None else np.asarray(v, float) * ones

    def eco(name: str) -> np.ndarray | None:
        v = varied.get(f"economics.{name}", getattr(economics, name))
        return None if v is None else np.asarray(v, float) * ones

    n_gpu = n_gpu * ones
    wall = wall * ones
    gpu_j = gpu_j * ones
    gpu_hours = n_gpu * wall / S_PER_HOUR
    host_w = host_power_per_gpu_w(acc, node)
    fabric_w = fac("fabric_storage_w_per_gpu") if acc.category in FABRIC_CATEGORIES else np.zeros(n)
    host_j = host_w * n_gpu * wall
    fabric_j = fabric_w * n_gpu * wall
    it_j = gpu_j + host_j + fabric_j
    if facility.pue_model == "constant":
        pue = fac("pue")
    else:
        ref = fac("reference_temp_c")
        pue = np.asarray(pue_load_temperature(fac("pue"), 1.0, ref, fixed_overhead_frac=fac("fixed_overhead_frac"),
                                              reference_temp_c=ref, cooling_temp_coef_per_c=fac("cooling_temp_coef_per_c"),
                                              free_cooling_below_c=fac("free_cooling_below_c")), float) * ones
    p_kwh = eco("electricity_usd_per_kwh")
    c_kwh = eco("grid_gco2e_per_kwh")
    market = eco("market_based_gco2e_per_kwh")

    fac_j = it_j * pue
    kwh = fac_j / J_PER_KWH
    pos = wall > 0
    safe_wall = np.where(pos, wall, 1.0)
    mean_w = np.where(pos, fac_j / safe_wall, 0.0)
    gpu_mean = np.where(pos, gpu_j / safe_wall, 0.0)
    if gpu_peak_power_w is not None:
        gpu_peak = np.maximum(n_gpu * np.asarray(gpu_peak_power_w, float), gpu_mean)
    else:
        gpu_peak = gpu_mean
    flat_peak = (gpu_peak + (host_w + fabric_w) * n_gpu) * pue
    peak_w = np.maximum(flat_peak, mean_w)
    energy_usd = kwh * p_kwh
    demand_usd = np.zeros(n)  # no grid in a flat estimate (account_run's grid=None)
    op_kg = kwh * c_kwh / 1000.0
    op_market_kg = kwh * market / 1000.0 if market is not None else None
    electricity_usd = energy_usd + demand_usd

    rent_v = economics.usd_per_gpu_hour if "economics.usd_per_gpu_hour" not in varied else varied["economics.usd_per_gpu_hour"]
    if rent_v is None:
        rent_v = acc.rental_usd_per_hour
    if rent_v is None and acc.prices.purchase_usd:
        rent_v = ownership.amortized_usd_per_device_hour(acc.prices.purchase_usd, acc.lifetime_years, eco("utilization_frac"),
                                                         eco("residual_value_frac"))
    rent = None if rent_v is None else np.asarray(rent_v, float) * ones
    amort = (np.asarray(ownership.amortized_usd_per_device_hour(acc.prices.purchase_usd, acc.lifetime_years, eco("utilization_frac"),
                                                                eco("residual_value_frac")), float) * ones
             if acc.prices.purchase_usd else None)
    wue = fac("wue_l_per_kwh")
    water = it_j / J_PER_KWH * wue if wue is not None else np.zeros(n)
    if wue is not None:
        water = np.where(wue != 0, water, 0.0)
    water_usd = water / 1000.0 * eco("water_usd_per_m3")

    out: dict[str, Any] = {"gpu_hours": gpu_hours, "gpu_energy_j": gpu_j, "host_energy_j": host_j, "fabric_energy_j": fabric_j,
                           "it_energy_j": it_j, "facility_energy_j": fac_j, "water_l": water}
    nan = np.full(n, np.nan)
    out["alternatives_usd_rental_usd"] = gpu_hours * rent if rent is not None else nan
    if amort is not None:
        out["alternatives_usd_purchase_usd"] = gpu_hours * amort + electricity_usd + water_usd
    cost: dict[str, np.ndarray] = {}
    priced = True
    if economics.pricing == "rental":
        if rent is None:
            priced = False
        else:
            cost["rental_usd"] = gpu_hours * rent
        cost["electricity_usd"] = np.zeros(n)
    else:
        if amort is None:
            priced = False
        cost["capex_amortized_usd"] = gpu_hours * amort if amort is not None else np.zeros(n)
        cost["electricity_usd"] = electricity_usd
        if np.any(water_usd != 0):
            # account_run lists water_usd only when non-zero (0 = water not costed): NaN at the points where it is
            # zero, and no key at all when it is zero everywhere, so a batched sweep stores the per-point columns
            cost["water_usd"] = np.where(water_usd != 0, water_usd, np.nan)
    cost_total = sum(np.nan_to_num(v, nan=0.0) for v in cost.values()) if priced else nan
    emb_kg = np.zeros(n)
    if economics.include_embodied and acc.embodied_kgco2e:
        emb_kg = np.asarray(ownership.embodied_kg(n_gpu, wall, acc.embodied_kgco2e, acc.lifetime_years, eco("host_embodied_frac")), float) * ones
    out["cost_usd"] = cost_total
    for k, v in cost.items():
        out[f"cost_breakdown_usd_{k}"] = v
    out["cost_unavailable_reason"] = np.full(n, None if priced else NO_PRICE_REASON.format(id=acc.id), dtype=object)

    # component breakdowns (costsim.economics.accounting.component_breakdowns, flat: facility_peak_w None)
    t = np.where(pos, wall, 0.0)
    energy = {"gpu": gpu_j, "host": host_w * n_gpu * t, "network_storage": fabric_w * n_gpu * t}
    it_sum = energy["gpu"] + energy["host"] + energy["network_storage"]
    energy["cooling_overhead"] = np.maximum(fac_j - it_sum, 0.0)
    tpos = t > 0
    safe_t = np.where(tpos, t, 1.0)
    mean = {k: np.where(tpos, v / safe_t, 0.0) for k, v in energy.items()}
    gp = n_gpu * np.asarray(gpu_peak_power_w, float) if gpu_peak_power_w is not None else mean["gpu"]
    peak = {"gpu": np.maximum(gp, mean["gpu"]), "host": host_w * n_gpu, "network_storage": fabric_w * n_gpu}
    it_peak = peak["gpu"] + peak["host"] + peak["network_storage"]
    fac_peak = it_peak * pue
    peak["cooling_overhead"] = np.maximum(fac_peak - it_peak, 0.0)
    mean_sum = mean["gpu"] + mean["host"] + mean["network_storage"] + mean["cooling_overhead"]
    for k in COMPONENTS:
        out[f"power_by_component_w_{k}_mean_w"] = mean[k]
        out[f"power_by_component_w_{k}_peak_w"] = peak[k]
    out["power_by_component_w_facility_mean_w"] = mean_sum
    out["power_by_component_w_facility_peak_w"] = np.maximum(fac_peak, mean_sum)
    tot = energy["gpu"] + energy["host"] + energy["network_storage"] + energy["cooling_overhead"]
    for k in COMPONENTS:
        out[f"energy_by_component_j_{k}"] = energy[k]
    out["energy_by_component_j_facility"] = tot
    tpos_e = tot > 0
    safe_tot = np.where(tpos_e, tot, 1.0)
    share = {k: np.where(tpos_e, energy[k] / safe_tot, 0.0) for k in COMPONENTS}
    elec = cost.get("electricity_usd", np.zeros(n))
    base = cost.get("rental_usd", np.zeros(n)) + cost.get("capex_amortized_usd", np.zeros(n))
    for k in COMPONENTS:
        v = elec * share[k] + (base if k == "gpu" else 0.0)
        out[f"cost_by_component_usd_{k}"] = v if priced else nan
    out["cost_by_component_usd_water"] = np.nan_to_num(cost.get("water_usd", np.zeros(n)), nan=0.0) if priced else nan
    emb_gpu = np.where(emb_kg != 0, emb_kg / (1.0 + eco("host_embodied_frac")), 0.0)
    for k in COMPONENTS:
        out[f"co2e_by_component_kg_{k}_operational_location_based_kg"] = op_kg * share[k]
        if op_market_kg is not None:
            out[f"co2e_by_component_kg_{k}_operational_market_based_kg"] = op_market_kg * share[k]
        out[f"co2e_by_component_kg_{k}_embodied_kg"] = emb_gpu if k == "gpu" else (emb_kg - emb_gpu if k == "host" else np.zeros(n))
    out["water_by_component_water_l"] = water
    out["water_by_component_water_usd"] = water_usd
    out["electricity_detail_usd_energy_usd"] = energy_usd
    out["electricity_detail_usd_demand_charge_usd"] = demand_usd
    out["electricity_detail_usd_included_in_rental"] = np.full(n, economics.pricing == "rental")
    out["co2e_kg"] = op_kg + emb_kg
    out["co2e_breakdown_kg_operational_location_based_kg"] = op_kg
    out["co2e_breakdown_kg_embodied_kg"] = emb_kg
    if op_market_kg is not None:
        out["co2e_breakdown_kg_operational_market_based_kg"] = op_market_kg
    return out
