"""Device power model, phases and power caps (costsim.core.power)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costsim.core import power as cp

IDLE, TDP = 70.0, 700.0
fracs = st.floats(0, 1, allow_nan=False)


@given(fracs, fracs)
@settings(max_examples=100, deadline=None)
def test_power_between_idle_and_tdp_and_monotone(uc, um):
    p = float(cp.device_power_w(IDLE, TDP, uc, um))
    assert IDLE - 1e-9 <= p <= TDP + 1e-9
    assert float(cp.device_power_w(IDLE, TDP, min(uc + 0.1, 1), um)) >= p - 1e-9
    assert float(cp.device_power_w(IDLE, TDP, uc, min(um + 0.1, 1))) >= p - 1e-9


@given(st.lists(st.tuples(fracs, fracs), min_size=1, max_size=20))
@settings(max_examples=50, deadline=None)
def test_vectorized_equals_scalar(pairs):
    uc = np.array([a for a, _ in pairs])
    um = np.array([b for _, b in pairs])
    vec = cp.device_power_w(IDLE, TDP, uc, um)
    sca = [float(cp.device_power_w(IDLE, TDP, a, b)) for a, b in pairs]
    np.testing.assert_allclose(vec, sca)


def test_cap_clips_power():
    assert float(cp.device_power_w(IDLE, TDP, 1, 1, power_cap_w=400)) == 400
    # a working device never drops below warm idle (context alive): measured 121 W on H100 SXM
    assert float(cp.device_power_w(IDLE, TDP, 0, 0, power_cap_w=400)) == pytest.approx(IDLE * cp.WARM_IDLE_FACTOR)
    assert float(cp.device_power_w(IDLE, TDP, 0, 0, power_cap_w=100)) == 100


def test_phase_order_and_warm_idle():
    c, m, k, ck, i = (float(cp.phase_power_w(IDLE, TDP, ph)) for ph in ("compute", "memory", "communication", "checkpoint", "idle"))
    assert c > m > k > ck > i
    assert 110 <= ck <= 125  # measured idle with a context: 120.8 W (P-h100-idle: ~100-120 W)
    assert i == IDLE
    assert 0.85 * TDP < c <= TDP  # training draws near TDP
    with pytest.raises(ValueError):
        cp.phase_power_w(IDLE, TDP, "nonsense")


def test_compute_throughput_follows_clock_and_perf_per_watt_optimum_below_tdp():
    caps = np.linspace(200, 700, 51)
    thr = cp.cap_throughput_frac(caps, TDP, IDLE, "compute")
    assert np.all(np.diff(thr) >= -1e-12)
    assert thr[-1] == 1.0
    assert 0.6 < float(cp.cap_throughput_frac(400, TDP, IDLE, "compute")) < 0.95
    best = cp.perf_per_watt_optimal_cap_w(TDP, IDLE, "compute")
    assert 0.35 * TDP < best < 0.8 * TDP


def test_memory_bound_flat_then_cliff():
    p_dec = float(cp.phase_power_w(IDLE, TDP, "memory"))
    # flat: a cap 25 % below the decode draw costs a few percent at most
    assert float(cp.cap_throughput_frac(0.75 * p_dec, TDP, IDLE, "memory")) > 0.93
    # compute-bound work loses much more under the same relative cap
    p_c = float(cp.phase_power_w(IDLE, TDP, "compute"))
    assert float(cp.cap_throughput_frac(0.75 * p_c, TDP, IDLE, "compute")) < 0.9
    # cliff: near the fixed (memory) power the throughput collapses
    caps = np.linspace(IDLE, p_dec, 200)
    thr = cp.cap_throughput_frac(caps, TDP, IDLE, "memory")
    assert thr[0] == 0.0 and thr[-1] == 1.0
    assert np.max(np.diff(thr)) > 10 * np.median(np.diff(thr)[thr[1:] > 0.99] + 1e-12)


def test_checkpoint_and_idle_not_slowed_by_cap():
    assert np.all(cp.cap_throughput_frac([100, 300], TDP, IDLE, "checkpoint") == 1.0)


def test_fit_reproduces_constants():
    from costsim.validation.engine import load_cases
    from costsim.validation.power import fit_from_cases

    from costsim.validation.power import fit_warm_idle_factor

    cases = load_cases()
    assert fit_warm_idle_factor(cases) == pytest.approx(cp.WARM_IDLE_FACTOR, abs=0.001)
    a_c, a_m = fit_from_cases(cases)
    assert a_c == pytest.approx(cp.COMPUTE_COEF, abs=0.011)
    assert a_m == pytest.approx(cp.MEMORY_COEF, abs=0.006)


def test_pue_load_temperature():
    assert float(cp.pue_load_temperature(1.2, 1.0, 20.0)) == pytest.approx(1.2)
    assert float(cp.pue_load_temperature(1.2, 0.3, 20.0)) > 1.2
    assert float(cp.pue_load_temperature(1.2, 1.0, 35.0)) > 1.2
    assert float(cp.pue_load_temperature(1.2, 1.0, 0.0)) == float(cp.pue_load_temperature(1.2, 1.0, -20.0))


def test_measured_phases_order_and_cap():
    """Measured H100 phases through the runner: memory-bound streaming well below the limit, big GEMMs
    pinned at the 700 W limit, the waiting loop at the warm-idle floor."""
    from costsim.validation.engine import load_cases
    from costsim.validation.power import measured_device_power

    cs = {c.id: c for c in load_cases() if c.kind == "measured_device_power"}
    p = {k: measured_device_power(c) for k, c in cs.items()}
    assert p["M-h100-power-bf16-matmul"] == pytest.approx(700.0)
    assert p["M-h100-power-gemv-m1"] < p["M-h100-power-gemv-m64"] < p["M-h100-power-gemv-m512"]
    assert p["M-h100-power-wait-loop"] < 0.3 * p["M-h100-power-hbm-copy"]


def test_cap_throughput_cliff_is_steep_not_a_stop():
    """Memory-bound: nearly flat, then a steep fall below the lowest clock's power, reaching zero
    only at idle; monotone in the cap for every phase."""
    import numpy as np

    from costsim.core.power import cap_throughput_frac

    caps = np.linspace(71.0, 700.0, 400)
    for phase in ("compute", "memory", "communication"):
        thr = cap_throughput_frac(caps, 700.0, 70.0, phase)
        assert np.all(np.diff(thr) >= -1e-12), phase
        assert np.all(thr > 0), phase
    mem = cap_throughput_frac(np.array([250.0, 400.0, 700.0]), 700.0, 70.0, "memory")
    assert mem[1] > 0.95 and mem[2] == 1.0 and mem[0] < 0.5
    assert float(cap_throughput_frac(70.0, 700.0, 70.0, "memory")) == 0.0
