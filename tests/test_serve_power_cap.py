"""`costsim serve --power-cap-w`: the serving core under a per-GPU power limit (nvidia-smi -pl). The decode steps and
prompt passes run at the clock the limit leaves (costsim.core.power.cap_roofline_frac, as the serving simulation's step
tables), GPU power at most the cap. Before, only `costsim train` and the serving simulation took a cap."""

import json

import numpy as np
import pytest

from costsim.api.serve import serve
from costsim.core import inference as core
from costsim.estimators.inference_inputs import core_inputs
from costsim.sim.steptable import build_step_table
from costsim.specs.catalog import get_accelerator, get_model
from costsim.specs.requests import ServeRequest
from tests.conftest import run_cli


def _serve(**kw):
    base = dict(model="llama-3.1-8b", hardware="h100-sxm", single_replica=True)
    return serve(ServeRequest(**{**base, **kw}), with_curve=False)


def test_a_cap_at_the_tdp_changes_nothing_and_a_lower_one_slows_and_caps_power():
    free = _serve()
    at_tdp = _serve(power_cap_w=700.0)
    assert at_tdp["throughput_tokens_per_s"] == pytest.approx(free["throughput_tokens_per_s"], rel=1e-12)
    assert free["power_cap_w"] is None and free["decode_speed_at_cap_frac"] == 1.0
    thr, prev = [], None
    for cap in (600.0, 500.0, 400.0, 300.0, 200.0):
        r = _serve(power_cap_w=cap, batch=64)
        assert r["gpu_power_by_phase_w"]["decode"] <= cap + 1e-9 and r["gpu_power_by_phase_w"]["prefill"] <= cap + 1e-9
        assert r["gpu_power_w"] <= cap + 1e-9
        assert 0.0 < r["decode_speed_at_cap_frac"] <= 1.0 and 0.0 < r["prefill_speed_at_cap_frac"] <= 1.0
        if prev is not None:
            assert r["throughput_tokens_per_s"] <= prev + 1e-9  # a lower cap is never faster
        prev = r["throughput_tokens_per_s"]
        thr.append(prev)
    assert thr[-1] < 0.6 * free["throughput_tokens_per_s"] * (thr[0] / thr[0])


def test_compute_bound_prompts_slow_with_the_clock_while_a_small_decode_batch_hardly_does():
    """A batch-1 decode step streams the weights (memory-bound: flat until the clock falls below what keeps HBM busy);
    a 4,096-token prompt pass is GEMMs (clock-bound)."""
    r = _serve(power_cap_w=450.0, batch=1, input_tokens=4096, output_tokens=256)
    assert r["decode_speed_at_cap_frac"] > 0.9
    assert r["prefill_speed_at_cap_frac"] < r["decode_speed_at_cap_frac"] - 0.1


def test_the_core_under_a_cap_matches_the_serving_simulations_step_table():
    """One law for both: `costsim serve --power-cap-w` and a simulated replica with serving.power_cap_w_per_gpu price the
    same decode step and prompt pass at the same cap."""
    m, a = get_model("llama-3.1-8b"), get_accelerator("h100-sxm")
    table = build_step_table(m, a, tp=1, weight_precision="bf16", kv_precision=None, max_batch=64, max_prefill_tokens=2048,
                             max_context=8192, memory_frac=None, power_cap_w=400.0)
    ci = core_inputs(m, a, "bf16", None, "default", power_cap_w=400.0)
    lay = core.Layout(tp=1, pp=1, ep=1)
    b, ctx = 32, table.ctx_step * 10  # a grid cell of the table
    t_core = float(core.decode_step_time_s(ci.shape, ci.dev, ci.prec, lay, float(b), ctx))
    assert t_core == pytest.approx(table.dec_time[b][10], rel=0.02)
    p_core = float(core.decode_step_power_w(core.decode_step_breakdown(ci.shape, ci.dev, ci.prec, lay, float(b), ctx),
                                            ci.dev, a.idle_w, a.tdp_w))
    assert p_core == pytest.approx(table.dec_power[b][10], rel=1e-6)
    assert np.isfinite(t_core) and p_core <= 400.0 + 1e-9


def test_the_deployment_search_ranks_layouts_at_the_cap():
    free = serve(ServeRequest(model="llama-3.1-8b", hardware="h100-sxm", gpus=8), with_curve=False)
    capped = serve(ServeRequest(model="llama-3.1-8b", hardware="h100-sxm", gpus=8, power_cap_w=350.0), with_curve=False)
    assert capped["deployment"]["replicas"] * capped["deployment"]["gpus_per_replica"] <= 8
    assert capped["throughput_tokens_per_s"] < free["throughput_tokens_per_s"]
    assert capped["gpu_power_w"] <= 350.0 + 1e-9 and capped["power_cap_w"] == 350.0


def test_cli_takes_the_cap_says_so_first_and_refuses_one_it_cannot_run():
    r = run_cli("serve", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--power-cap-w", "400")
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0] + r.stdout.splitlines()[1]
    assert "capped at 400 W per GPU" in first
    assert "At the 400 W cap per GPU the clocks drop" in r.stdout.replace("\n", " ").replace("│", " ").replace("  ", " ")
    doc = json.loads(run_cli("serve", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--power-cap-w", "400", "--json").stdout)
    assert doc["power_cap_w"] == 400.0 and doc["gpu_power_w"] <= 400.0
    for bad, needle in (("2000", "above h100-sxm's TDP"), ("50", "warm-idle power"), ("abc", "--power-cap-w"), ("-5", "power_cap_w")):
        r = run_cli("serve", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--power-cap-w", bad)
        assert r.returncode == 2, (bad, r.stdout, r.stderr)
        assert needle in r.stderr + r.stdout and "Traceback" not in r.stderr
