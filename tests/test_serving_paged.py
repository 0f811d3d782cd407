"""A finite job on an engine that allocates KV cache as sequences grow (vLLM, SGLang): admission up to max_num_seqs,
recompute preemption of the newest sequence when the pool is full (costsim.core.serving_paged). Checked against
the waves model where every request fits and against the SimPy serving simulation (its own vLLM scheduler) on an
offline burst where they do not."""

from __future__ import annotations

import numpy as np
import pytest

from costsim.core import inference as core
from costsim.core import serving_paged
from costsim.core.serving_curve import finite_job
from costsim.core.serving_paged import paged_finite_job, paged_schedule
from costsim.errors import InputError
from costsim.estimators.inference import PREFILL_CHUNK_TOKENS, core_inputs
from costsim.sim.offline_burst import run_offline_burst
from costsim.sim.serving import simulate_serving
from costsim.specs.catalog import get_accelerator, get_model
from costsim.specs.scenario import Scenario

I, O = 128, 2048


@pytest.fixture(scope="module")
def llama8b_h100_vllm():
    ci = core_inputs(get_model("llama-3-8b"), get_accelerator("h100-sxm"), "bf16", None, "vllm", None)
    lay = core.Layout(tp=1)
    cap = float(core.kv_capacity_tokens(ci.shape, ci.dev, ci.prec, lay, I + O, min(PREFILL_CHUNK_TOKENS, I + O)))
    fit = int(core.max_batch(ci.shape, ci.dev, ci.prec, lay, I + O, min(PREFILL_CHUNK_TOKENS, I + O)))
    return ci, lay, cap, fit


def _job(env, n, max_seqs):
    ci, lay, cap, _ = env
    return paged_finite_job(ci.shape, ci.dev, ci.prec, lay, kv_capacity_tokens=cap, max_seqs=max_seqs,
                            input_tokens=I, output_tokens=O, num_requests=n)


def test_engine_profiles_say_how_they_allocate_kv():
    def flag(engine, hw):
        return float(core_inputs(get_model("llama-3-8b"), get_accelerator(hw), "bf16", None, engine, None).dev.kv_on_demand)
    assert flag("vllm", "h100-sxm") == flag("sglang", "h100-sxm") == flag("rocm-vllm", "mi300x") == 1.0
    assert flag("default", "mi300x") == 1.0           # the default engine on AMD is ROCm + vLLM
    assert flag("tensorrt-llm", "h100-sxm") == flag("tensorrt-llm-pytorch", "b200") == flag("default", "h100-sxm") == 0.0


def test_capacity_is_the_full_length_fit_before_rounding(llama8b_h100_vllm):
    _, _, cap, fit = llama8b_h100_vllm
    assert fit <= cap / (I + O) < fit + 1


def test_every_output_token_is_decoded_once_and_preempted_work_is_recomputed():
    for n, i, o, cap, s_max in [(1500, 128, 4096, 4.12e6, 1500), (2000, 500, 2000, 4.14e6, 2000),
                                (1000, 128, 2048, 4.1e6, 256), (100_000, 128, 128, 1e6, 4096)]:
        sch = paged_schedule(n, i, o, cap, s_max)
        assert float(np.sum(sch.decode_steps * sch.decode_batch)) == n * o
        assert sch.peak_batch == min(n, s_max)
        # every step's running set, with one slot each for the token it decodes, fits the pool
        start_ctx = sch.decode_context_tokens - 0.5 * (sch.decode_steps - 1)
        assert np.all(sch.decode_batch * (start_ctx + sch.decode_steps) <= cap + 1e-6)
        if n * (i + o) > cap and s_max * (i + o) > cap:
            assert sch.preemptions > 0 and sch.recompute_tokens > 0
            assert float(np.sum(sch.prefill_sequences * sch.prefill_tokens)) == pytest.approx(n * i + sch.recompute_tokens)
        else:
            assert sch.preemptions == 0 and sch.recompute_tokens == 0


def test_without_overflow_it_is_the_waves_model(llama8b_h100_vllm):
    ci, lay, _, fit = llama8b_h100_vllm
    for n, s_max in [(150, 300), (1000, 100)]:
        job = _job(llama8b_h100_vllm, n, s_max)
        waves = float(finite_job(ci.shape, ci.dev, ci.prec, lay, float(min(fit, s_max)), I, O, n)["job_time_s"])
        assert job.schedule.preemptions == 0
        assert job.job_time_s == pytest.approx(waves, rel=0.01)


@pytest.mark.parametrize("n", [300, 600])
def test_an_offline_burst_in_the_serving_simulation_takes_as_long(tmp_path, llama8b_h100_vllm, n):
    """Two implementations of the same scheduler: the discrete-event replica (block by block, request by request)
    and the cohort schedule priced in one vectorized call. 300 requests finish sooner than waves of the 211 that
    fit at full length would (a wider batch while contexts are short), 600 later (recompute); both agree."""
    ci, lay, _, fit = llama8b_h100_vllm
    assert n > fit
    job = _job(llama8b_h100_vllm, n, n)
    sim = run_offline_burst(tmp_path, model="llama-3-8b", hardware="h100-sxm", engine="vllm", num_requests=n,
                            input_tokens=I, output_tokens=O, max_num_seqs=n)
    assert sim.requests_completed == n and sim.preemptions > 0
    sim_s = sim.makespan_s
    assert job.schedule.preemptions > 0
    assert job.job_time_s == pytest.approx(sim_s, rel=0.05)
    waves = float(finite_job(ci.shape, ci.dev, ci.prec, lay, float(fit), I, O, n)["job_time_s"])
    assert (job.job_time_s < waves) == (sim_s < waves)


def test_refusals_name_the_cause(monkeypatch):
    with pytest.raises(ValueError, match="does not fit a KV pool"):
        paged_schedule(10, 1000, 1000, 1500.0, 10)
    monkeypatch.setattr(serving_paged, "MAX_SEGMENTS", 2_000)
    with pytest.raises(ValueError, match="lower max_seqs"):    # thrashing: 61 fit at full length, 50,000 start
        paged_schedule(50_000, 1000, 32_000, 2e6, 50_000)


def test_a_burst_trace_cannot_be_rescaled_to_a_rate(tmp_path):
    trace = tmp_path / "burst.csv"
    trace.write_text("timestamp_s,input_tokens,output_tokens\n" + "0.0,100,10\n" * 5)
    sc = Scenario.model_validate({"name": "burst", "simulation": {"duration_s": 100.0}, "serving": {
        "model": "llama-3-8b", "hardware": "h100-sxm",
        "arrivals": {"process": "trace", "trace_path": str(trace), "rate_per_s": 2.0}}})
    with pytest.raises(InputError, match="rate_per_s") as e:
        simulate_serving(sc, seed=1)
    assert e.value.field == "serving.arrivals.rate_per_s"


@pytest.mark.parametrize("row, says", [("nan,100,10", "finite"), ("inf,100,10", "finite"), ("0,100,1e99", "malformed"),
                                       ("0,100,1e12", "at most"), ("0," + "x" * 5000 + ",10", "malformed")])
def test_hostile_trace_rows_are_refused_naming_the_file(tmp_path, row, says):
    """NaN / infinite timestamps and token counts no integer array holds were internal errors (exit 1); they are input
    errors now, with a message of bounded length."""
    trace = tmp_path / "bad.csv"
    trace.write_text("timestamp_s,input_tokens,output_tokens\n" + (row + "\n") * 2)
    sc = Scenario.model_validate({"name": "bad", "simulation": {"duration_s": 100.0}, "serving": {
        "model": "llama-3-8b", "hardware": "h100-sxm", "arrivals": {"process": "trace", "trace_path": str(trace)}}})
    with pytest.raises(InputError, match=says) as e:
        simulate_serving(sc, seed=1)
    assert e.value.field == "serving.arrivals.trace_path" and len(e.value.message) < 400
