"""Facility, grid, battery and economics specs (owned by the power/grid work; extend freely, keep names).

Defaults are the documented assumptions every output lists; each can be overridden.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from costsim.specs.base import Spec
from costsim.specs.grid_ba import BalancingAuthoritySpec


class FacilitySpec(Spec):
    pue: float = Field(1.2, ge=1.0, le=3.0, description="Power usage effectiveness: facility power / IT power (Google fleet 2023: 1.10; Uptime industry average: 1.58). Used when pue_model is 'constant'.")
    pue_model: Literal["constant", "load_temperature"] = Field("constant", description="'constant' uses pue; 'load_temperature' makes overhead depend on IT load fraction and outdoor temperature.")
    wue_l_per_kwh: float | None = Field(None, ge=0, description="Water usage effectiveness, litres per kWh of IT energy (optional; Microsoft 2022 fleet ~0.49, evaporative-cooled sites 1-2).")
    fabric_storage_w_per_gpu: float = Field(100.0, ge=0, le=10_000, description="At most 10,000 W (100x the default). Cluster-level IT power outside the nodes per accelerator (scale-out switches and optics, storage, management), W. Default: estimate for a 3-tier 400G fat tree (5/64 switches per GPU x ~1.2 kW incl. optics) plus storage.")
    design_it_power_w: float | None = Field(None, gt=0, description="Design IT capacity of the facility, W, for the load-dependent PUE (None = the peak IT load of the run).")
    fixed_overhead_frac: float = Field(0.04, ge=0, le=1, description="load_temperature model: overhead that does not shrink with IT load (UPS no-load losses, lighting, pumps at minimum), as a share of design IT power.")
    reference_temp_c: float = Field(20.0, ge=-50, le=60, description="load_temperature model: outdoor temperature at which PUE equals `pue` at full load, deg C.")
    cooling_temp_coef_per_c: float = Field(0.008, ge=0, le=0.1, description="load_temperature model: added PUE per deg C above reference (chiller lift; roughly 1-2 % of cooling power per deg C).")
    free_cooling_below_c: float = Field(10.0, ge=-50, le=40, description="load_temperature model: below this outdoor temperature cooling overhead stops falling (economizer already at its floor), deg C.")


class BatterySpec(Spec):
    energy_mwh: float = Field(..., gt=0, description="Nameplate battery energy, MWh; the usable share is the state-of-charge window (min_soc_frac to max_soc_frac, 90 % by default) and discharge loses half the round-trip loss.")
    power_mw: float = Field(..., gt=0, description="Maximum charge/discharge power, MW.")
    round_trip_efficiency_frac: float = Field(0.88, gt=0, le=1, description="Round-trip efficiency (0..1); losses split evenly between charge and discharge.")
    initial_soc_frac: float = Field(0.5, ge=0, le=1, description="State of charge at t=0 (0..1).")
    min_soc_frac: float = Field(0.05, ge=0, le=1, description="Lowest allowed state of charge (0..1).")
    max_soc_frac: float = Field(0.95, ge=0, le=1, description="Highest allowed state of charge (0..1).")
    policy: Literal["peak_shaving", "smoothing", "arbitrage", "optimal"] = Field("peak_shaving", description="Dispatch policy: keep import under the cap, smooth fast swings, buy cheap / serve the load dear (heuristics: arbitrage knows each day's prices a day ahead, nothing later), or optimal: a linear program with perfect foresight of load, price and carbon (HiGHS).")
    objective: Literal["cost", "carbon"] = Field("cost", description="policy optimal: minimize energy cost + demand charge, or grid emissions.")
    final_soc_at_least_initial: bool = Field(False, description="policy optimal: end the run with at least the initial state of charge (no energy borrowed from the battery).")

    @model_validator(mode="after")
    def _soc(self) -> "BatterySpec":
        if not (self.min_soc_frac <= self.initial_soc_frac <= self.max_soc_frac):
            raise ValueError("battery state of charge must satisfy min_soc_frac <= initial_soc_frac <= max_soc_frac")
        return self


class CurtailmentWindow(Spec):
    """A demand-response / curtailment window: during [start_h, start_h + duration_h) the grid
    import is limited to max_import_mw (on top of any permanent import cap)."""

    start_h: float = Field(..., ge=0, description="Start, hours from the start of the simulation.")
    duration_h: float = Field(..., gt=0, description="Duration, hours.")
    max_import_mw: float = Field(0.0, ge=0, description="Grid import allowed during the window, MW (0 = full curtailment).")


class GridSpec(Spec):
    import_cap_mw: float | None = Field(None, gt=0, description="Hard limit on power drawn from the grid at the meter, MW (None = unlimited).")
    region: str | None = Field(None, description="Region id for hourly price and carbon (`costsim/data/regions`), or a path to a CSV in the same format.")
    battery: BatterySpec | None = Field(None, description="On-site battery (optional).")
    curtailment: list[CurtailmentWindow] = Field(default_factory=list, description="Demand-response / curtailment windows.")
    demand_charge_usd_per_kw_month: float = Field(0.0, ge=0, description="Demand charge on the monthly peak import, USD per kW-month.")
    start_month: int = Field(1, ge=1, le=12, description="Calendar month at t=0 for hourly price/carbon profiles (1 = January).")
    start_hour: int = Field(0, ge=0, le=23, description="Hour of day at t=0 for hourly price/carbon profiles, in the profile's own clock: local time for a typical-day region, UTC for a real-year region (costsim grid regions).")
    balancing_authority: BalancingAuthoritySpec | None = Field(None, description="Place the site in a balancing authority with real hourly load: the site sees that year's curtailment events (hours where the BA's load plus the site's would exceed its planning peak). start_month/start_hour then count in UTC.")

    @property
    def import_cap_w(self) -> float | None:
        return None if self.import_cap_mw is None else self.import_cap_mw * 1e6


class EconomicsSpec(Spec):
    pricing: Literal["rental", "purchase"] = Field("rental", description="'rental': pay usd_per_gpu_hour for every GPU-hour; 'purchase': amortize capex over lifetime and utilization, plus electricity.")
    usd_per_gpu_hour: float | None = Field(None, ge=0, le=10_000, description="Rental price per GPU-hour, USD, at most 10,000 (None = midpoint of the hardware profile's on-demand range).")
    electricity_usd_per_kwh: float = Field(0.08, ge=0, le=100, description="Flat electricity price, USD/kWh (at most 100), when no region price profile is used (US industrial average ~0.08, EIA 2024).")
    grid_gco2e_per_kwh: float = Field(400.0, ge=0, le=5000, description="Location-based grid carbon intensity, gCO2e/kWh (at most 5,000; lignite plants emit ~1,100), when no region profile is used (world average ~ 480; US ~ 370-400).")
    market_based_gco2e_per_kwh: float | None = Field(None, ge=0, description="Market-based intensity (after PPAs/RECs), gCO2e/kWh; reported beside location-based when given.")
    utilization_frac: float = Field(0.8, gt=0, le=1, description="Share of its life a purchased device does paid work (amortization basis).")
    residual_value_frac: float = Field(0.1, ge=0, lt=1, description="Resale value at end of life as a share of purchase price.")
    include_embodied: bool = Field(True, description="Add amortized embodied (manufacturing) carbon of the devices.")
    host_embodied_frac: float = Field(1.0, ge=0, le=100, description="At most 100. Embodied carbon of the rest of the server (host, chassis, network, share of the building) as a multiple of the accelerators' embodied carbon (estimate; server LCAs put accelerators at roughly half of a GPU server's embodied carbon).")
    water_usd_per_m3: float = Field(0.0, ge=0, description="Price of water, USD per cubic metre (0 = not costed).")
