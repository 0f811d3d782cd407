"""Hybrid linear-attention models (Gated DeltaNet layers beside softmax attention: Qwen3-Next, Qwen3.5): parameter
count, fixed per-sequence state instead of a KV cache, decode and prefill physics, training FLOPs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from costsim.core import inference as core
from costsim.core.training import model_flop_per_token
from costsim.estimators.inference import core_inputs
from costsim.estimators.training import model_shape
from costsim.specs.catalog import get_accelerator
from costsim.specs.model import ModelSpec

#: Qwen3-Next-80B-A3B's shapes (config.json): 48 layers, 3 of every 4 Gated DeltaNet
HYBRID = dict(name="hybrid", n_layers=48, d_model=2048, n_heads=16, n_kv_heads=2, head_dim=256, d_ff=512,
              ffn_type="swiglu", vocab_size=151936, n_experts=512, experts_per_token=10, n_shared_experts=1,
              max_context=262144, linear_attention_layers=36, linear_num_key_heads=16, linear_num_value_heads=32,
              linear_key_head_dim=128, linear_value_head_dim=128, linear_conv_kernel_dim=4, attention_output_gate=True)


def _model(**kw) -> ModelSpec:
    return ModelSpec(**{**HYBRID, **kw})


def test_parameter_count_matches_the_published_size():
    m = _model()
    # Qwen3-Next-80B-A3B: 80B total, 3B activated (model card); the LM head and embeddings add 0.62B to "active"
    assert m.params_total == pytest.approx(80e9, rel=0.02)
    assert m.params_active - m.embedding_params == pytest.approx(3.2e9, rel=0.06)
    # a Gated DeltaNet mixer: in_proj_qkvz d x (2*2048 + 2*4096), in_proj_ba d x 64, conv, out_proj 4096 x d
    assert m.linear_params_per_layer == pytest.approx(2048 * 12288 + 2048 * 64 + 8192 * 4 + 64 + 128 + 4096 * 2048)
    # the gated softmax layers' q_proj is twice as wide
    assert m.attn_params_per_layer == pytest.approx(2048 * 4096 * 2 + 2 * 2048 * 512 + 4096 * 2048)


def test_state_is_fixed_and_only_softmax_layers_hold_kv():
    m = _model()
    assert m.n_softmax_layers == 12
    assert m.linear_state_elements_per_layer == 32 * 128 * 128 + 3 * (2 * 2048 + 4096)
    ci = core_inputs(m, get_accelerator("h200"), "fp8", "bf16", "vllm")
    kv_4k = float(core.kv_bytes_stored_per_sequence(ci.shape, ci.prec, 4096))
    assert kv_4k == pytest.approx(12 * 2 * 2 * 256 * 2 * 4096)  # 12 layers x (K + V) x 2 heads x 256 x 2 bytes
    state = float(core.linear_state_bytes_per_sequence(ci.shape))
    assert state == pytest.approx(36 * m.linear_state_elements_per_layer * 2)
    # a float32 recurrent state (Qwen3.5's mamba_ssm_dtype) doubles its part; the convolution state stays 16-bit
    m32 = _model(linear_state_dtype="fp32")
    assert m32.linear_state_bytes_per_layer - m.linear_state_bytes_per_layer == pytest.approx(2 * 32 * 128 * 128)
    lay = core.Layout(tp=1)
    # the state is per sequence whatever its context: fewer sequences fit at 1k tokens than the KV alone would allow
    with_state = float(core.max_batch(ci.shape, ci.dev, ci.prec, lay, 1024, 1024))
    no_state = float(core.max_batch(replace(ci.shape, linear_state_bytes_per_layer=0.0), ci.dev, ci.prec, lay, 1024, 1024))
    assert 0 < with_state < 0.5 * no_state
    # TP splits the state by its key heads
    s1 = float(core.linear_state_bytes_per_sequence_per_gpu(ci.shape, core.Layout(tp=1)))
    s4 = float(core.linear_state_bytes_per_sequence_per_gpu(ci.shape, core.Layout(tp=4)))
    assert s4 == pytest.approx(s1 / 4)


def test_decode_cost_does_not_grow_with_context_in_linear_layers():
    acc = get_accelerator("h200")
    hyb = core_inputs(_model(), acc, "bf16", "bf16", "vllm")
    full = core_inputs(_model(linear_attention_layers=0, attention_output_gate=True), acc, "bf16", "bf16", "vllm")
    lay = core.Layout(tp=1)

    def attn(ci, ctx):
        return float(core.decode_step_breakdown(ci.shape, ci.dev, ci.prec, lay, 64, ctx)["attention_s"])

    # hybrid: attention time rises only through the 12 softmax layers; all-softmax: through all 48
    grow_h = attn(hyb, 65536) - attn(hyb, 1024)
    grow_f = attn(full, 65536) - attn(full, 1024)
    assert grow_h == pytest.approx(grow_f * 12 / 48, rel=0.05)
    # at a short context reading and rewriting the 36 states costs more than 48 layers of 1k-token KV
    assert attn(hyb, 1024) > attn(full, 1024)
    # and at a long one far less
    assert attn(hyb, 131072) < 0.4 * attn(full, 131072)


def test_prefill_linear_layers_scale_linearly_with_the_prompt():
    acc = get_accelerator("h200")
    ci = core_inputs(_model(), acc, "bf16", "bf16", "vllm")
    lin_only = _model()
    lay = core.Layout(tp=1)
    shape0 = ci.shape.__class__(**{**ci.shape.__dict__, "n_linear_layers": 0.0, "n_layers": 12.0})
    t = lambda sh, s: float(core.prefill_breakdown(sh, ci.dev, ci.prec, lay, 1, s)["attention_s"])  # noqa: E731
    # the linear layers' share of attention time: (hybrid - its 12 softmax layers alone), linear in the prompt
    lin_8k, lin_16k = t(ci.shape, 8192) - t(shape0, 8192), t(ci.shape, 16384) - t(shape0, 16384)
    assert lin_16k == pytest.approx(2 * lin_8k, rel=1e-6)
    assert lin_only.linear_prefill_flop_per_token_per_layer == pytest.approx(32 * (2 * 64 * (2 * 128 + 128) + 6 * 128 * 128))


def test_training_flops_count_the_recurrence_not_a_softmax_over_the_sequence():
    hyb, full = model_shape(_model()), model_shape(_model(linear_attention_layers=0))
    f_h8, f_h32 = float(model_flop_per_token(hyb, 8192)), float(model_flop_per_token(hyb, 32768))
    f_f8, f_f32 = float(model_flop_per_token(full, 8192)), float(model_flop_per_token(full, 32768))
    # going from 8k to 32k sequences adds attention FLOPs in 12 layers, not 48
    assert (f_h32 - f_h8) == pytest.approx((f_f32 - f_f8) * 12 / 48, rel=1e-6)


@pytest.mark.parametrize("bad, field", [
    (dict(linear_num_value_heads=None), "linear_num_value_heads"),
    (dict(linear_attention_layers=48), "at least one softmax-attention"),
    (dict(linear_num_value_heads=24), "multiple of"),
    (dict(sliding_window=4096), "sliding_window"),
])
def test_bad_hybrid_specs_are_refused(bad, field):
    with pytest.raises(ValueError, match=field):
        _model(**bad)


def test_serving_simulation_charges_each_sequence_its_state():
    """The DES takes each running sequence's linear-attention state from the KV pool (vLLM V1's hybrid allocator)."""
    from costsim.sim.steptable import build_step_table
    from costsim.specs.catalog import get_model

    acc = get_accelerator("h200")
    kw = dict(tp=1, engine="vllm", weight_precision="bf16", kv_precision="bf16", max_batch=64, max_prefill_tokens=2048,
              max_context=4096, memory_frac=None, power_cap_w=None)
    hyb = build_step_table(get_model("qwen3.5-35b-a3b"), acc, **kw)
    state_gpu = get_model("qwen3.5-35b-a3b").linear_attention_layers * get_model("qwen3.5-35b-a3b").linear_state_bytes_per_layer
    # one sequence's fp32 state is ~64 MB: thousands of tokens of this model's 20 kB-per-token KV cache
    assert hyb.state_tokens_per_sequence == pytest.approx(state_gpu / (hyb.kv_bytes_per_token), rel=1e-6)
    assert hyb.state_tokens_per_sequence > 2000
    dense = build_step_table(get_model("qwen3-30b-a3b"), acc, **kw)
    assert dense.state_tokens_per_sequence == 0.0


def test_long_context_scenario_hybrid_keeps_up_where_all_attention_queues():
    """scenarios/hybrid-vs-attention-long-context.yaml (shortened): at the same long-prompt load on the same GPUs the
    hybrid model answers faster than the all-attention MoE of its active size."""
    from pathlib import Path

    from costsim.api.run import load_scenario, run_scenario

    path = Path(__file__).resolve().parents[1] / "scenarios" / "hybrid-vs-attention-long-context.yaml"
    res = run_scenario(load_scenario(path, ["simulation.duration_s=600", "serving.warmup_s=30"]))
    hyb, att = (v.parts["serving"].summary for v in res.variants)
    assert hyb["ttft_p99_s"] < 0.5 * att["ttft_p99_s"]
    assert hyb["tpot_p99_s"] < att["tpot_p99_s"]
    assert hyb["energy_per_token_j"] < att["energy_per_token_j"]
