"""Whole-run accounting shared by `train`, `serve`, `site` and the simulations.

v0 interface (the power/economics work refines the internals; keep the signature and keys):

    account_run(acc, node, num_gpus, wall_time_s, gpu_energy_j, facility, economics) -> dict

returns it_energy_j, facility_energy_j, gpu_hours, cost_usd + cost_breakdown_usd,
co2e_kg + co2e_breakdown_kg, and `assumptions` (list of {name, value, unit, source}).
"""

from __future__ import annotations

from typing import Any

from costsim.specs.hardware import Accelerator, Node
from costsim.specs.site import EconomicsSpec, FacilitySpec
from costsim.units import J_PER_KWH, S_PER_HOUR, S_PER_YEAR

DEFAULT_HOST_FRAC_OF_TDP = 0.4  # host share when no node profile exists (estimate)


def host_power_per_gpu_w(acc: Accelerator, node: Node | None, *, busy: bool = True) -> float:
    if node is not None:
        per = node.host_power_w if busy else node.host_idle_w
        return per / node.devices_per_node
    return DEFAULT_HOST_FRAC_OF_TDP * acc.tdp_w * (1.0 if busy else 0.6)


def usd_per_gpu_hour(acc: Accelerator, economics: EconomicsSpec) -> float:
    if economics.usd_per_gpu_hour is not None:
        return economics.usd_per_gpu_hour
    r = acc.rental_usd_per_hour
    if r is not None:
        return r
    if acc.prices.purchase_usd:
        # no rental quote: amortized purchase over lifetime at the assumed utilization
        return acc.prices.purchase_usd * (1 - economics.residual_value_frac) / (acc.lifetime_years * S_PER_YEAR / S_PER_HOUR * economics.utilization_frac)
    return 2.0


def account_run(*, acc: Accelerator, node: Node | None, num_gpus: int, wall_time_s: float, gpu_energy_j: float,
                facility: FacilitySpec, economics: EconomicsSpec) -> dict[str, Any]:
    gpu_hours = num_gpus * wall_time_s / S_PER_HOUR
    host_j = host_power_per_gpu_w(acc, node) * num_gpus * wall_time_s
    it_j = gpu_energy_j + host_j
    fac_j = it_j * facility.pue
    kwh = fac_j / J_PER_KWH
    price = usd_per_gpu_hour(acc, economics)
    cost: dict[str, float] = {}
    if economics.pricing == "rental":
        cost["rental_usd"] = gpu_hours * price
        cost["electricity_usd"] = 0.0  # included in rental
    else:
        life_h = acc.lifetime_years * S_PER_YEAR / S_PER_HOUR * economics.utilization_frac
        capex = (acc.prices.purchase_usd or 0.0) * (1 - economics.residual_value_frac)
        cost["capex_amortized_usd"] = gpu_hours * capex / life_h if life_h else 0.0
        cost["electricity_usd"] = kwh * economics.electricity_usd_per_kwh
    op_kg = kwh * economics.grid_gco2e_per_kwh / 1000.0
    emb_kg = 0.0
    if economics.include_embodied and acc.embodied_kgco2e:
        emb_kg = acc.embodied_kgco2e * num_gpus * wall_time_s / (acc.lifetime_years * S_PER_YEAR)
    return {
        "gpu_hours": gpu_hours,
        "gpu_energy_j": gpu_energy_j,
        "host_energy_j": host_j,
        "it_energy_j": it_j,
        "facility_energy_j": fac_j,
        "cost_usd": sum(cost.values()),
        "cost_breakdown_usd": cost,
        "co2e_kg": op_kg + emb_kg,
        "co2e_breakdown_kg": {"operational_location_based_kg": op_kg, "embodied_kg": emb_kg},
        "assumptions": [
            {"name": "pue", "value": facility.pue, "unit": "", "source": "default 1.2 (between Google fleet 1.10 and Uptime average 1.58)"},
            {"name": "usd_per_gpu_hour", "value": price, "unit": "USD/GPU-h", "source": "override" if economics.usd_per_gpu_hour is not None else f"{acc.id} profile rental midpoint ({acc.prices.price_date})"},
            {"name": "grid_gco2e_per_kwh", "value": economics.grid_gco2e_per_kwh, "unit": "gCO2e/kWh", "source": "default location-based intensity"},
            {"name": "host_power_per_gpu_w", "value": host_power_per_gpu_w(acc, node), "unit": "W", "source": f"node profile {node.id}" if node else "40% of TDP (no node profile)"},
        ],
    }
