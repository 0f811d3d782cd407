"""Regression tests for review findings on serving / economics / CLI (each failed before its fix)."""

import subprocess
import sys

import numpy as np
import pytest
from pydantic import ValidationError

from costsim.api.run import PartResult, combine_site
from costsim.errors import InputError
from costsim.sim import steptable
from costsim.sim.serving import PER_OUTPUT_TOKEN_ALIASES, simulate_serving
from costsim.specs.base import load_yaml_file
from costsim.specs.scenario import Scenario


def _sc(serving: dict, duration_s: float = 60.0, **top) -> Scenario:
    base = {"model": "llama-3-8b", "hardware": "h100-sxm", "num_replicas": 1, "gpus_per_replica": 1,
            "arrivals": {"process": "poisson", "rate_per_s": 5.0}}
    base.update(serving)
    return Scenario.model_validate({"name": "t", "serving": base, "simulation": {"duration_s": duration_s}, **top})


def test_serving_sim_bills_demand_charge_on_the_fleet_peak():
    purchase = {"pricing": "purchase"}
    s0 = simulate_serving(_sc({}, economics=purchase), seed=0).summary
    s1 = simulate_serving(_sc({}, economics=purchase, grid={"demand_charge_usd_per_kw_month": 50.0}), seed=0).summary
    months = 60.0 / (365.25 * 86400 / 12)  # the timeseries module's month (30.44 days)
    expect = s1["facility_peak_power_w"] / 1e3 * 50.0 * months
    assert s1["demand_charge_usd"] == pytest.approx(expect, rel=1e-6)
    assert s1["cost_usd"] == pytest.approx(s0["cost_usd"] + expect, rel=1e-9)
    assert s0["demand_charge_usd"] == 0.0
    # on the peak, not the mean
    assert s1["demand_charge_usd"] > s1["facility_mean_power_w"] / 1e3 * 50.0 * months
    # rental: electricity (demand charge included) is inside the rental price
    r = simulate_serving(_sc({}, grid={"demand_charge_usd_per_kw_month": 50.0}), seed=0).summary
    r0 = simulate_serving(_sc({}), seed=0).summary
    assert r["cost_usd"] == pytest.approx(r0["cost_usd"])


def test_per_output_token_aliases_and_basis():
    s = simulate_serving(_sc({}), seed=0).summary
    assert s["token_basis"] == "output"
    for k, alias in PER_OUTPUT_TOKEN_ALIASES.items():
        assert s[alias] == s[k]
    assert s["energy_per_output_token_j"] == pytest.approx(s["facility_energy_j"] / (s["throughput_tokens_per_s"] * 60.0))


def test_report_labels_say_output_token():
    from costsim.report.fmt import label

    assert "output" in label("energy_per_token_j", "serving")
    assert "output" not in label("energy_per_token_j", "training")


def test_power_cap_slows_decode_without_silent_floor():
    """A 350 W cap on H100 decode (memory-bound) slows it a little; no cell is clipped to the
    throughput floor (below the lowest clock's power the device duty-cycles, it does not stop)."""
    capped = simulate_serving(_sc({"power_cap_w_per_gpu": 350.0}), seed=0).summary
    free = simulate_serving(_sc({}), seed=0).summary
    assert capped["power_cap_cells_at_floor"] == 0 and free["power_cap_cells_at_floor"] == 0
    assert capped["tpot_p50_s"] >= free["tpot_p50_s"]
    assert capped["requests_completed"] > 0


def test_steptable_dead_constants_removed():
    for name in ("WEIGHT_BYTES", "KV_BYTES", "COMPUTE_DTYPE", "FALLBACK_EFF", "ACT_BYTES"):
        assert not hasattr(steptable, name), name


def _part(t, mean, mx=None, mn=None):
    ts = {"t_s": np.asarray(t, float), "facility_power_w": np.asarray(mean, float)}
    if mx is not None:
        ts["facility_power_max_w"] = np.asarray(mx, float)
        ts["facility_power_min_w"] = np.asarray(mn, float)
    return PartResult(summary={}, timeseries=ts, tables={}, replicate_summaries=[], ranges={})


def test_site_swing_keys():
    t = [0.0, 60.0, 120.0]
    site, _ = combine_site({"training": _part(t, [100.0, 300.0, 250.0], [150.0, 400.0, 260.0], [50.0, 100.0, 240.0])}, None)
    assert "max_swing_w" not in site
    assert site["max_bucket_change_w"] == pytest.approx(200.0)  # between consecutive bucket means
    assert site["power_swing_w"] == pytest.approx(300.0)  # peak-to-trough within a bucket
    site2, _ = combine_site({"training": _part(t, [100.0, 300.0, 250.0], [150.0, 400.0, 260.0], [50.0, 100.0, 240.0]),
                             "serving": _part(t, [10.0, 10.0, 10.0])}, None)
    assert "power_swing_w" not in site2  # serving has no within-bucket range: omitted, not understated


def test_non_utf8_files_are_input_errors(tmp_path):
    bad = tmp_path / "bin.yaml"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError, match="not a UTF-8 text file"):
        load_yaml_file(bad, what="model")
    from costsim.power.signals import load_region

    with pytest.raises(InputError, match="not a UTF-8 text file"):
        load_region(str(bad))
    from costsim.sim.arrivals import load_trace

    with pytest.raises(InputError, match="not a UTF-8 text file"):
        load_trace(str(bad))


def _cli(*args):
    return subprocess.run([sys.executable, "-c", "from costsim.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=120)


def test_cli_non_utf8_model_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "bin.yaml"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    r = _cli("train", "--model", str(bad), "--hardware", "h100-sxm", "--gpus", "8")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "UTF-8" in (r.stderr + r.stdout)


def test_validate_unknown_kind_is_input_error():
    r = _cli("validate", "--kind", "nope")
    assert r.returncode == 2
    assert "serving_sim" in r.stderr + r.stdout  # lists the registered kinds


def test_serve_rejects_ep_without_moe_or_not_dividing_experts():
    from costsim.api.serve import serve
    from costsim.specs.requests import ServeRequest

    with pytest.raises(InputError, match="dense"):
        serve(ServeRequest(model="llama-3-8b", hardware="h100-sxm", ep=2))
    with pytest.raises(InputError, match="divide"):
        serve(ServeRequest(model="mixtral-8x7b", hardware="h100-sxm", ep=3))
    ok = serve(ServeRequest(model="mixtral-8x7b", hardware="h100-sxm", ep=2))
    assert ok["layout"]["ep"] == 2


@pytest.mark.parametrize("model,tp,engine", [("llama-3.1-8b", 1, "vllm"), ("llama-3.1-70b", 4, "vllm"), ("llama-3-8b", 1, "default")])
def test_simulation_and_serve_price_decode_power_the_same_way(model, tp, engine):
    """The serving simulation's step table and `costsim serve` take decode power from one function
    (costsim.core.inference.decode_step_power_w): the same batch and context give the same W per GPU, so a
    change to the power model cannot reach one path and miss the other."""
    from costsim.api.serve import serve
    from costsim.specs.catalog import get_accelerator, get_model
    from costsim.specs.requests import ServeRequest

    b, i, o = 64, 512, 256
    r = serve(ServeRequest(model=model, hardware="h100-sxm", gpus=tp, tp=tp, batch=b, input_tokens=i, output_tokens=o,
                           engine=engine, single_replica=True))
    t = steptable.build_step_table(get_model(model), get_accelerator("h100-sxm"), tp=tp, weight_precision="bf16", kv_precision=None,
                                   max_batch=b, max_prefill_tokens=2048, max_context=2048, memory_frac=None, power_cap_w=None,
                                   engine=engine)
    # the table's context grid is 16 tokens wide here; its nearest cell to the mean decode context
    ctx = round((i + o / 2) / t.ctx_step) * t.ctx_step
    r_cell = serve(ServeRequest(model=model, hardware="h100-sxm", gpus=tp, tp=tp, batch=b, input_tokens=i,
                                output_tokens=int(2 * (ctx - i)), engine=engine, single_replica=True))
    assert t.decode_power_w(b, ctx) == pytest.approx(r_cell["gpu_power_by_phase_w"]["decode"], rel=1e-9)
    assert abs(t.decode_power_w(b, i + o / 2) / r["gpu_power_by_phase_w"]["decode"] - 1) < 0.01


def test_serving_sim_bills_the_grid_region_at_its_hourly_signals():
    """The serving simulation ignored scenario.grid.region: fr-france, us-ercot and no region all billed 6.184 kWh at
    the flat 400 gCO2e/kWh and $0.08/kWh (2.514 kg CO2e each), while the training simulation used the region's hours
    (a helper's power and accounting audit). Now the fleet's energy is billed at the region's price and carbon,
    weighted by its own load; the core mode of a sweep prices the region at its annual means."""
    from costsim.power.signals import load_region, region_mean_economics
    from costsim.sim.serving_summary import region_rates

    purchase = {"pricing": "purchase", "include_embodied": False}
    flat = simulate_serving(_sc({}, economics=purchase), seed=0).summary
    fr = simulate_serving(_sc({}, economics=purchase, grid={"region": "fr-france", "start_month": 3, "start_hour": 12}), seed=0).summary
    kwh = fr["facility_energy_j"] / 3.6e6
    assert fr["facility_energy_j"] == pytest.approx(flat["facility_energy_j"])
    prof = load_region("fr-france", start_month=3, start_hour=12)
    g_per_kwh = float(prof.carbon.at(np.array([30.0]))[0])  # one minute inside one hour: that hour's intensity
    assert fr["co2e_kg"] == pytest.approx(kwh * g_per_kwh / 1000, rel=1e-6)
    assert flat["co2e_kg"] == pytest.approx(kwh * 400 / 1000, rel=1e-6) and fr["co2e_kg"] < 0.5 * flat["co2e_kg"]
    usd_per_kwh = float(prof.price.at(np.array([30.0]))[0])
    assert fr["cost_usd"] - flat["cost_usd"] == pytest.approx(kwh * (usd_per_kwh - 0.08), rel=1e-6)
    # a bucket of hours is priced over its whole span, not at its first hour
    sc = _sc({}, grid={"region": "us-ercot", "start_month": 7})
    p, c = region_rates(sc, np.array([1.0, 1.0]), 3 * 3600.0, 6 * 3600.0)
    hours = load_region("us-ercot", start_month=7)
    assert p == pytest.approx(float(np.mean(hours.price.at(np.arange(6) * 3600.0 + 1800.0))), rel=1e-9)
    assert c == pytest.approx(float(np.mean(hours.carbon.at(np.arange(6) * 3600.0 + 1800.0))), rel=1e-9)
    assert region_rates(_sc({}), np.array([1.0]), 60.0, 60.0) == (None, None)
    # core mode: the annual means (the cores have no time axis)
    from costsim.sweep.points import evaluate_core

    core = evaluate_core(_sc({}, economics=purchase, grid={"region": "fr-france"}))
    core_flat = evaluate_core(_sc({}, economics=purchase))
    mean = region_mean_economics(_sc({}).economics, "fr-france")
    assert mean.grid_gco2e_per_kwh < 100 and core["serving_co2e_g_per_million_tokens"] == pytest.approx(
        core_flat["serving_co2e_g_per_million_tokens"] * mean.grid_gco2e_per_kwh / 400, rel=1e-6)


def test_memory_holds_the_running_batch_at_the_mean_context_of_spread_outputs():
    """The KV memory check sized a running sequence at I + O while the decode step read the batch at its mean context
    I + O (1 + cv^2) / 2: at cv 2, 318 sequences of Llama 3.1 8B on one H100 needed 144 GB of KV and weights for 84 GB
    usable, reported feasible at 80.5 GB (a helper's invariant sweep). Memory now holds the batch at the larger of the two."""
    from costsim.api.serve import serve
    from costsim.specs.requests import ServeRequest

    def run(cv, gpus=1, single=True):
        return serve(ServeRequest(model="llama-3.1-8b", hardware="h100-sxm", gpus=gpus, single_replica=single, input_tokens=512,
                                  output_tokens=1024, output_tokens_cv=cv), with_curve=False)

    flat, spread = run(0.0), run(2.0)
    assert spread["kv_context_tokens"] == pytest.approx(512 + 1024 * (1 + 4) / 2) and flat["kv_context_tokens"] == 1536
    assert spread["max_batch"] < 0.6 * flat["max_batch"]
    kv_per_seq = spread["kv_cache_bytes_per_token"] * spread["kv_context_tokens"]
    assert spread["memory_per_gpu_bytes"] <= 84e9 and spread["batch"] * kv_per_seq < 84e9
    dep = run(2.0, gpus=8, single=False)
    dep_kv = dep["kv_cache_bytes_per_token"] * dep["kv_context_tokens"]  # its own precision (fp8 KV)
    assert dep["deployment"]["batch_per_replica"] * dep_kv < 84e9  # the deployment search sizes it the same way


def test_a_longer_prompt_never_reaches_its_first_token_sooner_through_a_pipeline():
    """TTFT through PP 4 fell 37 % when the prompt grew from 8,192 to 8,193 tokens: the pipeline fill was priced as
    (n + pp - 1) / n of the prompt for n equal chunks, where 8,193 is a full chunk and one token (a helper's invariant
    sweep). The fill is now pp - 1 times the slowest chunk's stage time."""
    from costsim.api.serve import serve
    from costsim.specs.requests import ServeRequest

    def ttft(i):
        return serve(ServeRequest(model="llama-3.1-70b", hardware="h100-sxm", gpus=8, tp=2, pp=4, single_replica=True, batch=1,
                                  input_tokens=i, output_tokens=128), with_curve=False)["ttft_s"]

    seq = [ttft(i) for i in (4096, 8192, 8193, 12000, 16384, 16385, 24577)]
    assert all(b >= a for a, b in zip(seq, seq[1:])), seq
    one_chunk = ttft(8192)
    pre = serve(ServeRequest(model="llama-3.1-70b", hardware="h100-sxm", gpus=8, tp=2, pp=4, single_replica=True, batch=1,
                             input_tokens=8192, output_tokens=128), with_curve=False)["prefill_time_s"]
    assert one_chunk == pytest.approx(4 * pre, rel=1e-6)  # one chunk: pp stages one after another


def test_the_simulations_first_token_crosses_every_pipeline_stage():
    """The serving simulation gave a lone 2,048-token prompt on a TP2 x PP4 replica its first token after one stage's
    prefill (80 ms, where `serve` prices the four stages one after another: 326 ms). A prompt's last chunk now crosses the
    later stages (StepTable.pipeline_trip_s) before its first token, and the sequence joins the decode batch then."""
    from costsim.api.serve import serve
    from costsim.specs.requests import ServeRequest

    def sim(pp):
        sc = Scenario.model_validate({
            "name": "pp-trip", "simulation": {"seed": 0, "duration_s": 900},
            "serving": {"model": "llama-3-70b", "hardware": "h100-sxm", "num_replicas": 1, "gpus_per_replica": 8, "pp": pp,
                        "weight_precision": "bf16", "arrivals": {"process": "poisson", "rate_per_s": 0.05},
                        "input_tokens": {"kind": "fixed", "mean": 2048}, "output_tokens": {"kind": "fixed", "mean": 256}}})
        return simulate_serving(sc, seed=0).summary

    core = serve(ServeRequest(model="llama-3-70b", hardware="h100-sxm", gpus=8, tp=2, pp=4, single_replica=True, batch=1,
                              weight_precision="bf16", input_tokens=2048, output_tokens=256), with_curve=False)
    s4, s1 = sim(4), sim(1)
    assert s4["ttft_p50_s"] == pytest.approx(core["ttft_s"], rel=0.10)
    assert s4["ttft_p50_s"] > 3.0 * core["prefill_time_s"]  # not one stage's prefill
    assert s4["tpot_p50_s"] == pytest.approx(core["decode_step_time_s"], rel=0.05)
    # light load: every request is served either way, the pipeline only delays each one's first token
    assert s4["requests_completed"] == s1["requests_completed"] == s4["requests_arrived"] - s4["requests_in_flight_at_end"]
    assert s1["ttft_p50_s"] < 0.5 * s4["ttft_p50_s"]


def _serve_sc(serving: dict, duration_s: float, **extra) -> Scenario:
    base = {"model": "llama-3-8b", "hardware": "h100-sxm", "input_tokens": {"kind": "fixed", "mean": 512},
            "output_tokens": {"kind": "fixed", "mean": 128}}
    return Scenario.model_validate({"name": "acct", "serving": {**base, **serving},
                                    "simulation": {"seed": 0, "duration_s": duration_s}, **extra})


def _conserved(s: dict) -> None:
    reasons = ("too_long", "queue_full", "curtailed", "no_decode_replica")
    assert s["requests_dropped"] == sum(s[f"requests_dropped_{k}"] for k in reasons)
    assert s["requests_arrived"] == s["requests_completed"] + s["requests_dropped"] + s["requests_in_flight_at_end"]


def test_requests_are_counted_once_when_dropped_at_the_decode_hand_off_or_held_at_the_end():
    """A disaggregated request dropped for want of a decode replica was counted dropped and in flight (2,009 of 1,977
    arrivals accounted, its reason under no key); requests still held at the router through a curtailment at the end
    were counted nowhere (454 of 1,468) (a helper's sweep)."""
    window = lambda start_s, dur_s: {"curtailment": [{"start_h": start_s / 3600, "duration_h": dur_s / 3600, "max_import_mw": 0.0}]}
    dis = simulate_serving(_serve_sc({"arrivals": {"process": "poisson", "rate_per_s": 10.0},
                                      "input_tokens": {"kind": "fixed", "mean": 4000}, "output_tokens": {"kind": "fixed", "mean": 50},
                                      "disaggregation": {"enabled": True, "prefill_replicas": 1, "decode_replicas": 1,
                                                         "kv_transfer_bytes_per_s": 2.0e8}}, 200.0, grid=window(60, 60)), seed=0).summary
    _conserved(dis)
    assert dis["requests_dropped_no_decode_replica"] > 0
    held = simulate_serving(_serve_sc({"num_replicas": 2, "arrivals": {"process": "poisson", "rate_per_s": 5.0},
                                       "curtailment_hold_s": 1000}, 300.0, grid=window(100, 3600)), seed=0).summary
    _conserved(held)
    assert held["requests_in_flight_at_end"] > 900  # the ones held since the window began


def test_a_fleet_scaled_to_zero_starts_a_replica_for_the_next_requests():
    """min_replicas 0: once the last replica drained the autoscaler never acted again and every later request was
    dropped as 'queue full' (5,802 of 5,976) (a helper's sweep). Requests now wait at the router for a cold start."""
    s = simulate_serving(_serve_sc({"num_replicas": 1, "arrivals": {"process": "poisson", "rate_per_s": 0.05},
                                    "autoscaler": {"policy": "queue_length", "min_replicas": 0, "max_replicas": 2,
                                                   "interval_s": 10, "startup_delay_s": 30}}, 1800.0), seed=0).summary
    _conserved(s)
    assert s["requests_dropped"] == 0 and s["requests_completed"] >= s["requests_arrived"] - 2
    assert s["ttft_p99_s"] >= 30.0  # some requests waited for a replica to start (cold start)
    assert s["gpu_hours"] < 0.8 * 1800 / 3600  # off for a fifth of the run or more: scaled to zero between requests


def test_slo_attainment_counts_the_requests_that_missed_it_while_still_waiting():
    """Overload: 28,796 of 36,061 requests had waited longer than the 2 s TTFT limit without a first token when the run
    ended, yet attainment (over completed and dropped requests only) read 0.061 (a helper's sweep)."""
    s = simulate_serving(_serve_sc({"num_replicas": 1, "arrivals": {"process": "poisson", "rate_per_s": 100.0},
                                    "slo": {"ttft_s": 2.0}}, 120.0), seed=0).summary
    _conserved(s)
    assert s["requests_in_flight_past_ttft_slo"] > 0.5 * s["requests_in_flight_at_end"] > 0
    met = s["slo_attainment_frac"] * (s["requests_completed"] + s["requests_dropped"] + s["requests_in_flight_past_ttft_slo"])
    assert s["slo_attainment_frac"] <= met / (s["requests_arrived"] - (s["requests_in_flight_at_end"]
                                                                       - s["requests_in_flight_past_ttft_slo"])) + 1e-9


def test_the_gpu_peak_is_the_most_powered_at_once_not_a_bucket_mean():
    """Bursty arrivals (gamma, cv 6) with a fast autoscaler: replicas boot and drain within a 15 s timeline bucket, so
    the highest bucket mean read 6 GPUs where 8 were on (a helper's sweep)."""
    sc = _serve_sc({"num_replicas": 1, "arrivals": {"process": "gamma", "rate_per_s": 30.0, "cv": 6.0},
                    "autoscaler": {"policy": "queue_length", "min_replicas": 1, "max_replicas": 8, "interval_s": 5,
                                   "startup_delay_s": 5}}, 3600.0)
    o = simulate_serving(sc, seed=2)
    ts = o.timeseries
    bucket_mean_max = float(np.max(np.asarray(ts["gpus_on"], float)))
    assert o.summary["num_gpus_peak"] == 8 and bucket_mean_max < 8


@pytest.mark.parametrize("hw,cap", [("h100-sxm", 350.0), ("h100-sxm", 250.0), ("b200", 500.0)])
def test_under_a_power_cap_more_work_never_takes_less_time(hw, cap):
    """Cells classed wholly compute- or memory-bound took the memory phase's cliff or the compute phase's clock: at 350 W
    on an H100 a prefill of 264 tokens took 2.15x as long as one of 297, 2,542 decode cells got faster with more
    context, and 138 requests reached their first token sooner than their own prefill (a helper's sweep)."""
    from costsim.specs.catalog import get_accelerator, get_model

    t = steptable.build_step_table(get_model("llama-3-8b"), get_accelerator(hw), tp=1, weight_precision="bf16",
                                   kv_precision=None, max_batch=64, max_prefill_tokens=2048, max_context=4096,
                                   memory_frac=None, power_cap_w=cap)
    pre = np.array([t.prefill_s(x) for x in range(16, 2048, 8)])
    dec = np.array(t.dec_time[1:])
    assert np.all(np.diff(pre) >= -1e-12) and np.all(np.diff(dec, axis=1) >= -1e-12) and np.all(np.diff(dec, axis=0) >= -1e-12)
    uncapped = steptable.build_step_table(get_model("llama-3-8b"), get_accelerator(hw), tp=1, weight_precision="bf16",
                                          kv_precision=None, max_batch=64, max_prefill_tokens=2048, max_context=4096,
                                          memory_frac=None, power_cap_w=None)
    assert all(t.prefill_s(x) >= uncapped.prefill_s(x) for x in (64, 264, 297, 1024, 2048))  # a cap never speeds up


def test_the_autoscaler_scales_a_disaggregated_fleets_pools_apart():
    """The autoscaler refused disaggregation. Decode-heavy load (256-token prompts, 512-token answers, 32 sequences a
    replica): the decode pool grows, the prefill pool stays near one replica, and nothing is dropped."""
    o = simulate_serving(_serve_sc({"arrivals": {"process": "poisson", "rate_per_s": 20.0},
                                    "input_tokens": {"kind": "fixed", "mean": 256}, "output_tokens": {"kind": "fixed", "mean": 512},
                                    "scheduler": {"max_num_seqs": 32, "max_num_batched_tokens": 4096},
                                    "disaggregation": {"enabled": True, "prefill_replicas": 1, "decode_replicas": 1},
                                    "autoscaler": {"policy": "queue_length", "target_queue_per_replica": 1.0, "interval_s": 10,
                                                   "startup_delay_s": 20, "min_replicas": 1, "max_replicas": 8}}, 300.0), seed=0)
    s = o.summary
    _conserved(s)
    assert s["requests_dropped"] == 0 and s["requests_completed"] > 5000
    decode_replicas = set(np.asarray(o.tables["requests"]["replica"]).tolist()) - {-1}  # where each request decoded
    assert len(decode_replicas) >= 5  # the decode pool grew from one replica
    assert s["num_gpus_peak"] <= 8 + 8 and s["num_gpus_peak"] < len(decode_replicas) + 3  # the prefill pool stayed small


def test_a_disaggregated_pool_scaled_to_zero_starts_a_replica_for_the_next_requests():
    """min_replicas 0 with disaggregation: both pools drain to zero between sparse requests; a request waits at the
    router for a prefill replica, its KV then waits for a decode replica, and none is dropped."""
    o = simulate_serving(_serve_sc({"arrivals": {"process": "poisson", "rate_per_s": 0.05},
                                    "disaggregation": {"enabled": True, "prefill_replicas": 1, "decode_replicas": 1},
                                    "autoscaler": {"policy": "queue_length", "min_replicas": 0, "max_replicas": 2,
                                                   "interval_s": 10, "startup_delay_s": 30}}, 1800.0), seed=0)
    s, req = o.summary, o.tables["requests"]
    _conserved(s)
    assert s["requests_dropped"] == 0 and s["requests_dropped_no_decode_replica"] == 0
    early = np.asarray(req["arrival_s"]) < 1800.0 - 120.0  # two cold starts (prefill, then decode) fit in 120 s
    assert early.sum() > 60 and not np.isnan(np.asarray(req["e2e_s"])[early]).any()
    assert s["ttft_p99_s"] >= 30.0  # a cold start of the prefill pool
    assert s["gpu_hours"] < 0.8 * 2 * 1800 / 3600  # both pools off for much of the run


def test_target_utilization_scales_a_backlogged_prefill_pool():
    """A prefill replica's batch slots and KV blocks stay near empty however long its queue, so target_utilization
    never grew the prefill pool: 4,000-token prompts at 12/s waited 8.6 s (p50) behind one prefill replica. Its
    occupancy is now the prompt tokens it has left per iteration's token budget."""
    o = simulate_serving(_serve_sc({"arrivals": {"process": "poisson", "rate_per_s": 12.0},
                                    "input_tokens": {"kind": "fixed", "mean": 4000}, "output_tokens": {"kind": "fixed", "mean": 16},
                                    "disaggregation": {"enabled": True, "prefill_replicas": 1, "decode_replicas": 1},
                                    "autoscaler": {"policy": "target_utilization", "target_utilization_frac": 0.6, "interval_s": 10,
                                                   "startup_delay_s": 20, "min_replicas": 1, "max_replicas": 8}}, 300.0), seed=0)
    s = o.summary
    _conserved(s)
    assert s["num_gpus_peak"] >= 4  # the prefill pool grew (one GPU a replica)
    assert s["ttft_p50_s"] < 2.0


def _split(dec_hw: str, **disagg) -> dict:
    """Llama 3 70B prompts on one TP4 H100 replica (FP8), decodes on a pool of TP4 `dec_hw` replicas (Splitwise)."""
    return {"model": "llama-3-70b", "hardware": "h100-sxm", "arrivals": {"process": "poisson", "rate_per_s": 4.0},
            "input_tokens": {"kind": "fixed", "mean": 1500}, "output_tokens": {"kind": "fixed", "mean": 200},
            "replica_groups": [{"name": "prompt", "hardware": "h100-sxm", "num_replicas": 1, "gpus_per_replica": 4, "weight_precision": "fp8"},
                               {"name": "token", "hardware": dec_hw, "num_replicas": 0, "gpus_per_replica": 4,
                                "weight_precision": "bf16" if dec_hw.startswith("a100") else "fp8"}],
            "disaggregation": {"enabled": True, "prefill_replicas": 1, "decode_replicas": 2, "decode_group": "token", **disagg}}


def test_the_decode_pool_runs_its_own_group_hardware_and_layout():
    """Splitwise's split (prompts on H100, decodes on older parts): the decode pool had to run the first group's layout.
    With disaggregation.decode_group the decodes run on that group's A100s: slower per token than on H100s, prompts as fast."""
    runs = {hw: simulate_serving(_serve_sc(_split(hw), 300.0), seed=0).summary for hw in ("h100-sxm", "a100-80gb-sxm")}
    for s in runs.values():
        _conserved(s)
        assert s["requests_dropped"] == 0 and s["num_gpus_peak"] == 12
    assert runs["a100-80gb-sxm"]["tpot_p50_s"] > 1.5 * runs["h100-sxm"]["tpot_p50_s"]
    assert runs["a100-80gb-sxm"]["ttft_p50_s"] == pytest.approx(runs["h100-sxm"]["ttft_p50_s"], rel=0.1)
    scaled = simulate_serving(_serve_sc({**_split("a100-80gb-sxm"), "arrivals": {"process": "poisson", "rate_per_s": 12.0},
                                         "autoscaler": {"policy": "queue_length", "target_queue_per_replica": 1.0, "interval_s": 10,
                                                        "startup_delay_s": 20, "min_replicas": 1, "max_replicas": 6}}, 300.0), seed=0).summary
    _conserved(scaled)
    assert scaled["num_gpus_peak"] > 12  # a pool grew on its own group's hardware


@pytest.mark.parametrize("change, needle", [
    ({"decode_group": "tokens"}, "must name exactly one of serving.replica_groups"),
    ({"enabled": False}, "set disaggregation.enabled: true"),
])
def test_a_decode_group_that_cannot_be_used_is_refused_by_name(change, needle):
    d = _split("a100-80gb-sxm")
    d["disaggregation"] = {**d["disaggregation"], **change}
    with pytest.raises(ValidationError) as e:
        _serve_sc(d, 60.0)
    assert needle in str(e.value)
    d = _split("a100-80gb-sxm")
    d["replica_groups"][1]["num_replicas"] = 5
    with pytest.raises(ValidationError, match="set its num_replicas to 0"):
        _serve_sc(d, 60.0)


def test_the_answer_names_every_part_of_a_mixed_fleet():
    """The run's answer said 'on 12 h100-sxm' for 4 H100 prompt GPUs and 8 A100 decode GPUs (serving.hardware only)."""
    from costsim.report.conclusion import _serving_sentence

    w = _serve_sc(_split("a100-80gb-sxm"), 60.0).serving
    said = _serving_sentence({"num_gpus_peak": 12, "throughput_tokens_per_s": 700.0}, w, {}, {})
    assert "on 12 accelerators (h100-sxm and a100-80gb-sxm)" in said
    one = _serve_sc({}, 60.0).serving
    assert "on 1 h100-sxm" in _serving_sentence({"num_gpus_peak": 1, "throughput_tokens_per_s": 700.0}, one, {}, {})


def test_the_kv_transfer_runs_at_the_slower_ends_link():
    """The KV moved at the prefill replica's scale-out rate (an H100's 50 GB/s) even to a decode pool of RTX 4090s
    (1.25 GB/s): a 4,000-token Llama 3 8B prompt's 0.5 GB now takes ~0.4 s, not 10 ms."""
    base = {"arrivals": {"process": "poisson", "rate_per_s": 0.2}, "input_tokens": {"kind": "fixed", "mean": 4000},
            "output_tokens": {"kind": "fixed", "mean": 16},
            "replica_groups": [{"name": "prompt", "hardware": "h100-sxm", "num_replicas": 1},
                               {"name": "token", "hardware": "rtx-4090", "num_replicas": 0, "weight_precision": "fp8"}],
            "disaggregation": {"enabled": True, "prefill_replicas": 1, "decode_replicas": 1, "decode_group": "token"}}
    fast = {**base, "disaggregation": {**base["disaggregation"], "kv_transfer_bytes_per_s": 50e9}}
    e2e = {k: simulate_serving(_serve_sc(d, 600.0), seed=0).summary["e2e_p50_s"] for k, d in (("default", base), ("fast", fast))}
    kv_bytes = 4000 * 2 * 8 * 128 * 32 * 2  # tokens x (K, V) x KV heads x head dim x layers x bf16
    assert e2e["default"] - e2e["fast"] == pytest.approx(kv_bytes / 1.25e9 - kv_bytes / 50e9, rel=0.15)


_LONG = {"input_tokens": {"kind": "fixed", "mean": 2000}, "output_tokens": {"kind": "fixed", "mean": 1500},
         "scheduler": {"max_num_seqs": 256, "gpu_memory_utilization_frac": 0.25, "preemption": "recompute"}}


def test_a_sequence_a_decode_replica_preempts_by_recompute_is_prefilled_again_there():
    """A decode replica put a sequence it preempted by recompute in its prompt queue, which a decode replica never
    served: the sequence was lost, and once the replica's batch emptied the run stopped with 'waiting requests do not
    fit an empty KV cache' (a traceback). It is now prefilled again on the decode replica (as vLLM's decode instance
    does) and finishes."""
    s = simulate_serving(_sc({**_LONG, "arrivals": {"process": "poisson", "rate_per_s": 0.5},
                              "disaggregation": {"enabled": True, "prefill_replicas": 1, "decode_replicas": 2}}, 300.0),
                         seed=0).summary
    assert s["preemptions"] > 0
    assert s["requests_in_flight_at_end"] <= 5 and s["requests_completed"] + s["requests_in_flight_at_end"] == s["requests_arrived"]
    assert s["littles_law_window_rel_error"] < 1e-6


def test_a_prefill_replica_keeps_the_kv_until_the_decode_pool_takes_it():
    """The KV left the prefill replica the moment its prompt was done, whatever the decode pool's room: a decode pool
    far too small for the load queued the finished prompts in no one's memory while the prefill replica kept taking
    new ones, so TTFT stayed at one prefill (47 ms) as requests piled up unseen. The prefill replica now holds the KV
    until a decode replica has room and copies it (pull); its memory fills and new prompts wait: the overload shows
    in TTFT."""
    dis = {"enabled": True, "prefill_replicas": 1, "decode_replicas": 1}
    over = simulate_serving(_sc({**_LONG, "arrivals": {"process": "poisson", "rate_per_s": 4.0}, "disaggregation": dis}, 120.0),
                            seed=0).summary
    light = simulate_serving(_sc({**_LONG, "arrivals": {"process": "poisson", "rate_per_s": 0.1}, "disaggregation": dis}, 120.0),
                             seed=0).summary
    assert light["ttft_p50_s"] < 0.2  # room on the decode side: one prefill plus the copy
    assert over["ttft_p50_s"] > 10.0  # the decode side full: prompts wait for the prefill replica's memory
    for s in (over, light):
        assert s["littles_law_window_rel_error"] < 1e-6
        assert s["requests_completed"] + s["requests_dropped"] + s["requests_in_flight_at_end"] == s["requests_arrived"]
        assert s["kv_cache_util_frac"] <= 1.0


def test_a_prompt_too_long_for_the_decode_pools_memory_is_dropped_and_the_answer_says_so():
    """A decode pool on a part with less memory (RTX 4090 beside H100 prompts) was never checked at routing: a
    60,000-token Llama 3.1 8B prompt fit the H100 prefill replica, then could never fit the 4090's KV cache, and the run
    stopped with 'waiting requests do not fit an empty KV cache' (a traceback). It is now dropped as too long, and
    the run's answer, which said only '0 output tokens/s', says how many requests were dropped and why."""
    from costsim.report.conclusion import _serving_sentence

    sc = _serve_sc({"model": "llama-3.1-8b", "arrivals": {"process": "poisson", "rate_per_s": 0.05},
                    "input_tokens": {"kind": "fixed", "mean": 60000}, "output_tokens": {"kind": "fixed", "mean": 16},
                    "replica_groups": [{"name": "prompt", "hardware": "h100-sxm", "num_replicas": 1},
                                       {"name": "token", "hardware": "rtx-4090", "num_replicas": 0}],
                    "disaggregation": {"enabled": True, "prefill_replicas": 1, "decode_replicas": 1, "decode_group": "token"}},
                   300.0)
    s = simulate_serving(sc, seed=0).summary
    _conserved(s)
    assert s["requests_arrived"] > 0 and s["requests_dropped_too_long"] == s["requests_arrived"]
    said = _serving_sentence(s, sc.serving, {}, {})
    n = s["requests_arrived"]
    assert f"{n:,} of {n:,} requests were dropped ({n:,} too long for the context or a replica's KV cache)" in said
    # the same prompts on the H100s alone fit: nothing dropped, nothing said
    ok = simulate_serving(_serve_sc({"model": "llama-3.1-8b", "arrivals": {"process": "poisson", "rate_per_s": 0.05},
                                     "input_tokens": {"kind": "fixed", "mean": 60000},
                                     "output_tokens": {"kind": "fixed", "mean": 16}}, 300.0), seed=0).summary
    assert ok["requests_dropped"] == 0 and "dropped" not in _serving_sentence(ok, sc.serving, {}, {})


def test_a_request_routed_to_a_replica_can_always_be_admitted_there():
    """Routing let in a request whose tokens fit the KV cache's blocks but not the admission margin (one block and the
    1 % watermark Replica._fits keeps free): with long lognormal prompts on 4090s the replica emptied and the run stopped
    with 'waiting requests do not fit an empty KV cache' (a traceback). Routing now uses the same margin: such a
    request is dropped as too long."""
    sc = _sc({"model": "llama-3.1-8b", "hardware": "rtx-4090", "gpus_per_replica": 2, "pp": 2, "num_replicas": 3,
              "arrivals": {"process": "poisson", "rate_per_s": 1}, "input_tokens": {"kind": "lognormal", "mean": 20000},
              "output_tokens": {"kind": "lognormal", "mean": 256},
              "scheduler": {"gpu_memory_utilization_frac": 0.45, "preemption": "recompute"}}, 300.0)
    s = simulate_serving(sc, seed=182).summary
    _conserved(s)
    assert s["requests_dropped_too_long"] > 0 and s["requests_completed"] > 0
    assert s["littles_law_window_rel_error"] < 1e-6
