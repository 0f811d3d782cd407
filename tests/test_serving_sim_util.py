"""Serving DES: how hard the GPUs work (MFU, memory-bandwidth utilization, KV-cache occupancy),
beside busy time (`gpu_utilization_frac`, ~1 whenever a replica holds any request)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from costsim.sim.serving import simulate_serving
from costsim.specs.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]
KEYS = ("mfu_frac", "memory_bandwidth_util_frac", "kv_cache_util_frac")


def _chat(rate_per_s: float, duration_s: float = 120.0) -> dict:
    doc = yaml.safe_load((ROOT / "scenarios" / "chat-llama3-70b-h100.yaml").read_text())
    doc["serving"]["arrivals"] = {"process": "poisson", "rate_per_s": rate_per_s}
    doc["serving"]["autoscaler"] = {"policy": "none"}  # same fleet at both loads
    doc["serving"]["warmup_s"] = 0
    doc["simulation"]["duration_s"] = duration_s
    return simulate_serving(Scenario.model_validate(doc), seed=0)


@pytest.fixture(scope="module")
def chat_low_high():
    return _chat(0.5 * 12.0), _chat(2.0 * 12.0)


def test_bounds_and_timeseries(chat_low_high):
    for out in chat_low_high:
        s = out.summary
        for k in KEYS:
            assert 0.0 < s[k] <= 1.0, (k, s[k])
            ts = out.timeseries[k]
            assert ts.shape == out.timeseries["t_s"].shape
            assert np.all(ts >= 0.0) and np.all(ts <= 1.0 + 1e-9), k
        # the work-based measures sit well below busy time on a chat fleet
        assert s["mfu_frac"] < s["gpu_utilization_frac"]
        assert s["memory_bandwidth_util_frac"] < s["gpu_utilization_frac"]


def test_utilization_rises_with_load(chat_low_high):
    lo, hi = (o.summary for o in chat_low_high)
    # busy time is ~1 at both loads and says nothing; the work-based measures do
    assert lo["gpu_utilization_frac"] > 0.95 and hi["gpu_utilization_frac"] > 0.95
    assert hi["mfu_frac"] > 3.0 * lo["mfu_frac"]  # 4x the load, batched: FLOPs per GPU-second ~4x
    assert hi["kv_cache_util_frac"] > 3.0 * lo["kv_cache_util_frac"]
    # decode is memory-bound: once every replica is busy each step re-reads the weights, so bandwidth
    # utilization plateaus (prefill-heavy mixed iterations are compute-bound and pull it down a little)
    assert hi["memory_bandwidth_util_frac"] == pytest.approx(lo["memory_bandwidth_util_frac"], rel=0.25)


def test_bandwidth_utilization_rises_until_busy():
    idle = _chat(1.0).summary  # 1/12 of the chat rate: replicas mostly idle
    assert idle["gpu_utilization_frac"] < 0.6
    busy = _chat(6.0).summary
    assert busy["memory_bandwidth_util_frac"] > 2.0 * idle["memory_bandwidth_util_frac"]
    assert busy["mfu_frac"] > 4.0 * idle["mfu_frac"]


def _single(tmp_path, n: int, L: int, O: int, duration_s: float, cap_w=None, gap_s: float = 1.0):
    trace = tmp_path / "t.csv"  # (a trace is replayed to fill the window)
    trace.write_text("timestamp_s,input_tokens,output_tokens\n" + "".join(f"{i * gap_s},{L},{O}\n" for i in range(n)))
    serving = {"model": "llama-3-8b", "hardware": "h100-sxm", "num_replicas": 1, "gpus_per_replica": 1,
               "arrivals": {"process": "trace", "trace_path": str(trace)},
               "input_tokens": {"kind": "trace"}, "output_tokens": {"kind": "trace"},
               "scheduler": {"max_num_seqs": 1}, "warmup_s": 0}
    if cap_w is not None:
        serving["power_cap_w_per_gpu"] = cap_w
    sc = Scenario.model_validate({"name": "t", "serving": serving, "simulation": {"duration_s": duration_s}})
    return simulate_serving(sc, seed=0)


def test_hand_check_single_replica(tmp_path):
    """One GPU, one sequence at a time, fixed lengths: each request is one prefill of L tokens then
    O - 1 decode steps at contexts L .. L + O - 2; bytes and FLOPs come straight from the table."""
    from costsim.sim.serving_setup import build_groups
    from costsim.specs.catalog import get_accelerator, get_model

    n, L, O, T = 5, 100, 50, 30.0
    out = _single(tmp_path, n, L, O, T)
    s = out.summary
    n = s["requests_completed"]
    assert n >= 25 and s["requests_in_flight_at_end"] == 0 and s["requests_arrived"] == n
    model = get_model("llama-3-8b")
    sc = Scenario.model_validate({"name": "t", "serving": {"model": "llama-3-8b", "hardware": "h100-sxm", "num_replicas": 1,
                                                           "gpus_per_replica": 1, "scheduler": {"max_num_seqs": 1}},
                                  "simulation": {"duration_s": T}})
    longest = max(L + O, 64)
    groups, _ = build_groups(sc, model, int(min(model.max_context, longest)))
    t = groups[0].table
    acc = get_accelerator("h100-sxm")
    assert t.peak_bytes_per_s == pytest.approx(acc.memory_bandwidth_bytes_per_s)

    def interp(row, x, step):
        return float(np.interp(x / step, np.arange(len(row)), row))

    steps = O - 1
    ctx = L + np.arange(steps)
    dec_bytes = sum(interp(t.dec_bytes[1], c, t.ctx_step) for c in ctx)
    dec_flop = sum(interp(t.dec_flop[1], c, t.ctx_step) for c in ctx)
    pre_bytes = interp(t.pre_bytes, L, t.pre_step)
    pre_flop = interp(t.pre_flop, L, t.pre_step)
    bw_util = n * (pre_bytes + dec_bytes) / (T * t.peak_bytes_per_s)
    mfu = n * (pre_flop + dec_flop) / (T * t.peak_flop_per_s)
    assert s["memory_bandwidth_util_frac"] == pytest.approx(bw_util, rel=1e-9)
    assert s["mfu_frac"] == pytest.approx(mfu, rel=1e-9)
    # order of magnitude: an 8B bf16 decode step reads ~16 GB of weights
    assert dec_bytes / steps == pytest.approx(2.0 * model.params_total, rel=0.1)
    # KV: during decode the sequence holds ctx / block + 1 blocks; time-average over the window
    assert 0.0 < s["kv_cache_util_frac"] < 1e-2


def test_power_cap_lowers_mfu_not_work(tmp_path):
    """A cap stretches the time of each step; the work stays, so work per busy second falls."""
    a = _single(tmp_path, 5, 2000, 200, 60.0, gap_s=4.0).summary
    b = _single(tmp_path, 5, 2000, 200, 60.0, cap_w=350.0, gap_s=4.0).summary
    # same requests, all done inside the window: same work
    assert b["requests_completed"] == a["requests_completed"] == a["requests_arrived"] == b["requests_arrived"] > 10
    assert a["requests_in_flight_at_end"] == b["requests_in_flight_at_end"] == 0
    assert b["mfu_frac"] == pytest.approx(a["mfu_frac"], rel=1e-9)
    assert b["gpu_utilization_frac"] > a["gpu_utilization_frac"]
    assert b["mfu_frac"] / b["gpu_utilization_frac"] < a["mfu_frac"] / a["gpu_utilization_frac"]
