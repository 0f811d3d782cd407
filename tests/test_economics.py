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


# --- component breakdowns and unpriced devices (issue 5, task 3/5) ---------------------------
def _acct(acc_id="h100-sxm", **econ):
    from costsim.economics.accounting import account_run
    from costsim.specs.catalog import get_accelerator, node_for
    from costsim.specs.site import EconomicsSpec, FacilitySpec

    acc = get_accelerator(acc_id)
    return account_run(acc=acc, node=node_for(acc), num_gpus=8, wall_time_s=3600.0, gpu_energy_j=8 * 600.0 * 3600.0,
                       facility=FacilitySpec(pue=1.3), economics=EconomicsSpec(**econ), gpu_peak_power_w=700.0)


@pytest.mark.parametrize("pricing", ["rental", "purchase"])
def test_component_breakdowns_sum_to_totals(pricing):
    r = _acct(pricing=pricing, market_based_gco2e_per_kwh=50.0)
    e = r["energy_by_component_j"]
    assert e["gpu"] + e["host"] + e["network_storage"] + e["cooling_overhead"] == pytest.approx(r["facility_energy_j"])
    assert e["cooling_overhead"] == pytest.approx(r["it_energy_j"] * 0.3)
    assert sum(v for k, v in r["cost_by_component_usd"].items()) == pytest.approx(r["cost_usd"])
    co = r["co2e_by_component_kg"]
    assert sum(d["operational_location_based_kg"] for d in co.values()) == pytest.approx(r["co2e_breakdown_kg"]["operational_location_based_kg"])
    assert sum(d["operational_market_based_kg"] for d in co.values()) == pytest.approx(r["co2e_breakdown_kg"]["operational_market_based_kg"])
    assert sum(d["embodied_kg"] for d in co.values()) == pytest.approx(r["co2e_breakdown_kg"]["embodied_kg"])
    pw = r["power_by_component_w"]
    assert pw["gpu"]["mean_w"] == pytest.approx(8 * 600.0)
    assert pw["gpu"]["peak_w"] == pytest.approx(8 * 700.0)
    assert pw["facility"]["peak_w"] == pytest.approx(1.3 * (pw["gpu"]["peak_w"] + pw["host"]["peak_w"] + pw["network_storage"]["peak_w"]))


def test_unpriced_device_reports_none_not_placeholder():
    from costsim.economics.accounting import usd_per_gpu_hour
    from costsim.specs.catalog import get_accelerator
    from costsim.specs.site import EconomicsSpec

    assert usd_per_gpu_hour(get_accelerator("apple-a16"), EconomicsSpec()) is None
    r = _acct("apple-a16")
    assert r["cost_usd"] is None and "apple-a16" in r["cost_unavailable_reason"]
    assert all(v is None for v in r["cost_by_component_usd"].values())
    assert r["co2e_kg"] > 0 and r["facility_energy_j"] > 0  # energy and carbon still reported
    priced = _acct("apple-a16", usd_per_gpu_hour=0.5)
    assert priced["cost_usd"] == pytest.approx(8 * 0.5)


def test_serve_phone_has_no_made_up_cost_and_has_component_breakdowns():
    from costsim.api.serve import serve
    from costsim.specs.requests import ServeRequest

    r = serve(ServeRequest(model="phi-3-mini", hardware="apple-a16", weight_precision="q4_0", batch=1))
    assert r["cost_usd_per_million_tokens"] is None and r["cost_unavailable_reason"]
    assert r["gpu_energy_per_token_j"] > 0
    h = serve(ServeRequest(model="llama-3-8b", hardware="h100-sxm", batch=8))
    assert h["cost_usd_per_million_tokens"] > 0
    assert sum(v for v in h["cost_by_component_usd_per_million_tokens"].values()) == pytest.approx(h["cost_usd_per_million_tokens"])
    e = h["energy_by_component_j_per_token"]
    assert e["facility"] == pytest.approx(h["facility_energy_per_token_j"])
    assert e["gpu"] == pytest.approx(h["gpu_energy_per_token_j"])


def test_flat_demand_charge_bills_the_peak_not_the_mean():
    """Half the time at 700 W, half at 121 W per GPU: the demand charge is on the 700 W peak."""
    acc = get_accelerator("h100-sxm")
    node = node_for(acc)
    eco = EconomicsSpec(pricing="purchase")
    fac = FacilitySpec(pue=1.2)
    wall = 30 * 86400.0
    n = 8
    gpu_j = n * (700.0 * wall / 2 + 121.0 * wall / 2)
    kw = dict(acc=acc, node=node, num_gpus=n, wall_time_s=wall, gpu_energy_j=gpu_j, facility=fac, economics=eco)
    r = account_run(**kw, grid=GridSpec(demand_charge_usd_per_kw_month=20.0), gpu_peak_power_w=700.0)
    from costsim.economics.accounting import fabric_power_per_gpu_w, host_power_per_gpu_w

    peak_w = n * (700.0 + host_power_per_gpu_w(acc, node) + fabric_power_per_gpu_w(acc, fac)) * 1.2
    months = wall / timeseries.S_PER_MONTH
    assert r["electricity_detail_usd"]["demand_charge_usd"] == pytest.approx(peak_w / 1e3 * 20.0 * months)
    mean_w = r["facility_energy_j"] / wall
    assert r["electricity_detail_usd"]["demand_charge_usd"] > mean_w / 1e3 * 20.0 * months * 1.1
    assert r["power_by_component_w"]["facility"]["peak_w"] == pytest.approx(peak_w)


def test_a_leap_year_hourly_file_keeps_its_calendar():
    """An 8,784-row hourly file was accepted, then read on a non-leap calendar: 'start_month: 3' read 29 February,
    31 December was never reached and the annual mean left out its last day (a helper's accounting audit)."""
    import numpy as np

    from costsim.power.signals import parse_region_csv, region_mean_economics

    rows = "\n".join(f"{h},{h},{h % 24}" for h in range(8784))
    prof = parse_region_csv("hour_of_year,usd_per_kwh,gco2e_per_kwh\n" + rows, path="leap.csv")
    assert prof.price.is_leap_year and prof.price.mean() == pytest.approx(8783 / 2)
    march = prof.with_start(3, 0)
    assert float(march.price.at(np.array([0.0]))[0]) == (31 + 29) * 24  # 1 March 00:00, not 29 February
    assert float(prof.price.at(np.array([8783 * 3600.0]))[0]) == 8783  # 31 December 23:00 is reached
    assert float(prof.price.at(np.array([8784 * 3600.0]))[0]) == 0  # and the year wraps after it
    assert prof.carbon.hourly_profile().shape == (24,)
    plain = parse_region_csv("hour_of_year,usd_per_kwh,gco2e_per_kwh\n" + "\n".join(f"{h},{h},1" for h in range(8760)), path="y.csv")
    assert not plain.price.is_leap_year and float(plain.with_start(3, 0).price.at(np.array([0.0]))[0]) == (31 + 28) * 24
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "leap.csv"
        f.write_text("hour_of_year,usd_per_kwh,gco2e_per_kwh\n" + rows)
        econ = region_mean_economics(EconomicsSpec(), str(f))
    assert econ.electricity_usd_per_kwh == pytest.approx(8783 / 2)
