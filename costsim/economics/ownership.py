"""Cost of ownership and embodied carbon, per device-hour and over a run.

Purchase: (price - residual value) spread over the hours the device does paid work in its
life: lifetime_years x 8766 h x utilization. A device bought for one run is paid for only
in the share of its life the run uses (the rest is assumed resold/reused through the
utilization factor). Rental: the hourly rate, electricity included.
Embodied carbon: manufacturing CO2e spread over the lifetime (calendar time, not utilization:
a device's embodied carbon is spent whether it works or idles), with the host/network/building
share as a multiple (EconomicsSpec.host_embodied_frac).
"""

from __future__ import annotations

import numpy as np

from costsim.units import S_PER_HOUR, S_PER_YEAR

HOURS_PER_YEAR = S_PER_YEAR / S_PER_HOUR


def amortized_usd_per_device_hour(purchase_usd, lifetime_years, utilization_frac, residual_value_frac):
    """Capex per paid device-hour, USD (vectorized)."""
    life_h = np.asarray(lifetime_years, float) * HOURS_PER_YEAR * np.asarray(utilization_frac, float)
    return np.asarray(purchase_usd, float) * (1.0 - np.asarray(residual_value_frac, float)) / life_h


def capex_usd(device_hours, purchase_usd, lifetime_years, utilization_frac, residual_value_frac):
    return np.asarray(device_hours, float) * amortized_usd_per_device_hour(purchase_usd, lifetime_years, utilization_frac, residual_value_frac)


def rental_usd(device_hours, usd_per_device_hour):
    return np.asarray(device_hours, float) * np.asarray(usd_per_device_hour, float)


def embodied_kg(num_devices, wall_time_s, embodied_kgco2e_per_device, lifetime_years, host_embodied_frac=0.0):
    """Embodied CO2e attributed to a run of wall_time_s on num_devices, kg (straight-line over life)."""
    share = np.asarray(wall_time_s, float) / (np.asarray(lifetime_years, float) * S_PER_YEAR)
    return np.asarray(num_devices, float) * np.asarray(embodied_kgco2e_per_device, float) * (1.0 + np.asarray(host_embodied_frac, float)) * share


def breakeven_utilization_frac(purchase_usd, lifetime_years, residual_value_frac, rental_usd_per_hour, energy_usd_per_hour=0.0):
    """Utilization above which buying is cheaper than renting (rental includes electricity)."""
    margin = np.asarray(rental_usd_per_hour, float) - np.asarray(energy_usd_per_hour, float)
    with np.errstate(divide="ignore"):
        return np.where(margin > 0, np.asarray(purchase_usd, float) * (1 - np.asarray(residual_value_frac, float)) / (np.asarray(lifetime_years, float) * HOURS_PER_YEAR * margin), np.inf)
