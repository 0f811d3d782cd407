"""Plausibility warnings: valid requests that no real site could build still run, but say so.

Thresholds (each with its source; rounded down, so a warning is never raised for a real case):
- WORLD_MEAN_ELECTRICITY_W: global electricity demand 2023, ~29,500 TWh (IEA, "Electricity 2024",
  Executive summary) -> 29,500e12 Wh / 8,760 h = 3.37e12 W mean.
- LARGEST_POWER_STATION_W: Three Gorges Dam, 22.5 GW installed (China Three Gorges Corporation; the
  world's largest power station by capacity).
- LARGEST_DC_CAMPUS_W: the largest announced single AI data-center campuses are ~5 GW (e.g. the
  Stargate Abilene/Texas and Meta Hyperion announcements of 2025 name 1.2-5 GW); above this no site
  exists or is announced.
- WORLD_DC_ACCELERATORS_PER_YEAR: ~3.85 million data-center GPUs shipped in 2023 (TechInsights, 2024
  estimate: NVIDIA 3.76M of 3.85M). A fleet larger than a year's world production of data-center
  accelerators of every kind is flagged.
"""

from __future__ import annotations

WORLD_MEAN_ELECTRICITY_W = 29_500e12 / 8_760.0
LARGEST_POWER_STATION_W = 22.5e9
LARGEST_DC_CAMPUS_W = 5.0e9
WORLD_DC_ACCELERATORS_PER_YEAR = 3.85e6


def power_warnings(facility_peak_power_w: float | None) -> list[str]:
    """Plain warnings for a site power no grid connection could supply (empty when plausible)."""
    p = facility_peak_power_w
    if p is None or not (p == p):
        return []
    if p > WORLD_MEAN_ELECTRICITY_W:
        return [f"implausible site: {p / 1e12:,.3g} TW is {p / WORLD_MEAN_ELECTRICITY_W:,.3g}x the world's mean electricity "
                "demand (3.37 TW; IEA Electricity 2024). The numbers are arithmetic, not a buildable site."]
    if p > LARGEST_POWER_STATION_W:
        return [f"implausible site: {p / 1e9:,.3g} GW is more than the largest power station on Earth (Three Gorges, 22.5 GW); "
                "no single grid connection supplies this."]
    if p > LARGEST_DC_CAMPUS_W:
        return [f"unprecedented site: {p / 1e9:,.3g} GW is above the largest announced AI data-center campuses (~5 GW); "
                "expect multi-year grid and generation build-out."]
    return []


def fleet_warnings(num_accelerators: float | None) -> list[str]:
    """A warning when a fleet is larger than a year's world production of data-center accelerators."""
    n = num_accelerators
    if n is None or not (n == n) or n <= WORLD_DC_ACCELERATORS_PER_YEAR:
        return []
    return [f"implausible fleet: {n:,.3g} accelerators is {n / WORLD_DC_ACCELERATORS_PER_YEAR:,.3g}x the world's yearly "
            "shipments of data-center GPUs (~3.85M in 2023; TechInsights 2024)."]
