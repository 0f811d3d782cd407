"""Microscaled precisions (NVFP4 / MXFP4 / MXFP6) and serving-engine profiles in the inference core (issue 14)."""

from dataclasses import replace

import numpy as np
import pytest

from costsim.core import inference as core
from costsim.errors import InputError
from costsim.estimators import inference as est
from costsim.specs.catalog import accelerators, get_accelerator, get_model
from costsim.specs.engine import engines, get_engine


def test_microscaled_storage_includes_scale_factors():
    # NVFP4: 4-bit e2m1 + one 8-bit e4m3 scale per 16 values; MXFP4: e8m0 per 32; MXFP6: 6 bits + e8m0 per 32
    assert core.WEIGHT_BITS_PER_PARAM["fp4"] == 4 + 8 / 16
    assert core.WEIGHT_BITS_PER_PARAM["mxfp4"] == 4 + 8 / 32
    assert core.WEIGHT_BITS_PER_PARAM["fp6"] == 6 + 8 / 32
    p = est.precision("fp4", None, "fp4")
    assert p.weight_bytes_per_param == pytest.approx(4.5 / 8) and p.act_gemm_bytes == pytest.approx(4.5 / 8)
    assert p.kv_bytes_per_element == 1.0  # fp8 KV cache by default with FP4 weights
    assert est.precision("mxfp4", None, "fp4").act_gemm_bytes == pytest.approx(4.25 / 8)
    assert est.precision("fp4", None, "bf16").act_gemm_bytes == 2.0  # weight-only on Hopper: bf16 activations
    assert est.precision("fp4", "fp4").kv_bytes_per_element == pytest.approx(4.5 / 8)


@pytest.mark.parametrize("hw, wp, dtype", [("b200", "fp4", "fp4"), ("gb200", "mxfp4", "fp4"), ("mi355x", "fp6", "fp6"),
                                           ("b200", "fp6", "fp6"), ("h100-sxm", "fp4", "bf16"), ("h100-sxm", "fp6", "bf16"),
                                           ("a100-80gb-sxm", "fp8", "bf16")])
def test_compute_dtype_follows_the_tensor_cores(hw, wp, dtype):
    dev, dt, _ = est.device_from_accelerator(get_accelerator(hw), wp)
    assert dt == dtype
    a = get_accelerator(hw)
    assert dev.peak_flop_per_s == a.peak_flop_per_s(dtype)


def test_fp4_on_blackwell_runs_at_the_fp4_rate_and_attention_in_fp8():
    a = get_accelerator("b200")
    dev4, _, p = est.device_from_accelerator(a, "fp4")
    dev8, _, _ = est.device_from_accelerator(a, "fp8")
    assert dev4.peak_flop_per_s == 2 * dev8.peak_flop_per_s
    assert dev4.matmul_frac == pytest.approx(p["matmul_frac"] * p["fp4_matmul_rel"])
    assert dev4.attn_peak_flop_per_s == a.peak_flop_per_s("fp8")
    m = get_model("llama-3.1-70b")
    ci4, ci8 = est.core_inputs(m, a, "fp4"), est.core_inputs(m, a, "fp8")
    lay = core.Layout(tp=1)
    pre4 = float(core.prefill_time_s(ci4.shape, ci4.dev, ci4.prec, lay, 4, 2048))
    pre8 = float(core.prefill_time_s(ci8.shape, ci8.dev, ci8.prec, lay, 4, 2048))
    assert 1.2 < pre8 / pre4 < 2.0  # compute-bound prefill gains, less than the 2x peak ratio
    assert core.weight_bytes_per_gpu(ci4.shape, ci4.prec, lay) < 0.6 * core.weight_bytes_per_gpu(ci8.shape, ci8.prec, lay)


def test_engine_catalog_and_errors():
    ids = set(engines())
    assert {"default", "tensorrt-llm", "tensorrt-llm-pytorch", "vllm", "rocm-vllm", "sglang", "llama.cpp", "research-2023", "splitwise-characterization", "pytorch-eager"} <= ids
    for e in engines().values():
        assert e.sources and e.description
    with pytest.raises(InputError) as err:
        get_engine("vlm")
    assert "vllm" in err.value.message
    with pytest.raises(InputError):
        est.device_parameters(get_accelerator("mi300x"), "tensorrt-llm")  # NVIDIA-only engine on AMD


def _step(hw, engine, b, model="llama-3.1-8b", wp="bf16", tp=1):
    m, a = get_model(model), get_accelerator(hw)
    ci = est.core_inputs(m, a, wp, None, engine)
    return float(core.decode_step_time_s(ci.shape, ci.dev, ci.prec, core.Layout(tp=tp), b, 700))


def test_vllm_per_sequence_cost_grows_with_batch():
    d = [_step("h100-sxm", "vllm", b) - _step("h100-sxm", "default", b) for b in (1, 64, 256)]
    assert d[0] < d[1] < d[2]
    assert d[2] == pytest.approx(255 * get_engine("vllm").parameters["seq_overhead_s"] + d[0], rel=1e-6)


def test_amd_default_engine_is_rocm_and_slower_than_nvidia_parameters():
    a = get_accelerator("mi300x")
    p_default = est.device_parameters(a, "default")
    assert p_default["matmul_frac"] == get_engine("rocm-vllm").parameters["matmul_frac"]
    assert p_default["lowp_matmul_rel"] == 1.0  # FP8 GEMMs no better than BF16 relative to peak (third-party measurement)


def test_rocm_2026_profile_is_fitted_on_mlperf_rows_and_prices_greedy_steps_without_a_sequence_cost():
    """rocm-vllm-2026: two GEMM fractions fitted on one MI355X system's MLPerf v6.1 rows (FP8 on Llama 3.1 8B, MXFP4 on
    Llama 2 70B), no per-sequence step cost; the same step is faster than on the 2024 stack and the fitted rows exist
    and say so."""
    from costsim.validation.engine import load_cases
    eng = get_engine("rocm-vllm-2026")
    assert eng.vendors == ["amd"]
    assert eng.parameters["seq_overhead_s"] == 0.0
    assert 0.41 < eng.parameters["matmul_frac"] <= 1.0 and 0.0 < eng.parameters["fp4_matmul_rel"] < 1.0
    cases = {c.id: c for c in load_cases()}
    for cid in eng.fitted_on:
        assert cases[cid].used_for_fit and cases[cid].inputs["engine"] == "rocm-vllm-2026"
    held = [c for c in cases.values() if c.inputs.get("engine") == "rocm-vllm-2026" and not c.used_for_fit]
    assert len(held) >= 8 and {c.inputs["hardware"] for c in held} == {"mi355x", "mi350x"}
    # at a 2,000-sequence step the 2024 stack's per-sequence cost dominates; the 2026 profile has none
    old, new = (_step("mi355x", e, 2048, wp="fp8") for e in ("rocm-vllm", "rocm-vllm-2026"))
    assert new < 0.5 * old
    with pytest.raises(InputError):
        est.device_parameters(get_accelerator("h100-sxm"), "rocm-vllm-2026")  # AMD-only profile on NVIDIA


def test_moe_dispersion_traffic_is_prompt_only_and_does_not_shrink_with_tp():
    """Each routed pair's down-projection output (d_model, 16 bit) is written and read back by the weighted sum:
    4 bytes x d_model per pair per MoE layer per GPU, split by EP and PP, not by TP; dense models pay none."""
    m = get_model("qwen3-235b-a22b")
    ci = est.core_inputs(m, get_accelerator("h200"), "bf16", None, "default")
    per_pair = 4.0 * m.d_model
    for tp in (1, 4, 8):
        got = float(core.moe_dispersion_bytes_per_gpu(ci.shape, core.Layout(tp=tp), 1000.0))
        assert got == pytest.approx(m.n_moe_layers * 1000.0 * m.experts_per_token * per_pair)
    assert float(core.moe_dispersion_bytes_per_gpu(ci.shape, core.Layout(ep=4), 1000.0)) == pytest.approx(
        m.n_moe_layers * 250.0 * m.experts_per_token * per_pair)
    dense = est.core_inputs(get_model("llama-3.1-8b"), get_accelerator("h200"), "bf16", None, "default")
    assert float(core.moe_dispersion_bytes_per_gpu(dense.shape, core.Layout(), 1000.0)) == 0.0
    pre = core.prefill_breakdown(ci.shape, ci.dev, ci.prec, core.Layout(tp=8), 4, 2000)
    assert float(pre["moe_dispersion_s"]) > 0.0


def test_vllm_prompt_pass_moe_factor_slows_prefill_only_and_not_on_amd():
    """vLLM's Triton fused MoE: the prompt pass's expert GEMMs at moe_prefill_compute_rel of the dense efficiency; a
    decode step is unchanged, a dense model's prefill is unchanged, ROCm keeps 1."""
    assert est.device_parameters(get_accelerator("h100-sxm"), "vllm")["moe_prefill_compute_rel"] < 0.5
    assert est.device_parameters(get_accelerator("mi300x"), "vllm")["moe_prefill_compute_rel"] == 1.0

    def parts(model, rel):
        ci = est.core_inputs(get_model(model), get_accelerator("h100-sxm"), "bf16", None, "vllm",
                             {"moe_prefill_compute_rel": rel})
        lay = core.Layout(tp=8)
        return (float(core.prefill_time_s(ci.shape, ci.dev, ci.prec, lay, 8, 2000)),
                float(core.decode_step_time_s(ci.shape, ci.dev, ci.prec, lay, 64, 2000)))
    (p1, d1), (p2, d2) = parts("qwen3-235b-a22b", 1.0), parts("qwen3-235b-a22b", 0.26)
    assert p2 > 1.3 * p1 and d2 == pytest.approx(d1)
    (q1, _), (q2, _) = parts("llama-3.1-70b", 1.0), parts("llama-3.1-70b", 0.26)
    assert q2 == pytest.approx(q1)


@pytest.mark.parametrize("hw", ["a100-80gb-sxm", "l40s"])
def test_vllm_on_ampere_and_ada_runs_gpt_oss_on_marlin_experts_and_triton_sink_attention(hw):
    """vLLM below compute capability 9 runs 4-bit weight-only experts on Marlin (w4a16_moe_prefill_compute_rel) and
    attention-sink models on its Triton attention (sink_attention_frac); only the model / format they apply to changes."""
    acc = get_accelerator(hw)
    p = est.device_parameters(acc, "vllm")
    oss = est.core_inputs(get_model("gpt-oss-120b"), acc, "mxfp4", None, "vllm")
    assert oss.dev.moe_prefill_compute_rel == p["w4a16_moe_prefill_compute_rel"] != p["moe_prefill_compute_rel"]
    assert oss.dev.attention_frac == p["sink_attention_frac"] < p["attention_frac"]
    assert oss.params["attention_frac"] == oss.dev.attention_frac  # the resolved parameters say what the core used
    # an explicit override of the general value wins
    o = est.core_inputs(get_model("gpt-oss-120b"), acc, "mxfp4", None, "vllm", {"moe_prefill_compute_rel": 0.9, "attention_frac": 0.4})
    assert (o.dev.moe_prefill_compute_rel, o.dev.attention_frac) == (0.9, 0.4)
    # the same model in BF16: its experts are not W4A16 (Triton fused MoE), its attention still has sinks
    bf = est.core_inputs(get_model("gpt-oss-120b"), acc, "bf16", None, "vllm")
    assert bf.dev.moe_prefill_compute_rel == p["moe_prefill_compute_rel"] and bf.dev.attention_frac == p["sink_attention_frac"]
    # a model without sinks in int4: W4A16 experts, FlashAttention
    q = est.core_inputs(get_model("qwen3-30b-a3b"), acc, "int4", None, "vllm")
    assert q.dev.moe_prefill_compute_rel == p["w4a16_moe_prefill_compute_rel"] and q.dev.attention_frac == p["attention_frac"]
    # Hopper (triton_kernels' MXFP4 MoE, FlashAttention 3 with sinks) and other engines keep the general values
    h = est.core_inputs(get_model("gpt-oss-120b"), get_accelerator("h100-sxm"), "mxfp4", None, "vllm")
    assert h.dev.moe_prefill_compute_rel == 0.26 and h.dev.attention_frac == 0.5
    d = est.core_inputs(get_model("gpt-oss-120b"), acc, "mxfp4", None, "default")
    assert d.dev.moe_prefill_compute_rel == 1.0 and d.dev.attention_frac == est.device_parameters(acc)["attention_frac"]
    # against Hopper's kernels, a 2,000-token prompt pass is faster (Marlin's expert GEMMs), a 32,000-token one slower
    # (the Triton attention); decode unchanged
    lay = core.Layout(tp=1)
    gen = replace(oss.dev, moe_prefill_compute_rel=0.26, attention_frac=0.5)
    t = {s: (core.prefill_time_s(oss.shape, oss.dev, oss.prec, lay, 1, s), core.prefill_time_s(oss.shape, gen, oss.prec, lay, 1, s))
         for s in (2000, 32000)}
    assert t[2000][0] < t[2000][1] and t[32000][0] > t[32000][1]
    assert core.decode_step_time_s(oss.shape, oss.dev, oss.prec, lay, 64, 2000) == pytest.approx(
        core.decode_step_time_s(oss.shape, gen, oss.prec, lay, 64, 2000))


def test_an_unnamed_kv_cache_is_what_the_engine_runs_by_default():
    """TensorRT-LLM's ModelOpt FP8 / FP4 checkpoints ship an FP8 KV cache; vLLM's and SGLang's --kv-cache-dtype auto is
    the model's 16-bit dtype whatever the weights. A request that names no KV cache gets the engine's."""
    assert [est.default_kv_precision("fp8", e) for e in ("default", "tensorrt-llm-pytorch", "rocm-vllm-2026")] == ["fp8"] * 3
    assert [est.default_kv_precision(w, e) for w in ("fp8", "mxfp4") for e in ("vllm", "sglang")] == ["bf16"] * 4
    assert est.default_kv_precision("bf16", "default") == "bf16"
    m, a = get_model("llama-3.1-70b"), get_accelerator("h100-sxm")
    trt, vl = est.core_inputs(m, a, "fp8", None, "default"), est.core_inputs(m, a, "fp8", None, "vllm")
    assert vl.prec.kv_bytes_per_element == 2 * trt.prec.kv_bytes_per_element
    assert vl.dev.attn_peak_flop_per_s == a.peak_flop_per_s("bf16") < trt.dev.attn_peak_flop_per_s  # no FP8 attention
    # an explicit KV cache still wins, and the serve result says which one was priced
    assert est.core_inputs(m, a, "fp8", "fp8", "vllm").prec.kv_bytes_per_element == trt.prec.kv_bytes_per_element
    from costsim.api.serve import serve
    from costsim.specs.requests import ServeRequest
    r = serve(ServeRequest(model="llama-3.1-70b", hardware="h100-sxm", gpus=2, weight_precision="fp8", engine="vllm"),
              with_curve=False)
    assert r["kv_precision"] == "bf16"


@pytest.mark.parametrize("key", ["w4a16_moe_prefill_compute_rel", "sink_attention_frac"])
def test_kernel_family_parameters_out_of_range_are_refused(key):
    with pytest.raises(InputError) as err:
        est.device_parameters(get_accelerator("a100-80gb-sxm"), "vllm", {key: 1.5})
    assert err.value.field == "overrides" and "[0, 1]" in err.value.message and key in err.value.message


@pytest.mark.parametrize("key", ["moe_allgather_dispatch", "moe_dispatch_post_quant"])
def test_expert_exchange_flags_other_than_0_or_1_are_refused(key):
    with pytest.raises(InputError) as err:
        est.device_parameters(get_accelerator("h100-sxm"), "tensorrt-llm-pytorch", {key: 0.5})
    assert err.value.field == "overrides" and "{0, 1}" in err.value.message and key in err.value.message
    assert est.device_parameters(get_accelerator("h100-sxm"), "tensorrt-llm-pytorch", {key: 0.0})[key] == 0.0


def test_research_stack_is_launch_bound_and_about_2x_slower():
    r1, d1 = _step("h100-sxm", "research-2023", 1, "llama-2-70b", "fp16", 8), _step("h100-sxm", "default", 1, "llama-2-70b", "fp16", 8)
    r4 = _step("h100-sxm", "research-2023", 1, "llama-2-70b", "fp16", 4)
    assert r1 > 2 * d1
    assert abs(r4 / r1 - 1) < 0.15  # TP8 -> TP4 barely changes a launch-bound step (measured 29.7 vs 29.6 ms)
    r64, d64 = _step("h100-sxm", "research-2023", 64, "llama-2-70b", "fp16", 8), _step("h100-sxm", "default", 64, "llama-2-70b", "fp16", 8)
    assert 1.5 < r64 / d64 < 4.0


def test_host_launch_combines_as_a_smooth_max():
    a, m = get_accelerator("h100-sxm"), get_model("llama-3.1-8b")
    ci = est.core_inputs(m, a, "bf16")
    base = core.decode_step_breakdown(ci.shape, ci.dev, ci.prec, core.Layout(), 8, 512)
    dev2 = core.Device(**{**ci.dev.__dict__, "host_launch_s_per_layer": 1e-3})
    slow = core.decode_step_breakdown(ci.shape, dev2, ci.prec, core.Layout(), 8, 512)
    gpu = float(base["step_time_s"]) - float(base["step_overhead_s"]) - float(base["sampling_s"])
    host = 32 * 1e-3
    assert float(slow["step_time_s"]) - float(slow["step_overhead_s"]) - float(slow["sampling_s"]) == pytest.approx(np.hypot(gpu, host))


def test_pipeline_micro_batches_each_pay_the_step_overhead():
    a, m = get_accelerator("h100-sxm"), get_model("llama-3.1-70b")
    ci = est.core_inputs(m, a, "fp8")
    d1 = core.decode_step_breakdown(ci.shape, ci.dev, ci.prec, core.Layout(tp=1, pp=4), 64, 512)
    assert float(d1["step_overhead_s"]) == pytest.approx(4 * ci.dev.step_overhead_s + 64 * ci.dev.seq_overhead_s)


def test_moe_kernel_efficiency_slows_only_the_routed_experts():
    """moe_kernel_rel < 1 (fused-MoE kernels less efficient than dense GEMMs) lengthens MoE steps by the experts'
    share only and leaves dense models alone; vLLM applies it on B200 only (device_parameters), not on H100."""
    a = get_accelerator("b200")
    moe, dense = get_model("qwen3-30b-a3b"), get_model("qwen3-8b")
    lay = core.Layout(tp=1)
    ci_v, ci_d = est.core_inputs(moe, a, "bf16", engine="vllm"), est.core_inputs(moe, a, "bf16", engine="default")
    assert ci_v.dev.moe_kernel_rel == pytest.approx(0.59) and ci_d.dev.moe_kernel_rel == 1.0
    assert est.core_inputs(moe, get_accelerator("h100-sxm"), "bf16", engine="vllm").dev.moe_kernel_rel == 1.0
    bd_v = core.decode_step_breakdown(ci_v.shape, ci_v.dev, ci_v.prec, lay, 64, 600)
    bd_1 = core.decode_step_breakdown(ci_v.shape, replace(ci_v.dev, moe_kernel_rel=1.0), ci_v.prec, lay, 64, 600)
    # bytes and FLOPs are what they are; only the time to move / compute the experts' share grows
    assert float(bd_v["bytes_read_per_gpu"]) == pytest.approx(float(bd_1["bytes_read_per_gpu"]))
    assert float(bd_v["matmul_flop_per_gpu"]) == pytest.approx(float(bd_1["matmul_flop_per_gpu"]))
    ratio = float(bd_v["weights_memory_s"]) / float(bd_1["weights_memory_s"])
    assert 1.0 < ratio < 1 / 0.59  # the dense (attention, embedding) weights keep their rate
    pv = core.prefill_time_s(ci_v.shape, ci_v.dev, ci_v.prec, lay, 8, 1024)
    p1 = core.prefill_time_s(ci_v.shape, replace(ci_v.dev, moe_kernel_rel=1.0), ci_v.prec, lay, 8, 1024)
    assert float(pv) > float(p1)
    cd = est.core_inputs(dense, a, "bf16", engine="vllm")
    t_rel = core.decode_step_time_s(cd.shape, cd.dev, cd.prec, lay, 64, 600)
    t_one = core.decode_step_time_s(cd.shape, replace(cd.dev, moe_kernel_rel=1.0), cd.prec, lay, 64, 600)
    assert float(t_rel) == pytest.approx(float(t_one))


def test_engine_device_parameters_name_catalog_hardware():
    for e in engines().values():
        assert set(e.device_parameters) <= set(accelerators()), (e.id, e.device_parameters)


def test_engines_cli_lists_and_shows_profiles():
    import json
    import subprocess
    import sys

    def cli(*args):
        return subprocess.run([sys.executable, "-c", "from costsim.cli import main; main()", "engines", *args],
                              capture_output=True, text=True)

    r = cli("list", "--json")
    assert r.returncode == 0, r.stderr
    assert {"vllm", "pytorch-eager", "research-2023"} <= {e["id"] for e in json.loads(r.stdout)}
    r = cli("show", "vllm", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["device_parameters"]["b200"]["moe_kernel_rel"] == pytest.approx(0.59) and doc["sources"]
    r = cli("show", "vllm")
    assert r.returncode == 0 and "hardware b200" in r.stdout and "moe_kernel_rel" in r.stdout
    assert doc["kv_cache_auto"] == "16bit" and "KV cache when a request names none: 16 bit" in r.stdout
    r = cli("show", "vlm")
    assert r.returncode == 2 and "did you mean vllm" in r.stderr and "Traceback" not in r.stderr


def test_moe_kernel_rel_out_of_range_is_refused():
    with pytest.raises(InputError) as err:
        est.device_parameters(get_accelerator("b200"), "vllm", {"moe_kernel_rel": 0.0})
    assert err.value.field == "overrides" and "(0, 1]" in err.value.message


def test_topk_sampling_costs_only_models_that_sample_with_top_k():
    """vLLM applies the model's generation_config: Qwen3 / Gemma 3 set top_k and pay full passes over the
    vocabulary per sequence per step (topk_bytes_per_logit at the streaming rate); Llama 3.1 (top_p only) does not,
    nor does the default engine."""
    lay = core.Layout(tp=1)
    h100, b200 = get_accelerator("h100-sxm"), get_accelerator("b200")
    q = est.core_inputs(get_model("qwen3-8b"), h100, "bf16", engine="vllm")
    l = est.core_inputs(get_model("llama-3.1-8b"), h100, "bf16", engine="vllm")
    assert q.shape.topk_sampling == 1.0 and l.shape.topk_sampling == 0.0
    assert q.dev.topk_bytes_per_logit == pytest.approx(440.2)
    assert est.core_inputs(get_model("qwen3-8b"), h100, "bf16", engine="default").dev.topk_bytes_per_logit == 0.0
    no_topk = replace(q.dev, topk_bytes_per_logit=0.0)
    extra = float(core.sampling_time_s(q.shape, q.dev, 128) - core.sampling_time_s(q.shape, no_topk, 128))
    bw = h100.memory_bandwidth_bytes_per_s * q.dev.bandwidth_frac
    assert extra == pytest.approx(128 * 151936 * 440.2 / bw, rel=1e-9)  # ~3 ms a step at batch 128
    assert float(core.sampling_time_s(l.shape, l.dev, 128)) == pytest.approx(float(core.sampling_time_s(l.shape, replace(l.dev, topk_bytes_per_logit=0.0), 128)))
    qb = est.core_inputs(get_model("qwen3-8b"), b200, "bf16", engine="vllm")
    extra_b = float(core.sampling_time_s(qb.shape, qb.dev, 128) - core.sampling_time_s(qb.shape, replace(qb.dev, topk_bytes_per_logit=0.0), 128))
    assert extra_b == pytest.approx(extra * 3.35 / 8.0, rel=1e-6)  # a GPU pass: faster on the faster memory
    step = core.decode_step_breakdown(q.shape, q.dev, q.prec, lay, 128, 600)
    assert float(step["sampling_s"]) > extra


def test_engine_field_help_names_every_engine():
    """The --engine help (ServeRequest) and the scenario schema list every engine profile of the catalog."""
    from costsim.specs.engine import engines
    from costsim.specs.requests import ServeRequest
    from costsim.specs.serving_sim import ServingWorkload
    for cls in (ServeRequest, ServingWorkload):
        text = cls.model_fields["engine"].description
        missing = [e for e in engines() if e not in text]
        assert not missing, f"{cls.__name__}.engine description lacks {missing}"
