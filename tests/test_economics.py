"""Economics over time series and whole-run accounting."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costsim.economics import ownership, timeseries
from costsim.economics.accounting import account_run
from costsim.power.signals import load_region
from costsim.specs.catalog import get_accelerator, node_for
from costsim.specs.site import EconomicsSpec, FacilitySpec, GridSpec

powers = st.lists(st.floats(0, 1e8, allow_nan=False), min_size=1, max_size=200)


@given(powers, st.floats(0.01, 3600))
@settings(max_examples=80, deadline=None)
def test_energy_is_integral_of_power(p, dt):
    p = np.array(p)
    # integral of a piecewise-constant function = trapezoid on the step function
    t = np.repeat(np.arange(p.size + 1) * dt, 2)[1:-1]
    y = np.repeat(p, 2)
    assert timeseries.energy_j(p, dt) == pytest.approx(np.trapezoid(y, t) if hasattr(np, "trapezoid") else np.trapz(y, t), rel=1e-9, abs=1e-6)


@given(powers, st.floats(0.0, 1.0), st.floats(0.1, 10))
@settings(max_examples=80, deadline=None)
def test_cost_linear_in_price(p, price, k):
    c1 = timeseries.energy_cost_usd(p, 60.0, price)
    ck = timeseries.energy_cost_usd(p, 60.0, price * k)
    assert ck == pytest.approx(k * c1, rel=1e-9, abs=1e-9)
    prof = load_region("de-germany")
    a = timeseries.energy_cost_usd(p, 600.0, prof.price)
    b = timeseries.energy_cost_usd(np.array(p) * 2, 600.0, prof.price)
    assert b == pytest.approx(2 * a, rel=1e-9, abs=1e-9)


@given(powers, st.floats(0, 1000))
@settings(max_examples=80, deadline=None)
def test_carbon_is_energy_times_intensity(p, g):
    e_kwh = timeseries.energy_j(p, 30.0) / 3.6e6
    assert timeseries.carbon_kg(p, 30.0, g) == pytest.approx(e_kwh * g / 1000, rel=1e-9, abs=1e-9)


def test_hourly_signal_weights_by_time():
    prof = load_region("us-caiso-california")
    p = np.zeros(24)
    p[13] = 1e6  # 1 MW for one hour at 13:00 in January
    assert timeseries.carbon_kg(p, 3600.0, prof.carbon) == pytest.approx(prof.carbon.values[0, 13], rel=1e-9)


def test_demand_charge():
    p = np.full(int(timeseries.S_PER_MONTH / 3600), 1e6)
    p[10] = 3e6
    assert timeseries.demand_charge_usd(p, 3600.0, 10.0) == pytest.approx(3000 * 10, rel=1e-3)
    assert timeseries.demand_charge_usd(p, 3600.0, 0.0) == 0.0


def test_ownership_math():
    # 27.5k USD, 10 % residual, 5 y, 80 % utilization
    per_h = ownership.amortized_usd_per_device_hour(27500, 5, 0.8, 0.1)
    assert per_h == pytest.approx(27500 * 0.9 / (5 * 8766 * 0.8), rel=1e-3)
    assert ownership.embodied_kg(8, 365.25 * 86400, 150, 5, 1.0) == pytest.approx(8 * 150 * 2 / 5)
    be = ownership.breakeven_utilization_frac(27500, 5, 0.1, 3.0, 0.08)
    assert 0 < be < 1


@pytest.mark.parametrize("pricing", ["rental", "purchase"])
def test_account_run_keys_and_consistency(pricing):
    acc = get_accelerator("h100-sxm")
    econ = EconomicsSpec(pricing=pricing, market_based_gco2e_per_kwh=50.0)
    r = account_run(acc=acc, node=node_for(acc), num_gpus=8, wall_time_s=86400, gpu_energy_j=8 * 600 * 86400,
                    facility=FacilitySpec(wue_l_per_kwh=0.5), economics=econ)
    for k in ("it_energy_j", "facility_energy_j", "gpu_hours", "cost_usd", "cost_breakdown_usd", "co2e_kg", "co2e_breakdown_kg", "assumptions"):
        assert k in r
    assert r["facility_energy_j"] == pytest.approx(r["it_energy_j"] * 1.2)
    assert r["cost_usd"] == pytest.approx(sum(r["cost_breakdown_usd"].values()))
    assert r["co2e_breakdown_kg"]["operational_market_based_kg"] < r["co2e_breakdown_kg"]["operational_location_based_kg"]
    assert r["water_l"] == pytest.approx(r["it_energy_j"] / 3.6e6 * 0.5)
    assert {"rental_usd", "purchase_usd"} <= set(r["alternatives_usd"])
    if pricing == "purchase":
        assert r["cost_breakdown_usd"]["electricity_usd"] == pytest.approx(r["facility_energy_j"] / 3.6e6 * 0.08)


def test_account_run_time_series_matches_flat_when_flat():
    acc = get_accelerator("h100-sxm")
    econ = EconomicsSpec(pricing="purchase")
    flat = account_run(acc=acc, node=node_for(acc), num_gpus=8, wall_time_s=3600, gpu_energy_j=8 * 600 * 3600,
                       facility=FacilitySpec(), economics=econ)
    series = np.full(60, flat["facility_energy_j"] / 3600)
    ts = account_run(acc=acc, node=node_for(acc), num_gpus=8, wall_time_s=3600, gpu_energy_j=8 * 600 * 3600,
                     facility=FacilitySpec(), economics=econ, facility_power_w=series, dt_s=60.0,
                     grid=GridSpec(demand_charge_usd_per_kw_month=0.0))
    assert ts["cost_usd"] == pytest.approx(flat["cost_usd"], rel=1e-9)
    assert ts["co2e_kg"] == pytest.approx(flat["co2e_kg"], rel=1e-9)
