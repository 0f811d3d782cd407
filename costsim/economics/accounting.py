"""Whole-run accounting shared by `train`, `serve`, `site` and the simulations.

    account_run(acc, node, num_gpus, wall_time_s, gpu_energy_j, facility, economics, ...) -> dict

returns it_energy_j, facility_energy_j, gpu_hours, cost_usd + cost_breakdown_usd,
co2e_kg + co2e_breakdown_kg, and `assumptions` (list of {name, value, unit, source}); also
host_energy_j, fabric_energy_j, water_l, alternatives_usd (rental vs purchase side by side).

Optional time-series inputs (what the simulations pass): `facility_power_w` + `dt_s` (the
metered series; replaces the flat energy total for electricity, demand charge and carbon) and
`price` / `carbon` (a number or an object with a vectorized `at(t_s)`, e.g.
costsim.power.signals.Signal). Without them, flat prices from EconomicsSpec apply.

Conventions: IT = accelerators + host share of their nodes + cluster fabric/storage (data-centre
devices only); facility = IT x PUE (constant, or load/temperature at full load here);
electricity is paid under 'purchase' and included in the rental price under 'rental';
operational carbon is location-based (market-based reported beside it when given); embodied
carbon is straight-line over the device lifetime, with the host/network share as a multiple.
"""

from __future__ import annotations

from typing import Any

from costsim.core.power import (
    DEFAULT_HOST_FRAC_OF_TDP,
    default_host_power_per_device_w,
    host_power_per_device_w,
    pue_load_temperature,
)
from costsim.economics import ownership, timeseries
from costsim.specs.hardware import Accelerator, Node
from costsim.specs.site import EconomicsSpec, FacilitySpec, GridSpec
from costsim.units import J_PER_KWH, S_PER_HOUR

FABRIC_CATEGORIES = ("datacenter_gpu", "ai_accelerator")
NO_PRICE_REASON = ("{id} has no price for this pricing basis (no rental quote / no purchase price in its profile); "
                   "cost is reported as unknown rather than at a placeholder rate. Set economics.usd_per_gpu_hour "
                   "(rental) or add prices.purchase_usd to the profile to price it.")


def host_power_per_gpu_w(acc: Accelerator, node: Node | None, *, busy: bool = True) -> float:
    if node is not None:
        per = node.host_power_w if busy else node.host_idle_w
        return float(host_power_per_device_w(per, node.devices_per_node))
    return float(default_host_power_per_device_w(acc.tdp_w, busy))


def fabric_power_per_gpu_w(acc: Accelerator, facility: FacilitySpec) -> float:
    return facility.fabric_storage_w_per_gpu if acc.category in FABRIC_CATEGORIES else 0.0


def effective_pue(facility: FacilitySpec) -> float:
    """PUE applied to flat energy totals (load_temperature model at full load and reference T)."""
    if facility.pue_model == "constant":
        return facility.pue
    return float(pue_load_temperature(facility.pue, 1.0, facility.reference_temp_c, fixed_overhead_frac=facility.fixed_overhead_frac,
                                      reference_temp_c=facility.reference_temp_c, cooling_temp_coef_per_c=facility.cooling_temp_coef_per_c,
                                      free_cooling_below_c=facility.free_cooling_below_c))


def amortized_usd_per_gpu_hour(acc: Accelerator, economics: EconomicsSpec) -> float | None:
    if not acc.prices.purchase_usd:
        return None
    return float(ownership.amortized_usd_per_device_hour(acc.prices.purchase_usd, acc.lifetime_years,
                                                         economics.utilization_frac, economics.residual_value_frac))


def usd_per_gpu_hour(acc: Accelerator, economics: EconomicsSpec) -> float | None:
    """Rental price per GPU-hour: override, else the profile's on-demand midpoint, else amortized
    purchase; None when the profile has no price at all (phones, laptops' SoCs): never a made-up rate."""
    if economics.usd_per_gpu_hour is not None:
        return economics.usd_per_gpu_hour
    r = acc.rental_usd_per_hour
    if r is not None:
        return r
    a = amortized_usd_per_gpu_hour(acc, economics)
    return a


def _rental_source(acc: Accelerator, economics: EconomicsSpec) -> str:
    if economics.usd_per_gpu_hour is not None:
        return "override"
    if acc.rental_usd_per_hour is not None:
        return f"{acc.id} profile on-demand midpoint ({acc.prices.price_date})"
    if acc.prices.purchase_usd:
        return f"{acc.id}: no rental quote; amortized purchase price"
    return NO_PRICE_REASON.format(id=acc.id)


def flat_facility_peak_w(num_gpus: int, gpu_energy_j: float, wall_time_s: float, host_w: float, fabric_w: float,
                         pue: float, gpu_peak_power_w: float | None) -> float:
    """Facility peak power for a run given as totals: (GPU peak + host + fabric) x PUE, with the GPU
    peak = num_gpus x gpu_peak_power_w when known, else the GPU mean (no better information)."""
    gpu_mean = gpu_energy_j / wall_time_s if wall_time_s > 0 else 0.0
    gpu_peak = max(num_gpus * gpu_peak_power_w, gpu_mean) if gpu_peak_power_w is not None else gpu_mean
    return (gpu_peak + (host_w + fabric_w) * num_gpus) * pue


def account_run(*, acc: Accelerator, node: Node | None, num_gpus: int, wall_time_s: float, gpu_energy_j: float,
                facility: FacilitySpec, economics: EconomicsSpec, grid: GridSpec | None = None,
                facility_power_w=None, dt_s: float | None = None, t0_s: float = 0.0,
                price=None, carbon=None, gpu_peak_power_w: float | None = None) -> dict[str, Any]:
    gpu_hours = num_gpus * wall_time_s / S_PER_HOUR
    host_w = host_power_per_gpu_w(acc, node)
    fabric_w = fabric_power_per_gpu_w(acc, facility)
    host_j = host_w * num_gpus * wall_time_s
    fabric_j = fabric_w * num_gpus * wall_time_s
    it_j = gpu_energy_j + host_j + fabric_j
    pue = effective_pue(facility)
    price_flat = economics.electricity_usd_per_kwh
    carbon_flat = economics.grid_gco2e_per_kwh
    price_in = price if price is not None else price_flat
    carbon_in = carbon if carbon is not None else carbon_flat
    demand_rate = grid.demand_charge_usd_per_kw_month if grid is not None else 0.0

    if facility_power_w is not None:
        if dt_s is None:
            raise ValueError("facility_power_w needs dt_s")
        bill = timeseries.electricity_bill(facility_power_w, dt_s, usd_per_kwh=price_in, gco2e_per_kwh=carbon_in,
                                           demand_charge_usd_per_kw_month=demand_rate,
                                           market_based_gco2e_per_kwh=economics.market_based_gco2e_per_kwh, t0_s=t0_s)
        fac_j = bill["energy_j"]
    else:
        fac_j = it_j * pue
        kwh = fac_j / J_PER_KWH
        mean_w = fac_j / wall_time_s if wall_time_s > 0 else 0.0
        p_kwh = float(price_in.mean()) if hasattr(price_in, "mean") and hasattr(price_in, "at") else float(price_in)
        c_kwh = float(carbon_in.mean()) if hasattr(carbon_in, "mean") and hasattr(carbon_in, "at") else float(carbon_in)
        months = wall_time_s / timeseries.S_PER_MONTH
        # a demand charge bills the PEAK kW at the meter, not the mean: facility peak = IT peak x PUE
        # (IT peak as component_breakdowns counts it: GPU peak phase power when given, host, fabric)
        peak_w = max(flat_facility_peak_w(num_gpus, gpu_energy_j, wall_time_s, host_w, fabric_w, pue, gpu_peak_power_w), mean_w)
        bill = {"energy_j": fac_j, "energy_usd": kwh * p_kwh,
                "demand_charge_usd": peak_w / 1e3 * demand_rate * max(months, 0.0) if demand_rate else 0.0,
                "operational_location_based_kg": kwh * c_kwh / 1000.0, "peak_power_w": peak_w}
        if economics.market_based_gco2e_per_kwh is not None:
            bill["operational_market_based_kg"] = kwh * economics.market_based_gco2e_per_kwh / 1000.0
        bill["electricity_usd"] = bill["energy_usd"] + bill["demand_charge_usd"]

    rent = usd_per_gpu_hour(acc, economics)
    amort = amortized_usd_per_gpu_hour(acc, economics)
    water = timeseries.water_l([it_j], 1.0, facility.wue_l_per_kwh)
    water_usd = water / 1000.0 * economics.water_usd_per_m3

    alternatives: dict[str, float | None] = {"rental_usd": gpu_hours * rent if rent is not None else None}
    if amort is not None:
        alternatives["purchase_usd"] = gpu_hours * amort + bill["electricity_usd"] + water_usd
    cost: dict[str, float] = {}
    priced = True
    if economics.pricing == "rental":
        if rent is None:
            priced = False
        else:
            cost["rental_usd"] = gpu_hours * rent
        cost["electricity_usd"] = 0.0  # included in rental
    else:
        if amort is None:
            priced = False  # no purchase price: capex unknown (electricity alone would understate the cost)
        cost["capex_amortized_usd"] = gpu_hours * amort if amort is not None else 0.0
        cost["electricity_usd"] = bill["electricity_usd"]  # energy + demand charge (split in electricity_detail_usd)
        if water_usd:
            cost["water_usd"] = water_usd

    op_kg = bill["operational_location_based_kg"]
    emb_kg = 0.0
    if economics.include_embodied and acc.embodied_kgco2e:
        emb_kg = float(ownership.embodied_kg(num_gpus, wall_time_s, acc.embodied_kgco2e, acc.lifetime_years, economics.host_embodied_frac))
    co2e = {"operational_location_based_kg": op_kg, "embodied_kg": emb_kg}
    if "operational_market_based_kg" in bill:
        co2e["operational_market_based_kg"] = bill["operational_market_based_kg"]

    comp = component_breakdowns(num_gpus=num_gpus, wall_time_s=wall_time_s, gpu_energy_j=gpu_energy_j, host_w=host_w, fabric_w=fabric_w,
                                facility_energy_j=fac_j, facility_peak_w=bill.get("peak_power_w") if facility_power_w is not None else None,
                                pue=pue, gpu_peak_power_w=gpu_peak_power_w, cost=cost, priced=priced, pricing=economics.pricing,
                                co2e=co2e, host_embodied_frac=economics.host_embodied_frac, water_l=water, water_usd=water_usd)
    return {
        "gpu_hours": gpu_hours,
        "gpu_energy_j": gpu_energy_j,
        "host_energy_j": host_j,
        "fabric_energy_j": fabric_j,
        "it_energy_j": it_j,
        "facility_energy_j": fac_j,
        "water_l": water,
        # None only for devices without any price (no rental quote, no purchase price, no override)
        "cost_usd": sum(cost.values()) if priced else None,
        "cost_breakdown_usd": cost,
        "cost_unavailable_reason": None if priced else NO_PRICE_REASON.format(id=acc.id),
        **comp,
        "alternatives_usd": alternatives,
        "electricity_detail_usd": {"energy_usd": bill["energy_usd"], "demand_charge_usd": bill["demand_charge_usd"],
                                   "included_in_rental": economics.pricing == "rental"},
        # location-based is the headline; the market-based figure (if any) is reported beside it, not added
        "co2e_kg": op_kg + emb_kg,
        "co2e_breakdown_kg": co2e,
        "assumptions": [
            {"name": "pue", "value": pue, "unit": "", "source": f"{facility.pue_model}; default 1.2 (between Google fleet 1.10 and Uptime average 1.58)"},
            {"name": "usd_per_gpu_hour", "value": rent, "unit": "USD/GPU-h", "source": _rental_source(acc, economics)},
            {"name": "amortized_usd_per_gpu_hour", "value": amort, "unit": "USD/GPU-h",
             "source": f"purchase {acc.prices.purchase_usd} USD x (1 - residual {economics.residual_value_frac}) / ({acc.lifetime_years} y x utilization {economics.utilization_frac})"},
            {"name": "electricity_usd_per_kwh", "value": p_kwh_of(price_in), "unit": "USD/kWh", "source": "region profile (mean)" if price is not None else "flat default (US industrial ~0.08, EIA 2024)"},
            {"name": "grid_gco2e_per_kwh", "value": p_kwh_of(carbon_in), "unit": "gCO2e/kWh", "source": "region profile (mean)" if carbon is not None else "flat default location-based intensity"},
            {"name": "host_power_per_gpu_w", "value": host_w, "unit": "W", "source": f"node profile {node.id}" if node else f"{DEFAULT_HOST_FRAC_OF_TDP:.0%} of TDP (no node profile)"},
            {"name": "fabric_storage_w_per_gpu", "value": fabric_w, "unit": "W", "source": "facility default (network switches, optics, storage); 0 for non-data-centre devices"},
            *([{"name": "demand_charge_usd_per_kw_month", "value": demand_rate, "unit": "USD/kW-month",
                "source": "grid spec; billed on the facility peak (metered series peak per month when a series is given, "
                          "else (GPU peak + host + fabric) x PUE), pro-rated for the share of the month"}] if demand_rate else []),
            {"name": "embodied_kgco2e_per_gpu", "value": acc.embodied_kgco2e, "unit": "kgCO2e", "source": f"{acc.id} profile; x(1 + {economics.host_embodied_frac}) for host/network"},
        ],
    }


COMPONENTS = ("gpu", "host", "network_storage", "cooling_overhead")


def component_breakdowns(*, num_gpus: int, wall_time_s: float, gpu_energy_j: float, host_w: float, fabric_w: float,
                         facility_energy_j: float, facility_peak_w: float | None, pue: float, gpu_peak_power_w: float | None,
                         cost: dict[str, float], priced: bool, pricing: str, co2e: dict[str, float], host_embodied_frac: float,
                         water_l: float, water_usd: float) -> dict[str, Any]:
    """Power, energy, cost and CO2e split by component: gpu (accelerators), host (CPU, DRAM, NICs, fans:
    the node's share), network_storage (cluster fabric and storage), cooling_overhead (facility minus IT:
    cooling, power conversion; the PUE part). Electricity cost and operational carbon are split by
    energy share; embodied carbon: accelerators vs host/network multiple; capex or rental goes to gpu
    (a rental covers the whole instance). Each cost / carbon split sums to its total."""
    t = wall_time_s if wall_time_s > 0 else 0.0
    n = float(num_gpus)
    energy = {"gpu": gpu_energy_j, "host": host_w * n * t, "network_storage": fabric_w * n * t}
    it_j = sum(energy.values())
    energy["cooling_overhead"] = max(facility_energy_j - it_j, 0.0)
    mean = {k: (v / t if t > 0 else 0.0) for k, v in energy.items()}
    gpu_peak = n * gpu_peak_power_w if gpu_peak_power_w is not None else mean["gpu"]
    peak = {"gpu": max(gpu_peak, mean["gpu"]), "host": host_w * n, "network_storage": fabric_w * n}
    it_peak = sum(peak.values())
    fac_peak = facility_peak_w if facility_peak_w is not None else it_peak * pue
    peak["cooling_overhead"] = max(fac_peak - it_peak, 0.0)
    power = {k: {"mean_w": mean[k], "peak_w": peak[k]} for k in COMPONENTS}
    power["facility"] = {"mean_w": sum(mean.values()), "peak_w": max(fac_peak, sum(mean.values()))}
    tot = sum(energy.values())
    share = {k: (energy[k] / tot if tot > 0 else 0.0) for k in COMPONENTS}
    elec = cost.get("electricity_usd", 0.0)
    base = cost.get("rental_usd", 0.0) + cost.get("capex_amortized_usd", 0.0)
    cost_c: dict[str, float | None] = {k: elec * share[k] for k in COMPONENTS}
    cost_c["gpu"] = cost_c["gpu"] + base
    cost_c["water"] = cost.get("water_usd", 0.0)
    if not priced:
        cost_c = {k: None for k in cost_c}
    emb = co2e.get("embodied_kg", 0.0)
    emb_gpu = emb / (1.0 + host_embodied_frac) if emb else 0.0
    co2_c: dict[str, dict[str, float]] = {}
    for k in COMPONENTS:
        d = {"operational_location_based_kg": co2e["operational_location_based_kg"] * share[k]}
        if "operational_market_based_kg" in co2e:
            d["operational_market_based_kg"] = co2e["operational_market_based_kg"] * share[k]
        d["embodied_kg"] = emb_gpu if k == "gpu" else (emb - emb_gpu if k == "host" else 0.0)
        co2_c[k] = d
    return {
        "power_by_component_w": power,
        "energy_by_component_j": {**energy, "facility": tot},
        "cost_by_component_usd": cost_c,
        "co2e_by_component_kg": co2_c,
        "water_by_component": {"water_l": water_l, "water_usd": water_usd},
        "component_notes": {
            "gpu": "accelerators; under rental pricing the rental (whole instance) is booked here",
            "host": "node host share (CPU, DRAM, NICs, fans); its embodied carbon includes the host/network multiple",
            "network_storage": "cluster fabric and storage (data-centre devices only)",
            "cooling_overhead": "facility minus IT (cooling, power conversion): the PUE share",
            "peak": "gpu peak = per-GPU peak phase power x GPUs when the caller passes it, else the mean (flat)",
            "pricing": pricing,
        },
    }


def p_kwh_of(x) -> float:
    """Mean of a signal-like object or the number itself."""
    if hasattr(x, "at") and hasattr(x, "mean"):
        return float(x.mean())
    return float(x)
