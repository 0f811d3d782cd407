"""Inference core: KV bytes, quantized bytes, MoE experts touched, monotonicity, memory fit, vectorized == scalar."""

import math
from dataclasses import replace

import numpy as np
import pytest

from costsim.core import inference as core
from costsim.core.comm import SCALEOUT_ACHIEVABLE_FRAC
from costsim.core.serving_curve import best_index, serving_curve
from costsim.estimators.inference import core_inputs, device_from_accelerator, precision, shape_from_model, step_time_table
from costsim.specs.catalog import get_accelerator, get_model


def test_kv_bytes_gqa_by_hand():
    m = get_model("llama-2-70b")  # 80 layers, 8 KV heads, head_dim 128
    s = shape_from_model(m)
    bf16 = precision("bf16", "bf16")
    assert float(core.kv_bytes_per_token(s, bf16)) == 2 * 8 * 128 * 80 * 2  # 327,680 B
    assert float(core.kv_bytes_per_token(s, precision("bf16", "fp8"))) == 2 * 8 * 128 * 80


def test_kv_bytes_mla_by_hand():
    m = get_model("deepseek-v3")  # MLA: kv_lora_rank 512 + rope 64 per layer, 61 layers
    s = shape_from_model(m)
    assert float(core.kv_bytes_per_token(s, precision("fp8", "bf16"))) == (512 + 64) * 61 * 2
    assert s.kv_shard_max == 1  # latents are not split by TP


def test_sliding_window_caps_context():
    m = get_model("mistral-7b")  # sliding window 4096 on every layer
    s = shape_from_model(m)
    p = precision("bf16", "bf16")
    at_window = float(core.kv_bytes_per_sequence(s, p, m.sliding_window))
    assert float(core.kv_bytes_per_sequence(s, p, 4 * m.sliding_window)) == at_window
    assert float(core.kv_bytes_per_sequence(s, p, 100)) == pytest.approx(at_window * 100 / m.sliding_window)


def test_q4_0_and_q8_0_bytes():
    m = get_model("llama-3.1-8b")
    s = shape_from_model(m)
    lay = core.Layout()
    q4 = float(core.weight_bytes_per_gpu(s, precision("q4_0", None), lay))
    q8 = float(core.weight_bytes_per_gpu(s, precision("q8_0", None), lay))
    bf = float(core.weight_bytes_per_gpu(s, precision("bf16", None), lay))
    assert q4 == pytest.approx(m.params_total * 4.5 / 8)   # 32 x 4 bit + fp16 scale per block of 32
    assert q8 == pytest.approx(m.params_total * 8.5 / 8)
    assert bf == pytest.approx(m.params_total * 2)


def test_experts_touched_formula():
    assert float(core.experts_touched(8, 2, 1)) == pytest.approx(2.0)
    assert float(core.experts_touched(8, 2, 2)) == pytest.approx(8 * (1 - 0.75 ** 2))  # 3.5
    assert float(core.experts_touched(256, 8, 10_000)) == pytest.approx(256.0)
    t = core.experts_touched(64, 4, np.arange(1, 200))
    assert np.all(np.diff(t) > 0)


def _setup(model="llama-3.1-8b", hw="h100-sxm", wp="bf16", tp=1):
    m = get_model(model)
    a = get_accelerator(hw)
    dev, _, _ = device_from_accelerator(a, wp)
    return shape_from_model(m), dev, precision(wp, None), core.Layout(tp=tp)


@pytest.mark.parametrize("model", ["llama-3.1-8b", "mixtral-8x7b", "deepseek-v3"])
def test_decode_time_monotone_in_batch(model):
    s, d, p, lay = _setup(model, "h200", "fp8", tp=8 if model == "deepseek-v3" else 1)
    b = np.arange(1, 1025, dtype=float)
    t = core.decode_step_time_s(s, d, p, lay, b, 1024)
    assert np.all(np.diff(t) >= 0)
    assert float(t[-1]) > float(t[0])


def test_moe_decode_reads_more_experts_with_batch():
    s, d, p, lay = _setup("mixtral-8x7b", "h100-sxm", "bf16", tp=2)
    bd1 = core.decode_step_breakdown(s, d, p, lay, 1, 512)
    bd64 = core.decode_step_breakdown(s, d, p, lay, 64, 512)
    assert float(bd64["weights_memory_s"]) > 2 * float(bd1["weights_memory_s"])


@pytest.mark.parametrize("engine", ["default", "vllm", "tensorrt-llm"])
def test_max_batch_fills_the_engines_kv_budget(engine):
    m, a = get_model("llama-3.1-8b"), get_accelerator("h100-sxm")
    d, _, _ = device_from_accelerator(a, "bf16", engine)
    s, p, lay = shape_from_model(m), precision("bf16", None), core.Layout()
    ctx, chunk = 4096, 4096
    mb = float(core.max_batch(s, d, p, lay, ctx, chunk))
    w = core.weight_bytes_per_gpu(s, p, lay)
    budget = float(core.kv_budget_bytes_per_gpu(d, w, core.workspace_bytes_per_gpu(s, lay, chunk, 0.0)))
    kv_of = lambda b: float(core.memory_per_gpu_bytes(s, p, lay, b, ctx, chunk) - core.memory_per_gpu_bytes(s, p, lay, 0, ctx, chunk))
    assert mb > 1
    assert kv_of(mb) <= budget < kv_of(mb + 1)


def test_kv_budget_rules_vllm_and_tensorrt_llm():
    """vLLM: gpu_memory_utilization of the whole device, the rest after weights all KV; TensorRT-LLM:
    kv_cache_free_gpu_mem_fraction of what is free after weights, workspace and the runtime's reserve."""
    a = get_accelerator("h100-sxm")
    vllm, _, _ = device_from_accelerator(a, "fp8", "vllm")
    trt, _, _ = device_from_accelerator(a, "fp8", "tensorrt-llm")
    w, ws = 70.0e9, 1.0e9
    assert float(core.kv_budget_bytes_per_gpu(vllm, w, ws)) == pytest.approx(a.memory_bytes * 0.90 - w - ws)
    assert float(core.kv_budget_bytes_per_gpu(trt, w, ws)) == pytest.approx(0.95 * (a.memory_bytes - 1.5e9 - w - ws))
    # a 70B at FP8 on one H100: no room under vLLM's rule, ~12 GB of KV under TensorRT-LLM's (its published rows ran)
    assert float(core.kv_budget_bytes_per_gpu(vllm, w, ws)) < 8e9 < float(core.kv_budget_bytes_per_gpu(trt, w, ws))
    # weights that do not fit stay negative (not scaled towards zero by the fraction)
    assert float(core.kv_budget_bytes_per_gpu(trt, 90e9, ws)) == pytest.approx(a.memory_bytes - 1.5e9 - 90e9 - ws)


def test_driver_reported_memory_is_what_engines_allocate():
    h100 = get_accelerator("h100-sxm")
    assert h100.memory_gb == 80                       # the marketing capacity, shown to readers
    assert h100.memory_bytes == 81559 * 2**20          # nvidia-smi's total: 85.5 GB
    assert get_accelerator("mi300x").memory_bytes == 206141652992
    no_report = get_accelerator("tpu-v5e")
    assert no_report.memory_reported_mib is None and no_report.memory_bytes == no_report.memory_gb * 1e9


def test_quantized_checkpoints_keep_embeddings_and_lm_head_in_16_bit():
    m = get_model("llama-3.1-8b")  # untied: input embedding and LM head, 128,256 x 4,096 each
    s, lay = shape_from_model(m), core.Layout()
    emb = 2 * m.vocab_size * m.d_model
    fp8 = float(core.weight_bytes_per_gpu(s, precision("fp8", None), lay))
    assert fp8 == pytest.approx((m.params_total - emb) * 1.0 + emb * 2.0)
    fp4 = float(core.weight_bytes_per_gpu(s, precision("fp4", None), lay))
    assert fp4 == pytest.approx((m.params_total - emb) * 4.5 / 8 + emb * 2.0)
    # the LM head is streamed every decode step in 16 bit; the input embedding is only looked up
    d, _, _ = device_from_accelerator(get_accelerator("h100-sxm"), "fp8")
    bd = core.decode_step_breakdown(s, d, precision("fp8", None), lay, 1, 128)
    dense = m.params_total - m.vocab_size * m.d_model
    assert float(bd["weights_bytes_per_gpu"]) == pytest.approx(dense * 1.0 + m.vocab_size * m.d_model * 1.0)
    # 16-bit and GGUF formats are stored as the file says
    assert float(core.weight_bytes_per_gpu(s, precision("bf16", None), lay)) == pytest.approx(m.params_total * 2)
    assert precision("q4_0", None).embed_extra_bytes_per_param == 0.0


def test_engine_that_ignores_the_sliding_window_keeps_the_whole_context():
    """TensorRT-LLM's C++ runtime keeps and attends over the whole context unless max_attention_window_size is
    set: Mistral 7B at 20,000 tokens then costs what a full-attention model does (its 0.17 table: Llama 3.1 8B's speed)."""
    from costsim.estimators.inference import core_inputs
    m, a = get_model("mistral-7b"), get_accelerator("h100-sxm")
    win = core_inputs(m, a, "fp8", "fp8", "vllm")  # one KV format for both (the engines' defaults differ)
    full = core_inputs(m, a, "fp8", "fp8", "tensorrt-llm")
    kv = lambda ci: float(core.kv_bytes_per_sequence(ci.shape, ci.prec, 20_000))
    assert kv(full) == pytest.approx(kv(win) * 20_000 / m.sliding_window)
    assert kv(full) == pytest.approx(float(core.kv_bytes_per_token(full.shape, full.prec)) * 20_000)
    # models without a window are unaffected
    l8 = get_model("llama-3.1-8b")
    assert core_inputs(l8, a, "fp8", None, "tensorrt-llm").shape == core_inputs(l8, a, "fp8", None, "vllm").shape


def test_pytorch_backend_stores_the_whole_context_but_hopper_attends_over_the_window():
    """TensorRT-LLM's PyTorch backend keeps every layer's whole context in its KV pool (no max_attention_window):
    memory and batch as full attention. Hopper's XQA kernels read only the window of a sliding layer (decode and
    prompt attention as the window says); Blackwell keeps reading the whole context (kernels not checked)."""
    from costsim.estimators.inference import core_inputs
    m = get_model("gpt-oss-20b")
    h = core_inputs(m, get_accelerator("h200"), "mxfp4", "bf16", "tensorrt-llm-pytorch")
    b = core_inputs(m, get_accelerator("b200"), "mxfp4", "bf16", "tensorrt-llm-pytorch")
    v = core_inputs(m, get_accelerator("h200"), "mxfp4", "bf16", "vllm")
    lay, ctx = core.Layout(tp=1), 8192
    stored = lambda ci: float(core.kv_bytes_per_sequence_per_gpu(ci.shape, ci.prec, lay, ctx))
    read = lambda ci: float(core.kv_bytes_per_sequence(ci.shape, ci.prec, ctx))
    full = float(core.kv_bytes_per_token(h.shape, h.prec)) * ctx
    assert stored(h) == pytest.approx(full) and stored(b) == pytest.approx(full)
    assert read(b) == pytest.approx(full)
    half = m.n_layers // 2          # every other layer attends over 128 tokens
    assert read(h) == pytest.approx(full * (half * ctx + half * 128) / (m.n_layers * ctx))
    assert read(v) == pytest.approx(read(h)) and stored(v) == pytest.approx(read(v))   # vLLM stores only the window
    # the same pool, so the same batch; the Hopper step reads less at long context
    mb = lambda ci: float(core.max_batch(ci.shape, ci.dev, ci.prec, lay, ctx, ctx))
    assert mb(h) == pytest.approx(float(core.max_batch(h.shape, replace(h.dev), h.prec, lay, ctx, ctx)))
    assert mb(h) < mb(v)
    wide = core_inputs(m, get_accelerator("h200"), "mxfp4", "bf16", "tensorrt-llm-pytorch", {"sliding_window_attention": 0.0})
    assert float(core.decode_step_time_s(h.shape, h.dev, h.prec, lay, 64, ctx)) < float(
        core.decode_step_time_s(wide.shape, wide.dev, wide.prec, lay, 64, ctx))


def test_moe_compute_rel_slows_only_the_expert_flops():
    """The routed-expert grouped GEMMs' compute efficiency: a memory-bound step (batch 1) keeps its time, the expert
    FLOPs of a large batch take 1/rel as long, weight streaming and dense models are untouched."""
    s, d, p, lay = _setup("mixtral-8x7b", "h200", "fp8")
    slow = replace(d, moe_compute_rel=0.5)
    b1, b1s = core.decode_step_breakdown(s, d, p, lay, 1, 1024), core.decode_step_breakdown(s, slow, p, lay, 1, 1024)
    assert float(b1s["weights_memory_s"]) == pytest.approx(float(b1["weights_memory_s"]))
    assert float(b1s["step_time_s"]) == pytest.approx(float(b1["step_time_s"]), rel=0.02)
    big, bigs = core.decode_step_breakdown(s, d, p, lay, 1024, 1024), core.decode_step_breakdown(s, slow, p, lay, 1024, 1024)
    assert float(bigs["matmul_compute_s"]) > 1.6 * float(big["matmul_compute_s"])
    assert float(bigs["weights_memory_s"]) == pytest.approx(float(big["weights_memory_s"]))
    sd, dd, pd, ld = _setup("llama-3.1-8b", "h200", "fp8")
    assert float(core.decode_step_time_s(sd, replace(dd, moe_compute_rel=0.5), pd, ld, 1024, 1024)) == pytest.approx(
        float(core.decode_step_time_s(sd, dd, pd, ld, 1024, 1024)))


@pytest.mark.parametrize("key,value", [("moe_compute_rel", 0.0), ("kv_free_memory_frac", 1.5), ("kv_free_memory_frac", 0.0), ("usable_memory_frac", 1.2),
                                       ("sliding_window_kv", 0.5), ("sliding_window_attention", 2.0)])
def test_memory_fractions_out_of_range_name_the_field(key, value):
    from costsim.errors import InputError
    with pytest.raises(InputError, match=key):
        device_from_accelerator(get_accelerator("h100-sxm"), "fp8", "tensorrt-llm", overrides={key: value})


def test_weights_that_do_not_fit_give_zero_batch():
    s, d, p, lay = _setup("llama-3.1-405b", "h100-sxm")
    assert float(core.max_batch(s, d, p, lay, 1024, 1024)) == 0


def test_vectorized_equals_scalar():
    rng = np.random.default_rng(0)
    s, d, p, lay = _setup("mixtral-8x7b", "a100-80gb-sxm", "bf16", tp=4)
    b = rng.integers(1, 512, 50).astype(float)
    c = rng.integers(16, 8000, 50).astype(float)
    vec_d = core.decode_step_time_s(s, d, p, lay, b, c)
    vec_p = core.prefill_time_s(s, d, p, lay, b, c)
    for k in range(50):
        assert float(core.decode_step_time_s(s, d, p, lay, float(b[k]), float(c[k]))) == pytest.approx(vec_d[k], rel=1e-12)
        assert float(core.prefill_time_s(s, d, p, lay, float(b[k]), float(c[k]))) == pytest.approx(vec_p[k], rel=1e-12)


def test_compute_dtype_per_format():
    h100 = frozenset({"bf16", "fp16", "fp8", "int8"})
    apple = frozenset({"fp16", "fp32"})
    a100 = frozenset({"bf16", "fp16", "int8"})
    assert core.compute_dtype("fp8", h100) == "fp8"
    assert core.compute_dtype("fp8", a100) == "bf16"          # weight-only on A100
    assert core.compute_dtype("int4", h100) == "bf16"         # weight-only
    assert core.compute_dtype("q4_0", apple) == "fp16"
    assert core.compute_dtype("int8", apple) == "fp16"


def test_tp_cuts_decode_time_for_big_model():
    s, d, p, _ = _setup("llama-2-70b", "h100-sxm")
    t2 = float(core.decode_step_time_s(s, d, p, core.Layout(tp=2), 8, 1024))
    t8 = float(core.decode_step_time_s(s, d, p, core.Layout(tp=8), 8, 1024))
    assert t8 < t2 / 2


def test_best_throughput_respects_slo():
    s, d, p, lay = _setup("llama-3.1-8b", "h100-sxm")
    b = np.arange(1, 400, dtype=float)
    c = serving_curve(s, d, p, lay, b, 512, 256)
    free = best_index(c)
    tight = best_index(c, tpot_slo_s=0.02)
    assert c["tpot_s"][tight] <= 0.02
    assert c["batch"][tight] < c["batch"][free]


def test_step_time_table_shapes():
    tab = step_time_table("llama-3.1-8b", "h100-sxm", batch_sizes=[1, 8, 64], context_lengths=[128, 1024], prefill_tokens=[512, 4096])
    assert tab["decode_step_time_s"].shape == (3, 2)
    assert tab["prefill_time_s"].shape == (2,)
    assert np.all(np.diff(tab["decode_step_time_s"], axis=0) > 0)
    assert tab["prefill_time_s"][1] > tab["prefill_time_s"][0]


def test_moe_pair_times_by_hand():
    """The MoE layers' per-assignment time: per routed (token, expert) pair per MoE layer, decode and prompt tokens
    each at their own rate; split over ep (each rank routes its own tokens), not over tp; nothing for dense models."""
    s, d, p, lay = _setup("qwen3-30b-a3b", "b200", "fp4")  # 48 MoE layers, top-8
    d = replace(d, moe_decode_pair_s=0.0, moe_prefill_pair_s=0.0)
    pair = replace(d, moe_decode_pair_s=4e-8)
    base = core.decode_step_breakdown(s, d, p, lay, 1000, 1500)
    with_pairs = core.decode_step_breakdown(s, pair, p, lay, 1000, 1500)
    want = 48 * 1000 * 8 * 4e-8  # 15.36 ms
    assert float(with_pairs["moe_routing_s"]) == pytest.approx(want)
    assert float(with_pairs["step_time_s"]) - float(base["step_time_s"]) == pytest.approx(want)
    # prefill pays its own rate only
    assert float(core.prefill_time_s(s, pair, p, lay, 4, 1000)) == pytest.approx(float(core.prefill_time_s(s, d, p, lay, 4, 1000)))
    pre = replace(d, moe_prefill_pair_s=1.2e-8)
    bd = core.prefill_breakdown(s, pre, p, lay, 4, 1000)
    assert float(bd["moe_routing_s"]) == pytest.approx(48 * 4000 * 8 * 1.2e-8)
    assert float(core.decode_step_time_s(s, pre, p, lay, 1000, 1500)) == pytest.approx(float(base["step_time_s"]))
    # ep splits the tokens (each rank routes its own), tp does not; the busiest of the 4 ranks sets the time: with
    # uniform expert popularity (load cv 0) only the multinomial spread of the 8,000 routed rows, z_4 sqrt(3 / 8000)
    flat = replace(pair, moe_expert_load_cv=0.0)
    ep4 = core.decode_step_breakdown(s, flat, p, core.Layout(tp=1, ep=4), 1000, 1500)
    z4 = float(core.ep_load_factor(128, 8, 4, 1e12, 1.0) - 1.0) / math.sqrt(1.0 / 32 * (128 - 32) / 127)
    assert float(ep4["moe_routing_s"]) == pytest.approx(want / 4 * (1.0 + z4 * math.sqrt(3.0 / 8000.0)), rel=1e-6)
    skewed = core.decode_step_breakdown(s, replace(pair, moe_expert_load_cv=0.5), p, core.Layout(tp=1, ep=4), 1000, 1500)
    assert float(skewed["moe_routing_s"]) > float(ep4["moe_routing_s"])
    tp4 = core.decode_step_breakdown(s, pair, p, core.Layout(tp=4), 1000, 1500)
    assert float(tp4["moe_routing_s"]) == pytest.approx(want)
    sd, dd, pd, ld = _setup("llama-3.1-8b", "b200", "fp4")
    assert float(core.decode_step_time_s(sd, replace(dd, moe_decode_pair_s=4e-8), pd, ld, 1000, 1500)) == pytest.approx(
        float(core.decode_step_time_s(sd, dd, pd, ld, 1000, 1500)))


def test_ep_load_factor_by_hand():
    """The busiest expert-parallel rank: 1 without ep; E[max of n normals] (Blom) standard deviations of the rank's
    share above the mean, the share's spread from the experts' popularity (cv^2 / m, m = E / n experts per rank, drawn
    without replacement) and from sampling the routed rows ((n - 1) / rows)."""
    assert float(core.ep_load_factor(128, 8, 1, 1000, 0.5)) == 1.0
    assert float(core.normal_max_z(1)) == 0.0
    assert float(core.normal_max_z(2)) == pytest.approx(0.5642, abs=0.03)   # exact 1 / sqrt(pi)
    assert float(core.normal_max_z(8)) == pytest.approx(1.4236, abs=0.02)
    m = 128 / 8
    want = 1.0 + float(core.normal_max_z(8)) * math.sqrt(0.5 ** 2 / m * (128 - m) / 127 + 7.0 / (2000 * 8))
    assert float(core.ep_load_factor(128, 8, 8, 2000, 0.5)) == pytest.approx(want)
    # more ranks, fewer experts each: a busier busiest rank; more skew: busier
    f = [float(core.ep_load_factor(128, 8, n, 4000, 0.5)) for n in (2, 4, 8, 16)]
    assert f == sorted(f) and f[0] > 1.0
    assert float(core.ep_load_factor(128, 8, 8, 4000, 1.0)) > float(core.ep_load_factor(128, 8, 8, 4000, 0.5))


def test_moe_exchange_by_hand():
    """Expert parallelism's token exchange per forward pass: all-gather of every rank's tokens (at the dispatch bytes)
    plus reduce-scatter of the outputs (16 bit), each (n - 1) / n of the total over the achievable scale-up rate plus
    half an all-reduce's latency steps; or (moe_allgather_dispatch 0) two all-to-alls of one copy per chosen expert."""
    s, d, p, lay = _setup("qwen3-30b-a3b", "b200", "fp4")
    dev = replace(d, moe_allgather_dispatch=1.0)
    tokens, dm, n = 4096.0, 2048.0, 4
    bw = float(d.scaleup_bytes_per_s) * float(d.comm_bandwidth_frac)
    lat = float(d.scaleup_latency_s) * (1.0 + math.log2(n)) / 2.0
    want = 48 * ((lat + (n - 1) / n * tokens * dm * 0.5625 / bw) + (lat + (n - 1) / n * tokens * dm * 2.0 / bw))
    got = core.moe_exchange_time_s(tokens, dm, 48, n, dev, 1.0, 8, 2.0, 0.5625)
    assert float(got) == pytest.approx(want)
    a2a = core.moe_exchange_time_s(tokens, dm, 48, n, replace(d, moe_allgather_dispatch=0.0), 1.0, 8, 2.0, 0.5625)
    assert float(a2a) == pytest.approx(48 * 2 * float(core.alltoall_time_s(tokens / n * 8 * dm * 2.0, n, d)))
    # top-8 over 4 ranks: the all-gather moves (n-1) copies of each token, the per-expert all-to-all 8 (n-1) / n
    assert float(a2a) > 2.5 * float(got)
    # the TensorRT-LLM profiles all-gather NVFP4 tokens (post-quant); vLLM's 16-bit
    trt = core_inputs(get_model("qwen3-30b-a3b"), get_accelerator("b200"), "fp4", None, "tensorrt-llm-pytorch", None)
    vll = core_inputs(get_model("qwen3-30b-a3b"), get_accelerator("b200"), "fp4", None, "vllm", None)
    assert float(trt.dev.moe_dispatch_post_quant) == 1.0 and float(vll.dev.moe_dispatch_post_quant) == 0.0
    assert float(trt.dev.moe_allgather_dispatch) == 1.0 and float(vll.dev.moe_allgather_dispatch) == 1.0
    assert 0.5 < float(trt.prec.act_gemm_bytes) < 0.6


def test_moe_pair_time_is_priced_at_kernel_power():
    """The per-pair time is GPU work: a step that spends most of its time there draws well above warm idle."""
    from costsim.core.power import warm_idle_power_w
    s, d, p, lay = _setup("qwen3-30b-a3b", "b200", "fp4")
    a = get_accelerator("b200")
    heavy = replace(d, moe_decode_pair_s=1e-6)
    dec = core.decode_step_breakdown(s, heavy, p, lay, 1000, 1500)
    assert float(dec["moe_routing_s"]) > 0.5 * float(dec["step_time_s"])
    assert float(core.decode_step_power_w(dec, heavy, a.idle_w, a.tdp_w)) > 1.2 * float(warm_idle_power_w(a.idle_w, a.tdp_w))


def test_tensorrt_llm_pytorch_profile_by_architecture():
    """The PyTorch-backend profile: the C++ runtime's terms plus the MoE per-pair times, Blackwell's on B200 / GB200,
    the Hopper values elsewhere, and decode steps padded to CUDA-graph batch sizes; a dense model at a captured batch
    size prices exactly as on the C++ runtime profile, between two sizes as the larger one's GEMMs."""
    from costsim.estimators.inference import core_inputs, device_parameters
    bw = device_parameters(get_accelerator("b200"), "tensorrt-llm-pytorch")
    hop = device_parameters(get_accelerator("h200"), "tensorrt-llm-pytorch")
    assert bw["moe_decode_pair_s"] == pytest.approx(3.4e-8) and bw["moe_prefill_pair_s"] == pytest.approx(1.1e-8)
    assert hop["moe_decode_pair_s"] == pytest.approx(6e-8) and hop["moe_prefill_pair_s"] == pytest.approx(5e-8)
    assert device_parameters(get_accelerator("gb200"), "tensorrt-llm-pytorch")["moe_decode_pair_s"] == bw["moe_decode_pair_s"]
    cpp = device_parameters(get_accelerator("b200"), "tensorrt-llm")
    assert cpp["moe_decode_pair_s"] == 0.0 and cpp["cuda_graph_padding"] == 0.0 and bw["cuda_graph_padding"] == 1.0
    own = ("pair", "cuda_graph")
    assert {k: v for k, v in bw.items() if not any(o in k for o in own)} == \
        {k: v for k, v in cpp.items() if not any(o in k for o in own)}
    m, a = get_model("llama-3.1-70b"), get_accelerator("b200")
    x, y = core_inputs(m, a, "fp4", None, "tensorrt-llm-pytorch"), core_inputs(m, a, "fp4", None, "tensorrt-llm")
    lay = core.Layout()
    assert float(core.decode_step_time_s(x.shape, x.dev, x.prec, lay, 256, 2000)) == float(core.decode_step_time_s(y.shape, y.dev, y.prec, lay, 256, 2000))
    assert float(core.decode_step_time_s(x.shape, x.dev, x.prec, lay, 283, 2000)) > float(core.decode_step_time_s(y.shape, y.dev, y.prec, lay, 283, 2000))


@pytest.mark.parametrize("value", [-1e-8, float("nan"), float("inf"), "fast"])
def test_negative_or_non_finite_override_names_the_field(value):
    from costsim.errors import InputError
    with pytest.raises(InputError, match="moe_decode_pair_s"):
        device_from_accelerator(get_accelerator("b200"), "fp4", "tensorrt-llm-pytorch", overrides={"moe_decode_pair_s": value})


def test_default_engine_prices_moe_routing_on_nvidia_only():
    """The default engine stands for today's TensorRT-LLM on NVIDIA parts, so it carries the MoE per-pair times fitted
    on tensorrt-llm-pytorch (Blackwell's on B200 / GB200 / B300); the C++-runtime profile and AMD's stack do not."""
    from costsim.estimators.inference import device_parameters
    for hw in ("b200", "gb200", "h100-sxm", "a100-80gb-sxm"):
        assert device_parameters(get_accelerator(hw), "default")["moe_decode_pair_s"] == \
            device_parameters(get_accelerator(hw), "tensorrt-llm-pytorch")["moe_decode_pair_s"] > 0
    assert device_parameters(get_accelerator("mi300x"), "default")["moe_decode_pair_s"] == 0.0
    assert device_parameters(get_accelerator("h100-sxm"), "tensorrt-llm")["moe_decode_pair_s"] == 0.0



def test_cuda_graph_padding_pads_the_gemms_not_the_attention():
    """graph_batch: the next captured size (1, 2, 4, ... 256, 384, 512, 1024, ... 8192), a batch above 8192 as itself;
    a padded step computes the GEMMs, expert routing and collectives of the graph's batch, the attention and KV reads
    of the real sequences only."""
    assert core.graph_batch(np.array([1, 3, 200, 283, 384, 385, 600, 5000, 9000]), 1.0).tolist() == \
        [1, 4, 256, 384, 384, 512, 1024, 8192, 9000]
    assert core.graph_batch(283.0, 0.0) == 283.0
    s, d, p, lay = _setup("qwen3-30b-a3b", "b200", "fp4")
    d = replace(d, moe_decode_pair_s=3e-8)
    padded = core.decode_step_breakdown(s, replace(d, cuda_graph_padding=1.0), p, lay, 283, 1500)
    own = core.decode_step_breakdown(s, d, p, lay, 283, 1500)
    graph = core.decode_step_breakdown(s, d, p, lay, 384, 1500)
    for k in ("weights_flop_per_gpu", "moe_routing_s", "matmul_compute_s", "experts_touched_per_layer"):
        assert float(padded[k]) == pytest.approx(float(graph[k]), rel=1e-12), k
    for k in ("kv_bytes_per_gpu", "attention_flop_per_gpu", "attention_s"):
        assert float(padded[k]) == pytest.approx(float(own[k]), rel=1e-12), k
    assert float(own["step_time_s"]) < float(padded["step_time_s"]) < float(graph["step_time_s"])


@pytest.mark.parametrize("value", [0.5, 2, -1, float("nan"), "yes"])
def test_cuda_graph_padding_override_is_a_flag(value):
    from costsim.errors import InputError
    with pytest.raises(InputError, match="cuda_graph_padding"):
        device_from_accelerator(get_accelerator("b200"), "fp4", "tensorrt-llm-pytorch", overrides={"cuda_graph_padding": value})


def test_microscaled_weights_pay_an_upcast_where_no_fp4_tensor_cores():
    """MXFP4 on Hopper computes weight-only in BF16 and pays the upcast ALU work per weight read per row tile
    (core.MICROSCALED_UPCAST_FLOP_PER_WEIGHT at the vector peak); Blackwell's FP4 MMA and BF16 weights pay none,
    and prompt GEMMs carry no upcast term."""
    assert core.upcast_flop_per_weight_tile("mxfp4", "bf16") == core.MICROSCALED_UPCAST_FLOP_PER_WEIGHT > 0
    assert core.upcast_flop_per_weight_tile("fp4", "fp4") == 0.0
    assert core.upcast_flop_per_weight_tile("fp8", "fp8") == 0.0
    assert core.upcast_flop_per_weight_tile("bf16", "bf16") == 0.0
    np.testing.assert_array_equal(core.upcast_tiles([0, 1, 128, 129, 256, 1000]), [1, 1, 1, 2, 2, 8])
    def setup(hw):
        d, dtype, _ = device_from_accelerator(get_accelerator(hw), "mxfp4")
        return shape_from_model(get_model("gpt-oss-120b")), d, precision("mxfp4", None, dtype), core.Layout(tp=1)

    s, d, p, lay = setup("h200")
    assert p.upcast_flop_per_weight_tile == core.MICROSCALED_UPCAST_FLOP_PER_WEIGHT
    none = replace(p, upcast_flop_per_weight_tile=0.0)
    with_up = core.decode_step_breakdown(s, d, p, lay, 1024, 1500)
    without = core.decode_step_breakdown(s, d, none, lay, 1024, 1500)
    # 1,024 tokens x 4 / 128 experts = 32 rows per expert: one tile; the dense layers' 1,024 rows: 8 tiles
    touched = float(core.experts_touched(s.n_experts, s.experts_per_token, 1024))
    want_flop = p.upcast_flop_per_weight_tile * (s.params_dense_stream * 8
                                                 + s.n_moe_layers * touched * s.params_expert * 1)
    extra_s = float(with_up["matmul_compute_s"]) - float(without["matmul_compute_s"])
    assert extra_s == pytest.approx(want_flop / d.vector_flop_per_s, rel=1e-6)
    assert float(with_up["step_time_s"]) > 1.1 * float(without["step_time_s"])
    assert float(core.prefill_time_s(s, d, p, lay, 4, 1000)) == pytest.approx(float(core.prefill_time_s(s, d, none, lay, 4, 1000)))
    _, _, pb, _ = setup("b200")
    assert pb.upcast_flop_per_weight_tile == 0.0


def test_expert_all_to_all_and_pipeline_hand_offs_beyond_one_node_cross_the_network():
    """Serving replicas wider than one scale-up group (DeepSeek-V3 on two 8-GPU H100 nodes): the expert all-to-all
    sends the other node's share over the NIC share (by hand), the pipeline hand-off between two nodes' stages goes
    over the network, and inside one node nothing changes (a device without network data keeps the old rates)."""
    acc = get_accelerator("h100-sxm")
    dev = device_from_accelerator(acc, "fp8")[0]
    assert float(dev.local_group_size) == 8.0 and float(dev.scaleout_bytes_per_s) == pytest.approx(50e9)
    B = 1e8
    nvl = float(dev.scaleup_bytes_per_s) * float(dev.comm_bandwidth_frac)
    inside = float(core.alltoall_time_s(B, 8, dev))
    assert inside == pytest.approx(float(dev.scaleup_latency_s) * 4.0 + 7 / 8 * B / nvl)
    assert inside == pytest.approx(float(core.alltoall_time_s(B, 8, replace(dev, local_group_size=np.inf))))
    out_bw = 50e9 * SCALEOUT_ACHIEVABLE_FRAC
    two = float(core.alltoall_time_s(B, 16, dev))
    assert two == pytest.approx(float(dev.scaleout_latency_s) * 5.0 + max(7 / 16 * B / nvl, 8 / 16 * B / out_bw))
    assert two > 2.5 * float(core.alltoall_time_s(B, 16, replace(dev, local_group_size=np.inf)))
    # EP 8 at stride tp 2 spans two nodes too
    assert float(core.alltoall_time_s(B, 8, dev, 2)) > 3 * inside
    # pipeline: TP1 x EP8 x PP2 puts one stage per node, its one boundary crosses; TP1 x EP4 x PP2 stays in a node
    up = float(dev.scaleup_bytes_per_s)
    assert float(core.pp_handoff_s(B, core.Layout(tp=1, pp=2, ep=8), dev)) == pytest.approx(float(dev.scaleout_latency_s) + B / out_bw)
    assert float(core.pp_handoff_s(B, core.Layout(tp=1, pp=2, ep=4), dev)) == pytest.approx(float(dev.scaleup_latency_s) + B / up)
    # TP 2 x PP 8: 16 GPUs, stages of 2, one of the 7 boundaries crosses
    mixed = float(core.pp_handoff_s(B, core.Layout(tp=2, pp=8, ep=1), dev))
    assert mixed == pytest.approx(6 / 7 * (float(dev.scaleup_latency_s) + B / up) + 1 / 7 * (float(dev.scaleout_latency_s) + B / out_bw))
    assert float(core.pp_handoff_s(B, core.Layout(tp=8, pp=1, ep=1), dev)) == 0.0
    # the whole step: DeepSeek-V3 decode with EP 16 over two nodes pays the network, inside a GB200 NVL72 domain it does not
    s, p = shape_from_model(get_model("deepseek-v3")), precision("fp8", "fp8")
    lay = core.Layout(tp=1, pp=1, ep=16)
    a2a = replace(dev, moe_allgather_dispatch=0.0)  # per-expert all-to-all (DeepEP-style): the other node's share on the NIC
    wide = core.decode_step_breakdown(s, a2a, p, lay, 2048, 2000)
    nvlink = core.decode_step_breakdown(s, replace(a2a, local_group_size=np.inf), p, lay, 2048, 2000)
    assert float(wide["ep_alltoall_s"]) > 2 * float(nvlink["ep_alltoall_s"])
    # the engines' default all-gather / reduce-scatter is hierarchical: each GPU's NIC share carries 1/8 of the other
    # node's half, so crossing costs less than the all-to-all's but still more than one NVLink domain
    ag = replace(dev, moe_allgather_dispatch=1.0)
    wide_ag = core.decode_step_breakdown(s, ag, p, lay, 2048, 2000)
    nvl_ag = core.decode_step_breakdown(s, replace(ag, local_group_size=np.inf), p, lay, 2048, 2000)
    assert float(nvl_ag["ep_alltoall_s"]) < float(wide_ag["ep_alltoall_s"]) < float(wide["ep_alltoall_s"])
    gb = device_from_accelerator(get_accelerator("gb200"), "fp8")[0]
    assert float(gb.local_group_size) == 72.0
    assert float(core.alltoall_time_s(B, 16, gb)) == pytest.approx(float(core.alltoall_time_s(B, 16, replace(gb, local_group_size=np.inf))))


def test_ring_fabric_pays_a_hop_per_rank():
    """Inferentia2 has two NeuronLinks per chip, a ring of 12 chips: a small all-reduce over its 24 NeuronCores walks
    the ring, 2 x (24 - 1) hops of the runtime's documented ~1.5 us, where a switched fabric pays log-depth hops."""
    from costsim.core.inference_comm import allreduce_time_s
    from costsim.estimators.inference import core_inputs

    dev = core_inputs(get_model("llama-2-7b"), get_accelerator("inferentia2"), "bf16", None, "default", None).dev
    tiny = 16.0  # bytes: latency only
    assert float(allreduce_time_s(tiny, 12, dev)) == pytest.approx(46 * 1.5e-6, rel=1e-3)
    switched = replace(dev, scaleup_ring_ranks=0.0)
    assert float(allreduce_time_s(tiny, 12, switched)) == pytest.approx((1 + np.log2(12)) * 1.5e-6, rel=1e-3)
    h100 = core_inputs(get_model("llama-2-7b"), get_accelerator("h100-sxm"), "bf16", None, "default", None).dev
    assert float(h100.scaleup_ring_ranks) == 0.0


def test_dma_engines_bound_streaming_on_neuron_cores():
    """A NeuronCore-v2 reads HBM only through its 16 DMA engines (17 B/ns each, NKI DMA bandwidth guide): 544 GB/s per
    Trainium1 / Inferentia2 chip, below 80 % of the 820 GB/s HBM peak, so weight streaming runs at the DMA rate; a
    Trainium2's 2.94 TB/s of DMA is above its HBM peak and binds nothing, nor does a profile without the field."""
    from costsim.estimators.inference import core_inputs, device_parameters
    from costsim.estimators.training import hardware_shape

    trn1 = get_accelerator("trainium1")
    assert trn1.streaming_frac_cap == pytest.approx(544 / 820)
    assert device_parameters(trn1)["bandwidth_frac"] == pytest.approx(544 / 820)
    unbound = trn1.model_copy(update={"dma_bandwidth_gb_per_s": None})
    assert device_parameters(unbound)["bandwidth_frac"] == pytest.approx(0.80)
    m = get_model("llama-2-70b")
    steps = [core.decode_step_breakdown(ci.shape, ci.dev, ci.prec, core.Layout(tp=16), 1, 300)["weights_s"]
             for ci in (core_inputs(m, a, "bf16", None, "default", None) for a in (trn1, unbound))]
    assert float(steps[0]) / float(steps[1]) == pytest.approx(0.80 / (544 / 820), rel=1e-4)
    assert get_accelerator("trainium2").streaming_frac_cap == 1.0
    assert get_accelerator("h100-sxm").streaming_frac_cap == 1.0
    assert hardware_shape(trn1, None, "bf16").memory_bandwidth_bytes_per_s * 0.8 == pytest.approx(544e9)
