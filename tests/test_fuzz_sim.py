"""Structured fuzzing of the serving and training simulations: hypothesis draws valid configurations across their
knobs (disaggregation with a decode pool on other hardware, autoscaling, preemption, pipeline stages, chunked
prefill, queue limits, curtailment windows; failures, maintenance, checkpoints, power caps, grid caps, batteries) and
asserts the bookkeeping every run must keep: no exception but a refused input (InputError), requests conserved,
Little's law exact over the window, KV and GPU utilization within [0, 1], energy = mean power x time, time in states =
wall time, tokens never above the target. A random search of this kind found four serving bugs (a sequence a decode
replica preempted was lost, a prompt too long for the decode pool's memory and one inside the admission margin
stopped the run, Little's law miscounted drops after admission).

CI runs a fixed (derandomized) budget; `make fuzz` runs COSTSIM_FUZZ_EXAMPLES fresh random configurations per test.
"""

from __future__ import annotations

import math
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costsim.errors import InputError
from costsim.sim.serving import simulate_serving
from costsim.sim.training import simulate_training
from costsim.specs.scenario import Scenario

FUZZ_EXAMPLES = int(os.environ.get("COSTSIM_FUZZ_EXAMPLES", "0") or 0)
SERVING_EXAMPLES = FUZZ_EXAMPLES or 80
TRAINING_EXAMPLES = FUZZ_EXAMPLES or 40

pytestmark = pytest.mark.slow

HARDWARE = ["h100-sxm", "a100-80gb-sxm", "rtx-4090", "h200", "l4"]
CURTAIL = {"curtailment": [{"start_h": 0.01, "duration_h": 0.012, "max_import_mw": 0.0}]}


@st.composite
def serving_config(draw) -> tuple[dict, dict, float]:
    model, gpus = draw(st.sampled_from([("llama-3-8b", 1), ("llama-3.1-8b", 1), ("llama-3-70b", 4), ("mixtral-8x7b", 2)]))
    hw = draw(st.sampled_from(HARDWARE))
    gpr = gpus * draw(st.sampled_from([1, 2]))
    s: dict = {"model": model, "hardware": hw, "gpus_per_replica": gpr,
               "arrivals": {"process": "poisson", "rate_per_s": draw(st.sampled_from([0.2, 1.0, 5.0]))},
               "input_tokens": {"kind": draw(st.sampled_from(["fixed", "lognormal"])), "mean": draw(st.sampled_from([64, 512, 4000]))},
               "output_tokens": {"kind": draw(st.sampled_from(["fixed", "lognormal"])), "mean": draw(st.sampled_from([1, 16, 256, 1500]))},
               "scheduler": {"max_num_seqs": draw(st.sampled_from([4, 64, 256])),
                             "gpu_memory_utilization_frac": draw(st.sampled_from([0.45, 0.9])),
                             "preemption": draw(st.sampled_from(["recompute", "swap"])),
                             "chunked_prefill": draw(st.booleans())}}
    wp = draw(st.sampled_from(["bf16", "fp8"]))
    if draw(st.booleans()):
        s["disaggregation"] = {"enabled": True, "prefill_replicas": draw(st.sampled_from([1, 2])),
                               "decode_replicas": draw(st.sampled_from([1, 3]))}
        if draw(st.booleans()):
            s["replica_groups"] = [{"name": "p", "hardware": hw, "num_replicas": 1, "gpus_per_replica": gpr, "weight_precision": wp},
                                   {"name": "d", "hardware": draw(st.sampled_from(HARDWARE)), "num_replicas": 0,
                                    "gpus_per_replica": gpr, "weight_precision": wp}]
            s["disaggregation"]["decode_group"] = "d"
            if draw(st.booleans()):  # the decode group listed first, the prefill pool's group named
                s["replica_groups"].reverse()
                s["replica_groups"][1]["num_replicas"] = 0
                s["disaggregation"]["prefill_group"] = "p"
        else:
            s["weight_precision"] = wp
    else:
        s["weight_precision"] = wp
        s["num_replicas"] = draw(st.sampled_from([1, 2]))
        if draw(st.booleans()):
            s["pp"], s["gpus_per_replica"] = 2, max(2, gpr)
    if draw(st.booleans()):
        s["autoscaler"] = {"policy": draw(st.sampled_from(["target_utilization", "queue_length"])), "interval_s": 5,
                           "startup_delay_s": draw(st.sampled_from([0, 30])), "min_replicas": draw(st.sampled_from([0, 1])),
                           "max_replicas": 3}
        if "disaggregation" in s and draw(st.booleans()):  # each pool's own bounds (above the pools' starting sizes)
            s["autoscaler"].update(prefill_min_replicas=draw(st.sampled_from([0, 2])), decode_max_replicas=draw(st.sampled_from([3, 5])))
    if draw(st.booleans()):
        s["scheduler"]["max_waiting_per_replica"] = 8
    grid = {}
    if draw(st.booleans()):
        grid = dict(CURTAIL)
        s["curtailment_hold_s"] = draw(st.sampled_from([0, 30]))
    return s, grid, draw(st.sampled_from([60.0, 150.0]))


def _serving_checks(s: dict) -> None:
    assert s["requests_completed"] + s["requests_dropped"] + s["requests_in_flight_at_end"] == s["requests_arrived"]
    reasons = ("too_long", "queue_full", "curtailed", "no_decode_replica")
    assert s["requests_dropped"] == sum(s[f"requests_dropped_{k}"] for k in reasons)
    assert s["littles_law_window_rel_error"] < 1e-6
    assert 0.0 <= s["gpu_utilization_frac"] <= 1.0 + 1e-9
    assert s["kv_cache_util_frac"] != s["kv_cache_util_frac"] or 0.0 <= s["kv_cache_util_frac"] <= 1.0 + 1e-9
    assert s["facility_energy_j"] >= s["gpu_energy_j"] >= 0.0
    if s["requests_completed"]:
        for k in ("throughput_tokens_per_s", "energy_per_token_j", "output_tokens_mean", "e2e_p50_s"):
            assert math.isfinite(s[k]), k


@settings(max_examples=SERVING_EXAMPLES, deadline=None, database=None, derandomize=not FUZZ_EXAMPLES,
          suppress_health_check=list(HealthCheck))
@given(cfg=serving_config(), seed=st.integers(0, 1000))
def test_fuzz_serving_simulation_keeps_its_books(cfg, seed):
    serving, grid, duration = cfg
    sc = Scenario.model_validate({"name": "fz", "serving": serving, "simulation": {"duration_s": duration}, "grid": grid})
    try:
        s = simulate_serving(sc, seed=seed).summary
    except InputError:
        return  # a refused configuration (a layout the part cannot run, a prompt above the context): exit 2 in the CLI
    if not s["feasible"]:
        assert s["reason"]
        return
    _serving_checks(s)


@st.composite
def training_config(draw) -> tuple[dict, dict]:
    model, hw = draw(st.sampled_from([("llama-3-8b", "h100-sxm"), ("llama-3-8b", "a100-80gb-sxm"), ("llama-3-70b", "h100-sxm"),
                                      ("mixtral-8x7b", "h100-sxm"), ("llama-3-8b", "b200")]))
    t: dict = {"model": model, "hardware": hw, "num_gpus": draw(st.sampled_from([8, 64, 512])),
               "tokens": draw(st.sampled_from([1e9, 2e10])),
               "reliability": {"rate_scale": draw(st.sampled_from([0, 1, 300])), "restart_s": draw(st.sampled_from([0, 600])),
                               "repair_s": draw(st.sampled_from([0, 86400])), "hot_spare_nodes": draw(st.sampled_from([None, 0, 2])),
                               "restart_on_failure_during_restart": draw(st.booleans())},
               "maintenance": {"per_day": draw(st.sampled_from([0, 1, 24])), "schedule": draw(st.sampled_from(["periodic", "poisson"])),
                               "downtime_s": draw(st.sampled_from([0, 600, 7200]))},
               "checkpoint": {"policy": draw(st.sampled_from(["fixed", "young_daly"])), "interval_s": draw(st.sampled_from([60, 3600])),
                              "mode": draw(st.sampled_from(["sync", "async"]))}}
    if draw(st.booleans()):
        t["evaluation"] = {"every_s": draw(st.sampled_from([600, 7200])), "duration_s": draw(st.sampled_from([0, 300]))}
    if draw(st.booleans()):
        t["mitigation"] = {"gpu_power_floor_frac_of_tdp": draw(st.sampled_from([0.3, 0.9])), "filler_during_restarts": draw(st.booleans())}
    if draw(st.booleans()):
        t["power_cap_w"] = draw(st.sampled_from([150, 400]))
    grid: dict = {}
    if draw(st.booleans()):
        grid["import_cap_mw"] = draw(st.sampled_from([0.1, 1.0, 10.0]))
    if draw(st.booleans()):
        grid["battery"] = {"energy_mwh": draw(st.sampled_from([0.01, 1.0])), "power_mw": draw(st.sampled_from([0.01, 1.0])),
                           "policy": draw(st.sampled_from(["peak_shaving", "smoothing", "arbitrage", "optimal"]))}
    if draw(st.booleans()):
        grid["curtailment"] = [{"start_h": 0.5, "duration_h": draw(st.sampled_from([0.1, 2.0])), "max_import_mw": 0.0}]
    if draw(st.booleans()):
        grid["region"] = draw(st.sampled_from(["us-ercot-texas", "de-germany"]))
    return t, grid


@settings(max_examples=TRAINING_EXAMPLES, deadline=None, database=None, derandomize=not FUZZ_EXAMPLES,
          suppress_health_check=list(HealthCheck))
@given(cfg=training_config(), seed=st.integers(0, 1000))
def test_fuzz_training_simulation_keeps_its_books(cfg, seed):
    training, grid = cfg
    sc = Scenario.model_validate({"name": "fz", "training": training, "grid": grid})
    try:
        s = simulate_training(sc, seed=seed).summary
    except InputError:
        return
    if not s["feasible"]:
        assert s["reason"]
        return
    wall = s["wall_time_s"]
    assert sum(s["time_in_state_s"].values()) == pytest.approx(wall, rel=1e-6)
    assert s["tokens_trained"] <= s["tokens_target"] * (1 + 1e-9) + 1e7
    if s["completed"]:
        assert s["tokens_trained"] >= s["tokens_target"] * (1 - 1e-9) - 1e7
    assert 0.0 <= s["goodput_frac"] <= 1.0 + 1e-9
    assert s["lost_work_s"] >= -1e-6
    assert s["facility_min_power_w"] <= s["facility_mean_power_w"] * (1 + 1e-9) <= s["facility_peak_power_w"] * (1 + 1e-6)
    assert s["facility_energy_j"] >= s["gpu_energy_j"] * (1 - 1e-9)
    assert s["facility_mean_power_w"] * wall == pytest.approx(s["facility_energy_j"], rel=1e-3)
    for k, v in s.items():
        if isinstance(v, float) and k not in ("grid_cap_w", "step_time_at_grid_cap_s"):
            assert math.isfinite(v), k
