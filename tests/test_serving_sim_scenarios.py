"""Every serving scenario file this work ships validates and runs (short window), with the
summary keys `costsim run` writes and Little's law holding."""

from __future__ import annotations

from pathlib import Path

import pytest

from costsim.sim.serving import simulate_serving
from costsim.specs.base import load_yaml_file
from costsim.specs.overrides import apply_overrides
from costsim.specs.scenario import Scenario

SCEN = Path(__file__).resolve().parents[1] / "scenarios"
KEYS = ["requests_completed", "requests_dropped", "ttft_p50_s", "ttft_p90_s", "ttft_p99_s", "tpot_p50_s", "tpot_p99_s",
        "e2e_p50_s", "e2e_p99_s", "slo_attainment_frac", "throughput_tokens_per_s", "gpu_utilization_frac",
        "facility_energy_j", "energy_per_token_j", "gpu_energy_per_token_j", "cost_usd_per_million_tokens",
        "co2e_g_per_1k_tokens", "facility_peak_power_w", "sim_wall_time_s"]
FILES = {"chat-llama3-70b-h100.yaml": 120.0, "small-vs-large.yaml": 60.0, "phi3-mini-on-iphone.yaml": 900.0,
         "mlperf-llama2-70b-server.yaml": 60.0}


def _variants(name: str):
    raw = load_yaml_file(SCEN / name, what="scenario")
    vs = raw.pop("variants", None) or [{"name": "base", "set": {}}]
    for v in vs:
        yield v["name"], apply_overrides(raw, v["set"])


@pytest.mark.parametrize("name", sorted(FILES))
def test_scenario_runs_short(name):
    for vname, data in _variants(name):
        data["simulation"]["duration_s"] = FILES[name]
        data["serving"]["warmup_s"] = 0.0
        sc = Scenario.model_validate(data)
        s = simulate_serving(sc, seed=0).summary
        assert s["feasible"], (vname, s.get("reason"))
        for k in KEYS:
            assert k in s, k
        assert s["requests_completed"] > 0, vname
        assert 0.0 <= s["slo_attainment_frac"] <= 1.0
        assert s["littles_law_window_rel_error"] < 1e-6


def test_iphone_reports_speed_and_battery():
    data = dict(next(_variants("phi3-mini-on-iphone.yaml"))[1])
    data["simulation"]["duration_s"] = 900.0
    s = simulate_serving(Scenario.model_validate(data), seed=0).summary
    # Phi-3 report: "more than 12 tokens/s" on an A16 (I-phi3-a16, a lower bound)
    assert s["decode_tokens_per_s_per_request"] > 12.0 * 0.8
    assert 0.0 < s["battery_drain_frac_per_hour"] < 1.0
    assert s["energy_per_token_j"] > 0
