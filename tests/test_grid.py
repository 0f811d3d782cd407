"""Grid import cap, curtailment, per-GPU cap and battery dispatch (costsim.power.grid/battery)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costsim.power.battery import dispatch, trailing_mean
from costsim.power.grid import import_cap_series_w, max_gpus_under_cap, per_gpu_power_cap_w, site_import
from costsim.specs.site import BatterySpec, CurtailmentWindow, GridSpec

loads = st.lists(st.floats(0, 20e6, allow_nan=False), min_size=1, max_size=150)
policies = st.sampled_from(["peak_shaving", "smoothing", "arbitrage"])


def _battery(policy, e=5.0, p=3.0, soc0=0.5):
    return BatterySpec(energy_mwh=e, power_mw=p, policy=policy, initial_soc_frac=soc0)


@given(loads, st.floats(1e6, 20e6), policies, st.floats(0.1, 20), st.floats(0.1, 10), st.floats(0.05, 0.95))
@settings(max_examples=80, deadline=None)
def test_import_never_exceeds_cap_and_energy_balances(load, cap, policy, e, p, soc0):
    load = np.array(load)
    price = np.linspace(0.05, 0.3, load.size)
    spec = _battery(policy, e, p, soc0)
    r = dispatch(load, 300.0, spec, cap_w=cap, price=price)
    assert np.all(r.grid_import_w <= cap * (1 + 1e-12))
    assert np.all(r.grid_import_w >= -1e-6)
    np.testing.assert_allclose(r.grid_import_w + r.battery_w + r.shortfall_w, load, rtol=1e-9, atol=1e-3)
    assert np.all(np.abs(r.battery_w) <= p * 1e6 * (1 + 1e-12))


@given(loads, policies, st.floats(0.05, 0.95), st.floats(0.5, 1.0))
@settings(max_examples=80, deadline=None)
def test_battery_soc_stays_in_bounds(load, policy, soc0, rte):
    spec = BatterySpec(energy_mwh=2.0, power_mw=4.0, policy=policy, initial_soc_frac=soc0, round_trip_efficiency_frac=rte,
                       min_soc_frac=min(0.05, soc0), max_soc_frac=max(0.95, soc0))
    r = dispatch(np.array(load), 600.0, spec, cap_w=8e6, price=np.sin(np.arange(len(load))) + 2)
    assert r.soc_frac.min() >= spec.min_soc_frac - 1e-9
    assert r.soc_frac.max() <= spec.max_soc_frac + 1e-9


def test_soc_bookkeeping_matches_efficiency():
    spec = BatterySpec(energy_mwh=10, power_mw=5, round_trip_efficiency_frac=0.81, initial_soc_frac=0.5)
    load = np.r_[np.full(6, 4e6), np.full(6, 12e6)]
    r = dispatch(load, 600.0, spec, cap_w=10e6)
    eta = 0.9
    e = 0.5 * 10 * 3.6e9 - np.cumsum(np.where(r.battery_w > 0, r.battery_w * 600 / eta, r.battery_w * 600 * eta))
    np.testing.assert_allclose(r.soc_frac, e / (10 * 3.6e9))
    assert r.grid_import_w.max() <= 10e6
    assert r.shortfall_w.sum() == 0  # 2 MW excess for 1 h fits a 10 MWh battery


def test_shortfall_reported_when_battery_runs_out():
    spec = BatterySpec(energy_mwh=1, power_mw=10, initial_soc_frac=0.5)
    load = np.full(24, 15e6)
    r = dispatch(load, 3600.0, spec, cap_w=10e6)
    assert r.shortfall_w.sum() > 0
    assert np.all(r.grid_import_w <= 10e6)


def test_smoothing_reduces_fast_swings():
    t = np.arange(2000)
    load = 50e6 + 30e6 * (np.sin(t / 3.0) > 0)  # compute/communication square wave every few steps
    spec = BatterySpec(energy_mwh=20, power_mw=40, policy="smoothing")
    r = dispatch(load, 1.0, spec, window_s=60)
    assert np.std(np.diff(r.grid_import_w)) < 0.2 * np.std(np.diff(load))
    np.testing.assert_allclose(trailing_mean(np.array([1.0, 3.0, 5.0]), 2), [1.0, 2.0, 4.0])


def test_arbitrage_buys_low_sells_high():
    price = np.tile(np.r_[np.full(12, 0.05), np.full(12, 0.25)], 5)
    spec = BatterySpec(energy_mwh=20, power_mw=5, policy="arbitrage")
    load = np.full(price.size, 10e6)
    r = dispatch(load, 3600.0, spec, price=price)
    assert (r.grid_import_w * price).sum() < (load * price).sum()
    assert r.battery_w[price < 0.1].mean() < 0 < r.battery_w[price > 0.1].mean()


def test_curtailment_windows_and_site_import():
    g = GridSpec(import_cap_mw=100, curtailment=[CurtailmentWindow(start_h=2, duration_h=1, max_import_mw=20)])
    t = np.array([0, 2 * 3600, 2.5 * 3600, 3 * 3600])
    np.testing.assert_array_equal(import_cap_series_w(t, g), [100e6, 20e6, 20e6, 100e6])
    r = site_import(np.full(6, 50e6), 3600.0, g)
    assert r.grid_import_w[2] == 20e6 and r.shortfall_w[2] == 30e6
    assert np.isinf(import_cap_series_w([0.0], None)).all()


def test_per_gpu_cap_and_max_gpus():
    cap = per_gpu_power_cap_w(120e6, 100_000, non_gpu_it_w_per_gpu=450, pue=1.2)
    assert cap == pytest.approx(550.0)
    assert max_gpus_under_cap(100e6, 1000.0) == 100_000
    assert max_gpus_under_cap(100e6, 1001.0) == 99_900


def test_arbitrage_day_pairs_the_dearest_hours_with_the_cheapest():
    """One day of hourly prices: discharge fills the dearest hours (at most the rating and the load), charge the cheapest
    (delivered / round-trip efficiency), never both in one hour, only while dear x rte beats cheap, at most one cycle."""
    from costsim.power.battery import arbitrage_day_w

    p = np.array([0.07, 0.06, 0.05, 0.05, 0.06, 0.08, 0.09, 0.10, 0.10, 0.09, 0.08, 0.08,
                  0.08, 0.08, 0.09, 0.10, 0.12, 0.14, 0.15, 0.14, 0.12, 0.10, 0.09, 0.08])
    load = np.full(24, 3e6)
    load[18] = 0.5e6                      # the dearest hour's load is below the rating: no export
    w = arbitrage_day_w(p, load, 3600.0, rating_w=1e6, usable_j=3.6e9 * 3.0, round_trip_efficiency_frac=0.81)
    delivered = w.clip(0).sum() * 3600.0
    bought = -w.clip(None, 0).sum() * 3600.0
    assert w[18] == pytest.approx(0.5e6) and w.max() <= 1e6 and w.min() >= -1e6
    assert delivered == pytest.approx(bought * 0.81) and delivered <= 3.6e9 * 3.0 * 0.9 + 1
    dis, ch = p[w > 0], p[w < 0]
    assert dis.min() * 0.81 > ch.max() - 1e-12            # every trade pays for the loss
    assert set(np.flatnonzero(w > 0)).isdisjoint(np.flatnonzero(w < 0))
    # with refill (days where an import cap binds) the chosen cheap steps charge at the full rating (the state of
    # charge stops it once full, and it puts back what the cap took between trades); the discharge plan is the same
    r = arbitrage_day_w(p, load, 3600.0, rating_w=1e6, usable_j=3.6e9 * 3.0, round_trip_efficiency_frac=0.81, refill=True)
    assert np.array_equal(r[w >= 0], w[w >= 0]) and np.all(r[w < 0] == -1e6) and set(np.flatnonzero(r < 0)) == set(np.flatnonzero(w < 0))
    # equal prices share the allocation in proportion to each step's capacity (a flat tariff period is charged evenly)
    flat = arbitrage_day_w(np.r_[np.full(12, 0.05), np.full(12, 0.2)], np.full(24, 3e6), 3600.0, rating_w=1e6, usable_j=3.6e9,
                           round_trip_efficiency_frac=0.81)
    assert np.allclose(flat[:12], flat[0]) and np.allclose(flat[12:], flat[12]) and flat[0] < 0 < flat[12]
    # a flat day, or a spread the loss eats, is left idle
    assert not arbitrage_day_w(np.full(24, 0.1), load, 3600.0, rating_w=1e6, usable_j=1e10, round_trip_efficiency_frac=0.9).any()
    assert not arbitrage_day_w(np.r_[np.full(12, 0.1), np.full(12, 0.105)], load, 3600.0, rating_w=1e6, usable_j=1e10,
                               round_trip_efficiency_frac=0.9).any()


def test_arbitrage_under_a_binding_cap_refills_what_the_cap_took():
    """A week of a 90 +/- 5 MW training load with 8 MW swings under a 95 MW cap and a two-level tariff: arbitrage's planned
    charge alone left the battery short for the cap (64 MWh curtailed, against 156 MWh with no battery); refilling at
    the full rating in the cheap hours of days where the cap binds curtails ~2 MWh and still spends less than peak
    shaving."""
    rng = np.random.default_rng(0)
    t = np.arange(7 * 1440)
    load = np.maximum(100e6 * (0.9 + 0.05 * np.sin(2 * np.pi * t / 1440.0)) + 8e6 * (rng.random(t.size) < 0.3)
                      + np.where(t % 180 < 3, -40e6, 0.0) + np.where((t % 1440) // 60 == 3, -60e6, 0.0), 5e6)
    price = 0.05 + 0.04 * (((t * 60.0 / 3600.0) % 24) >= 16)
    out = {}
    for pol in ("peak_shaving", "arbitrage"):
        r = dispatch(load, 60.0, BatterySpec(energy_mwh=40, power_mw=20, policy=pol), cap_w=95e6, price=price)
        out[pol] = (r.shortfall_w.sum() * 60.0 / 3.6e9, (r.grid_import_w * price).sum())
    assert out["arbitrage"][0] < 10.0 and out["arbitrage"][1] < out["peak_shaving"][1]


def test_peak_shaving_under_a_cap_above_the_load_never_raises_the_import_peak():
    """A cap above the load's peak was the level the battery charged up to: 20,000 H100 (27.6 MW) under a 40 MW cap
    imported 40 MW with a peak-shaving battery (a helper's invariant sweep). It now charges below the load's own peak."""
    rng = np.random.default_rng(0)
    load = 20e6 + 5e6 * rng.random(500)
    spec = BatterySpec(energy_mwh=10, power_mw=8, policy="peak_shaving")
    for cap in (np.inf, 40e6, float(load.max()) + 1.0):
        r = dispatch(load, 60.0, spec, cap_w=cap)
        assert r.grid_import_w.max() <= load.max() + 1e-6
    # a binding cap is still shaved to
    r = dispatch(load, 60.0, spec, cap_w=24e6)
    assert r.grid_import_w.max() <= 24e6 + 1e-6


@pytest.mark.parametrize("policy", ["peak_shaving", "smoothing", "arbitrage", "optimal"])
def test_battery_on_coarse_buckets_neither_exports_nor_lifts_a_crest_it_should_shave(policy):
    """Buckets whose load swings inside the minute (a training restart: 0.20 MW for part of it, 0.71 MW for the rest):
    the slow part charged at one power through the bucket, so the grid's maximum rose 53 % above any load, and it
    discharged the whole bucket mean, so the trough exported (a helper's invariant sweep)."""
    from costsim.sim.grid_battery import battery_on_buckets

    n = 24 * 60
    t = np.arange(n)
    fmean = np.where(t % 240 < 3, 0.45e6, 0.69e6)  # a restart every 4 hours: three minutes of ramp
    fmax = np.where(t % 240 < 3, 0.71e6, 0.7066e6)
    fmin = np.where(t % 240 < 3, 0.20e6, 0.66e6)
    price = 0.05 + 0.10 * ((t // 60) % 24 >= 17)  # dear evenings
    spec = BatterySpec(energy_mwh=2, power_mw=0.7, policy=policy)
    out = battery_on_buckets(60.0, fmin, fmean, fmax, np.inf, spec, price=price)
    assert out["grid_min_w"].min() >= -1e-6  # no export
    if policy in ("peak_shaving", "smoothing"):
        assert out["grid_max_w"].max() <= fmax.max() + 1e-6
