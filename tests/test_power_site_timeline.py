"""Site timeline (costsim.api.site.site_timeline): a simulated day of a fleet against a grid cap,
with and without a battery: import <= cap every minute, energy = integral of power, SoC in bounds."""

from __future__ import annotations

import numpy as np
import pytest

from costsim.api.site import build_request, site_timeline


def _req(cap=110.0, bat=None, policy=None, region="us-pjm-virginia", fleet=(("h100-sxm", 100_000),), workloads=None):
    r = build_request([h for h, _ in fleet], [n for _, n in fleet], grid_cap_mw=cap, region=region, workloads=workloads,
                      battery_mwh=bat and bat[0], battery_mw=bat and bat[1])
    return r.model_copy(update={"battery_policy": policy}) if policy else r


@pytest.mark.parametrize("bat,policy", [(None, None), ((100, 60), "peak_shaving"), ((100, 60), "smoothing"), ((100, 60), "arbitrage")])
def test_import_under_cap_energy_integral_soc_bounds(bat, policy):
    o = site_timeline(_req(bat=bat, policy=policy))
    s = o["summary"]
    cap = 110e6
    assert len(o["t_s"]) == 1440 and len(o["hourly_price_usd_per_kwh"]) == 24
    assert np.all(o["grid_import_max_w"] <= cap * (1 + 1e-9))
    assert s["grid_cap_exceeded_s"] == 0.0
    dt = np.diff(np.r_[o["t_s"], 86400.0])
    np.testing.assert_allclose(np.sum(o["facility_power_mean_w"] * dt), s["facility_energy_j"], rtol=1e-12)
    np.testing.assert_allclose(np.sum(o["grid_import_mean_w"] * dt), s["grid_energy_j"], rtol=1e-12)
    assert np.all(o["facility_power_min_w"] <= o["facility_power_mean_w"] + 1e-6)
    assert np.all(o["facility_power_mean_w"] <= o["facility_power_max_w"] + 1e-6)
    # cost and carbon = grid energy x hourly signal
    kwh = o["grid_import_mean_w"] * dt / 3.6e6
    assert s["energy_cost_usd"] == pytest.approx(float(np.sum(kwh * o["price_usd_per_kwh"])))
    assert s["co2e_kg"] == pytest.approx(float(np.sum(kwh * o["carbon_gco2e_per_kwh"])) / 1e3)
    if bat:
        soc = o["battery_soc_frac"]
        assert np.all((soc >= 0.05 - 1e-9) & (soc <= 0.95 + 1e-9))
        assert s["battery_policy"] == policy
        # the battery lets the GPUs run uncapped and takes the swing off the grid
        assert s["fleet"][0]["gpu_power_cap_w"] is None
        assert s["grid_power_swing_w"] < s["power_swing_w"]
        assert s["facility_peak_power_w"] > cap
    else:
        assert s["fleet"][0]["gpu_power_cap_w"] is not None
        assert s["interruptions"] >= 1


def test_battery_lowers_swing_and_ramp_and_raising_the_cap_lifts_power():
    a = site_timeline(_req())["summary"]
    b = site_timeline(_req(bat=(100, 60), policy="smoothing"))["summary"]
    assert b["grid_power_swing_w"] < a["grid_power_swing_w"]
    assert b["grid_max_ramp_w_per_s"] < a["grid_max_ramp_w_per_s"]
    c = site_timeline(_req(cap=200.0))["summary"]
    assert c["facility_peak_power_w"] > a["facility_peak_power_w"]  # no GPU power cap under 200 MW
    assert c["fleet"][0]["gpu_power_cap_w"] is None and c["time_over_cap_s"] == 0.0


def test_mixed_fleet_with_inference_diurnal():
    o = site_timeline(_req(cap=None, region=None, fleet=(("h100-sxm", 2048), ("h100-sxm", 512)),
                          workloads=["training", "inference"]))
    s = o["summary"]
    assert s["grid_cap_w"] is None and len(s["fleet"]) == 2
    inf = [e for e in s["fleet"] if e["workload"] == "inference"]
    assert len(inf) == 1 and inf[0]["facility_peak_power_w"] > inf[0]["facility_mean_power_w"]
    assert s["facility_energy_j"] > 0 and s["energy_cost_usd"] > 0
