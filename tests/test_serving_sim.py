"""Serving DES: theory checks (M/M/1, M/M/c, M/D/1 through the real replica), Little's law,
determinism, SLO bounds, KV preemption, disaggregation, routing, autoscaling and power caps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from costsim.sim.serving import simulate_serving
from costsim.sim.stub import erlang_c_wait_s, simulate_mmc
from costsim.specs.scenario import Scenario


def _sc(serving: dict, duration_s: float = 120.0, **top) -> Scenario:
    base = {"model": "llama-3-8b", "hardware": "h100-sxm", "num_replicas": 1, "gpus_per_replica": 1}
    base.update(serving)
    return Scenario.model_validate({"name": "t", "serving": base, "simulation": {"duration_s": duration_s}, **top})


def _check_invariants(s: dict) -> None:
    assert s["feasible"]
    assert 0.0 <= s["slo_attainment_frac"] <= 1.0
    assert 0.0 <= s["gpu_utilization_frac"] <= 1.0 + 1e-9
    # Little's law, exact finite-window form (bookkeeping) on every run
    assert s["littles_law_window_rel_error"] < 1e-6
    assert s["facility_energy_j"] >= s["gpu_energy_j"] > 0
    assert s["requests_completed"] + s["requests_dropped"] + s["requests_in_flight_at_end"] == s["requests_arrived"]


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_mm1_mean_wait_matches_closed_form(rho):
    mean_s = 1.0
    r = simulate_mmc(rho / mean_s, mean_s, 1, duration_s=60000.0, seed=3)
    theory = rho * mean_s / (1 - rho)  # M/M/1: Wq = rho / (mu - lambda)
    assert r["mean_wait_s"] == pytest.approx(theory, rel=0.12)
    assert r["littles_l"] == pytest.approx(r["littles_lambda_w"], rel=1e-9)


@pytest.mark.parametrize("servers,rho", [(4, 0.7), (8, 0.85)])
def test_mmc_mean_wait_matches_erlang_c(servers, rho):
    mean_s = 2.0
    lam = rho * servers / mean_s
    r = simulate_mmc(lam, mean_s, servers, duration_s=80000.0, seed=5)
    assert r["mean_wait_s"] == pytest.approx(erlang_c_wait_s(lam, mean_s, servers), rel=0.15)


def test_erlang_c_reduces_to_mm1():
    assert erlang_c_wait_s(0.5, 1.0, 1) == pytest.approx(1.0)
    assert math.isinf(erlang_c_wait_s(2.0, 1.0, 1))


def test_replica_batch1_is_md1():
    """max_num_seqs=1 and fixed lengths make a replica an M/D/1 queue: Pollaczek-Khinchine wait."""
    serving = {"arrivals": {"process": "poisson", "rate_per_s": 1.0},
               "input_tokens": {"kind": "fixed", "mean": 100}, "output_tokens": {"kind": "fixed", "mean": 50},
               "scheduler": {"max_num_seqs": 1, "chunked_prefill": False}}
    probe = simulate_serving(_sc(serving, 200.0), seed=1)
    rq = probe.tables["requests"]
    svc = (rq["e2e_s"] - rq["queue_s"])[~np.isnan(rq["e2e_s"])]
    S = float(np.median(svc))
    assert np.allclose(svc, S, rtol=1e-6)  # deterministic service
    rho = 0.6
    serving["arrivals"]["rate_per_s"] = rho / S
    out = simulate_serving(_sc(serving, 25000 * S / rho), seed=2)
    s = out.summary
    _check_invariants(s)
    theory = rho * S / (2 * (1 - rho))
    assert s["queue_delay_mean_s"] == pytest.approx(theory, rel=0.10)
    assert s["littles_law_rel_error"] < 0.02


def test_same_seed_same_result_and_seed_changes_it():
    sc = _sc({"num_replicas": 2, "arrivals": {"process": "gamma", "rate_per_s": 8.0, "cv": 2.0},
              "input_tokens": {"kind": "lognormal", "mean": 500, "cv": 1.0, "high": 4000},
              "output_tokens": {"kind": "lognormal", "mean": 200, "cv": 1.0, "high": 1000}}, 60.0)
    a, b, c = (simulate_serving(sc, seed=s) for s in (7, 7, 8))
    strip = lambda d: {k: v for k, v in d.items() if k != "sim_wall_time_s"}  # noqa: E731
    assert strip(a.summary) == strip(b.summary)
    for k in a.tables["requests"]:
        np.testing.assert_array_equal(a.tables["requests"][k], b.tables["requests"][k])
    assert strip(a.summary) != strip(c.summary)
    _check_invariants(a.summary)


def test_kv_pressure_preempts_and_still_completes():
    # 8B on an H100 allowed only 25 % of its memory: ~2.5 GB of KV cache (~19k tokens) for long sequences
    serving = {"arrivals": {"process": "poisson", "rate_per_s": 4.0},
               "input_tokens": {"kind": "fixed", "mean": 2000}, "output_tokens": {"kind": "fixed", "mean": 1500},
               "scheduler": {"max_num_seqs": 256, "gpu_memory_utilization_frac": 0.25}}
    for mode in ("recompute", "swap"):
        serving["scheduler"]["preemption"] = mode
        s = simulate_serving(_sc(serving, 120.0), seed=0).summary
        _check_invariants(s)
        assert s["preemptions"] > 0
        assert s["requests_completed"] > 0


def test_more_load_more_latency_and_power():
    lo = simulate_serving(_sc({"arrivals": {"process": "poisson", "rate_per_s": 2.0}}, 120.0), seed=0).summary
    hi = simulate_serving(_sc({"arrivals": {"process": "poisson", "rate_per_s": 30.0}}, 120.0), seed=0).summary
    assert hi["tpot_p50_s"] > lo["tpot_p50_s"]
    assert hi["facility_mean_power_w"] > lo["facility_mean_power_w"]
    assert hi["energy_per_token_j"] < lo["energy_per_token_j"]  # batching amortizes weights
    _check_invariants(hi)


def test_power_cap_lowers_power_and_slows_prefill():
    base = {"arrivals": {"process": "poisson", "rate_per_s": 20.0}}
    free = simulate_serving(_sc(base, 90.0), seed=0).summary
    capped = simulate_serving(_sc(base | {"power_cap_w_per_gpu": 350.0}, 90.0), seed=0).summary
    assert capped["gpu_energy_j"] / 90 < free["gpu_energy_j"] / 90
    assert capped["ttft_p50_s"] > free["ttft_p50_s"]
    grid = simulate_serving(_sc(base | {"num_replicas": 4}, 60.0, grid={"import_cap_mw": 0.004}), seed=0).summary
    assert any("grid import cap" in n for n in grid["notes"])
    assert grid["facility_peak_power_w"] <= 0.004e6 * 1.05


def test_routing_policies_and_mixed_fleet():
    groups = [{"name": "h100", "hardware": "h100-sxm", "num_replicas": 2},
              {"name": "a100", "hardware": "a100-80gb-sxm", "num_replicas": 2}]
    res = {}
    for pol in ("round_robin", "least_outstanding", "power_aware"):
        s = simulate_serving(_sc({"replica_groups": groups, "routing": pol,
                                  "arrivals": {"process": "poisson", "rate_per_s": 10.0}}, 60.0), seed=0)
        _check_invariants(s.summary)
        res[pol] = s
    rr = np.bincount(res["round_robin"].tables["requests"]["replica"], minlength=4)
    assert rr.max() - rr.min() <= 1  # round robin spreads evenly
    pa = np.bincount(res["power_aware"].tables["requests"]["replica"], minlength=4)
    assert pa[:2].sum() != pa[2:].sum()  # power-aware prefers one group


def test_disaggregation_moves_kv_and_completes():
    s = simulate_serving(_sc({"model": "llama-3-8b", "arrivals": {"process": "poisson", "rate_per_s": 10.0},
                              "disaggregation": {"enabled": True, "prefill_replicas": 1, "decode_replicas": 2}}, 60.0), seed=0).summary
    _check_invariants(s)
    assert s["requests_completed"] > 400


def test_autoscaler_adds_replicas_under_load():
    s = simulate_serving(_sc({"num_replicas": 1, "arrivals": {"process": "poisson", "rate_per_s": 60.0},
                              "autoscaler": {"policy": "queue_length", "target_queue_per_replica": 1.0, "interval_s": 10,
                                             "startup_delay_s": 20, "min_replicas": 1, "max_replicas": 6}}, 150.0), seed=0)
    _check_invariants(s.summary)
    assert s.timeseries["gpus_on"].max() > 1.5


def test_trace_and_diurnal_arrivals():
    t = simulate_serving(_sc({"arrivals": {"process": "trace", "trace_path": "traces/chat-sample.csv"},
                              "input_tokens": {"kind": "trace"}, "output_tokens": {"kind": "trace"}, "num_replicas": 2}, 120.0), seed=0)
    _check_invariants(t.summary)
    assert 400 < t.summary["requests_arrived"] < 900  # ~5 req/s for 120 s
    d = simulate_serving(_sc({"arrivals": {"process": "diurnal", "rate_per_s": 5.0, "start_hour": 4}}, 600.0), seed=0).summary
    assert d["requests_arrived"] < 5.0 * 600 * 0.6  # 04:00 is the trough


def test_top_k_sampling_slows_vllm_decode_in_the_simulation():
    """serving.top_k reaches the simulation's step table: Qwen3 at its default top_k 20 decodes slower on vLLM
    than with top_k 0 (no top-k masking), under the same saturating load."""
    base = {"model": "qwen3-8b", "engine": "vllm", "arrivals": {"process": "poisson", "rate_per_s": 40.0},
            "input_tokens": {"kind": "fixed", "mean": 256}, "output_tokens": {"kind": "fixed", "mean": 256}}
    dflt = simulate_serving(_sc(base, 60.0), seed=0).summary
    none = simulate_serving(_sc(base | {"top_k": 0}, 60.0), seed=0).summary
    _check_invariants(dflt)
    _check_invariants(none)
    assert none["tpot_mean_s"] < dflt["tpot_mean_s"]


def test_autoscaler_never_powers_more_than_max_replicas_and_takes_back_a_draining_one():
    """A scale-up while replicas still drain used to boot new ones beside them: 6 replicas' GPUs on under
    max_replicas 2 (a helper's invariant sweep). Draining replicas are taken back first and count against the cap."""
    sc = Scenario.model_validate({"name": "as", "serving": {
        "model": "llama-3-8b", "hardware": "h100-sxm", "num_replicas": 1, "gpus_per_replica": 1,
        "arrivals": {"process": "gamma", "rate_per_s": 10, "cv": 1}, "input_tokens": {"kind": "fixed", "mean": 512},
        "output_tokens": {"kind": "lognormal", "mean": 2000, "cv": 1, "low": 1, "high": 8000},
        "autoscaler": {"policy": "queue_length", "max_replicas": 2, "min_replicas": 1, "startup_delay_s": 0, "interval_s": 10}},
        "simulation": {"seed": 0, "duration_s": 600}})
    out = simulate_serving(sc, seed=0)
    assert out.summary["num_gpus_peak"] <= 2
    assert float(np.max(out.timeseries["gpus_on"])) <= 2.0 + 1e-9
    with pytest.raises(Exception, match="max_replicas"):
        Scenario.model_validate({"name": "x", "serving": {"model": "llama-3-8b", "hardware": "h100-sxm", "num_replicas": 4,
                                                          "autoscaler": {"policy": "queue_length", "max_replicas": 1},
                                                          "arrivals": {"process": "poisson", "rate_per_s": 1}},
                                 "simulation": {"duration_s": 10}})


def test_littles_law_bookkeeping_holds_with_requests_held_through_a_curtailment():
    """A request held at the router (curtailment_hold_s) enters the system when it is routed; the window identity
    is exact and lambda x W matches L (they were 1.4x apart: the hold counted in W but not in L)."""
    sc = Scenario.model_validate({"name": "s", "serving": {
        "model": "llama-3-8b", "hardware": "h100-sxm", "num_replicas": 2, "gpus_per_replica": 1,
        "arrivals": {"process": "gamma", "rate_per_s": 50, "cv": 3}, "input_tokens": {"kind": "fixed", "mean": 512},
        "output_tokens": {"kind": "fixed", "mean": 1}, "curtailment_hold_s": 60},
        "simulation": {"seed": 0, "duration_s": 600},
        "grid": {"curtailment": [{"start_h": 0.03005, "duration_h": 0.05, "max_import_mw": 0}]}})
    s = simulate_serving(sc, seed=0).summary
    assert s["requests_held_for_curtailment"] > 0
    assert s["littles_law_window_rel_error"] < 1e-9
    assert s["littles_law_rel_error"] < 0.02
    assert s["ttft_p99_s"] > 30.0  # the held requests' latencies still run from their arrival


def test_a_mixed_iteration_is_charged_each_phase_at_its_own_power():
    """A decode step carrying a prompt chunk draws the prompt pass's power for the prompt pass's time and the decode
    step's for the rest (the larger of the two for the whole iteration had put a busy fleet's GPU energy per token
    +15 % above `costsim serve` at the same batch; a helper's cross-command sweep)."""
    from costsim.sim.steptable import build_step_table
    from costsim.specs.catalog import get_accelerator, get_model

    t = build_step_table(get_model("llama-3-8b"), get_accelerator("h100-sxm"), tp=1, weight_precision="fp8", kv_precision="fp8",
                         max_batch=256, max_prefill_tokens=8192, max_context=1024, memory_frac=None, power_cap_w=None)
    b, ctx, chunk = 255, 640.0, 512.0
    step, p_mix, _, _ = t.mixed_all(b, ctx, chunk)
    t_pre, p_pre, p_dec = t.prefill_s(chunk + b), t.prefill_power_w(chunk + b), t.decode_power_w(b, ctx)
    assert step == pytest.approx(t.mixed_s(b, ctx, chunk)) and p_mix == pytest.approx(t.mixed_power_w(b, ctx, chunk))
    assert p_mix == pytest.approx((p_pre * t_pre + p_dec * (step - t_pre)) / step)
    assert min(p_pre, p_dec) < p_mix < max(p_pre, p_dec)
