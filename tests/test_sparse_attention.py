"""DeepSeek Sparse Attention (DSA: DeepSeek-V3.2): parameter count with the lightning indexers, KV cache with their
FP8 keys, decode and prefill physics (top-k attention, every key scored, indexer replicated over tensor parallelism),
training FLOPs, validation of the spec fields and the CLI."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from costsim.cli import _register, app
from costsim.core import inference as core
from costsim.core.training import model_flop_per_token
from costsim.estimators.inference import core_inputs
from costsim.estimators.training import model_shape
from costsim.specs.catalog import get_accelerator, get_model
from costsim.specs.model import ModelSpec

LAYERS, TOPK = 61, 2048
LATENT = 512 + 64  # MLA kv_lora_rank + rope dims
INDEXER_KEY_BYTES = 128 + 4  # 128 FP8 values and one fp32 scale


def _pair():
    """(DeepSeek-V3, DeepSeek-V3.2) core inputs on H200 at FP8 weights and a 16-bit KV cache."""
    acc = get_accelerator("h200")
    return (core_inputs(get_model("deepseek-v3"), acc, "fp8", "bf16", "vllm"),
            core_inputs(get_model("deepseek-v3.2"), acc, "fp8", "bf16", "vllm"))


def test_parameter_count_adds_the_indexers():
    v3, v32 = get_model("deepseek-v3"), get_model("deepseek-v3.2")
    per_layer = 1536 * 64 * 128 + 7168 * 128 + 2 * 128 + 7168 * 64  # wq_b, wk, k_norm, weights_proj
    assert v32.indexer_params_per_layer == per_layer
    assert v32.params_total - v3.params_total == pytest.approx(LAYERS * per_layer)
    assert v32.params_total == pytest.approx(671e9 + LAYERS * per_layer, rel=0.003)
    assert v3.indexer_params_per_layer == 0.0


def test_kv_cache_holds_every_token_with_its_indexer_key():
    v3, v32 = _pair()
    assert float(core.kv_bytes_per_token(v32.shape, v32.prec)) == pytest.approx(LAYERS * (LATENT * 2 + INDEXER_KEY_BYTES))
    stored = float(core.kv_bytes_stored_per_sequence(v32.shape, v32.prec, 32_000))
    assert stored == pytest.approx(32_000 * LAYERS * (LATENT * 2 + INDEXER_KEY_BYTES))
    # fewer sequences fit than for DeepSeek-V3 (the indexer keys), none of the top-k saving applies to memory
    lay = core.Layout(tp=8)
    assert 0.8 < float(core.max_batch(v32.shape, v32.dev, v32.prec, lay, 8192, 2048)) / float(
        core.max_batch(v3.shape, v3.dev, v3.prec, lay, 8192, 2048)) < 1.0


def test_decode_reads_the_top_k_latents_and_every_indexer_key():
    v3, v32 = _pair()
    for ctx in (1000, 32_000):
        read = float(core.kv_bytes_per_sequence(v32.shape, v32.prec, ctx))
        assert read == pytest.approx(LAYERS * (min(ctx, TOPK) * LATENT * 2 + ctx * INDEXER_KEY_BYTES))
    lay = core.Layout(tp=8)
    short3 = core.decode_step_breakdown(v3.shape, v3.dev, v3.prec, lay, 64, 1000)
    short32 = core.decode_step_breakdown(v32.shape, v32.dev, v32.prec, lay, 64, 1000)
    long3 = core.decode_step_breakdown(v3.shape, v3.dev, v3.prec, lay, 64, 32_000)
    long32 = core.decode_step_breakdown(v32.shape, v32.dev, v32.prec, lay, 64, 32_000)
    # below the top-k the indexer is pure overhead; at 32k the attention reads ~1/4 of DeepSeek-V3's
    assert float(short32["attention_s"]) > float(short3["attention_s"])
    assert float(long32["attention_s"]) < 0.35 * float(long3["attention_s"])
    assert float(long32["step_time_s"]) < 0.7 * float(long3["step_time_s"])


def test_prefill_attention_grows_linearly_past_the_top_k_but_the_indexer_scores_every_pair():
    _, v32 = _pair()
    lay = core.Layout(tp=8)
    a = {s: core.prefill_breakdown(v32.shape, v32.dev, v32.prec, lay, 1, s) for s in (16_000, 32_000, 64_000)}
    r1 = float(a[32_000]["attention_s"]) / float(a[16_000]["attention_s"])
    r2 = float(a[64_000]["attention_s"]) / float(a[32_000]["attention_s"])
    assert 2.0 < r1 < 4.0 and 2.0 < r2 < 4.0  # dense attention would quadruple
    # without the indexer the top-k attention alone is linear in the prompt past 2,048 tokens
    no_idx = replace(v32.shape, indexer_flop_per_pair=0.0)
    t = [float(core.prefill_breakdown(no_idx, v32.dev, v32.prec, lay, 1, s)["attention_s"]) for s in (32_000, 64_000)]
    assert t[1] / t[0] == pytest.approx(2.0, rel=0.05)


def test_indexer_is_replicated_over_tensor_parallelism():
    _, v32 = _pair()
    extra = float(core.tp_replicated_extra_params_per_gpu(v32.shape, core.Layout(tp=8)))
    assert extra == pytest.approx(LAYERS * get_model("deepseek-v3.2").indexer_params_per_layer * 7 / 8)
    assert float(core.tp_replicated_extra_params_per_gpu(v32.shape, core.Layout(tp=1))) == 0.0
    # the indexer's scoring FLOPs per GPU do not shrink with TP, the attention's do
    flop = {tp: float(core.prefill_breakdown(v32.shape, v32.dev, v32.prec, core.Layout(tp=tp), 1, 32_000)["matmul_flop_per_gpu"])
            for tp in (4, 8)}
    assert flop[8] > 0.5 * flop[4] * 1.05


def test_training_attention_span_is_the_top_k_plus_the_indexer():
    v3, v32 = model_shape(get_model("deepseek-v3")), model_shape(get_model("deepseek-v3.2"))
    at_short = model_flop_per_token(v32, 1024) - model_flop_per_token(v3, 1024)
    at_long = model_flop_per_token(v32, 65_536) - model_flop_per_token(v3, 65_536)
    assert at_short > 0  # the indexer: parameters and scoring, no saving below the top-k
    assert at_long < 0   # 64k-token sequences: attention over 2,048 keys instead of 64k


@pytest.mark.parametrize("bad, field", [
    (dict(attention="gqa", n_kv_heads=8, kv_lora_rank=None), "MLA"),
    (dict(indexer_num_heads=None), "indexer_num_heads"),
    (dict(sparse_attention_topk=None), "sparse_attention_topk"),
    (dict(sparse_attention_topk=0), "sparse_attention_topk"),
])
def test_spec_validation_names_the_field(bad, field):
    base = get_model("deepseek-v3.2").model_dump()
    base.update(bad)
    with pytest.raises(ValueError, match=field):
        ModelSpec(**base)


def test_cli_prices_deepseek_v32():
    _register()
    r = CliRunner().invoke(app, ["serve", "--model", "deepseek-v3.2-exp", "--hardware", "h200", "--gpus", "8",
                                 "--single-replica", "--weight-precision", "fp8", "--input-tokens", "32000",
                                 "--output-tokens", "200", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["model"] == "deepseek-v3.2" and d["throughput_tokens_per_s"] > 0
    shown = CliRunner().invoke(app, ["models", "show", "deepseek-v3.2"])
    assert shown.exit_code == 0 and "DeepSeek Sparse" in shown.output and "top 2,048" in shown.output


def test_index_share_caches_and_scores_only_in_the_layers_with_an_indexer():
    glm5, glm52 = get_model("glm-5"), get_model("glm-5.2")
    acc = get_accelerator("h200")
    a, b = core_inputs(glm5, acc, "fp8", "bf16", "vllm"), core_inputs(glm52, acc, "fp8", "bf16", "vllm")
    # GLM-5.2: 78 latents per token, 21 indexer keys (the 57 sharing layers cache none)
    assert float(core.kv_bytes_per_token(b.shape, b.prec)) == pytest.approx(78 * 576 * 2 + 21 * INDEXER_KEY_BYTES)
    assert float(core.kv_bytes_per_token(a.shape, a.prec)) == pytest.approx(78 * (576 * 2 + INDEXER_KEY_BYTES))
    assert glm5.params_total - glm52.params_total == pytest.approx(57 * glm5.indexer_params_per_layer)
    lay = core.Layout(tp=8)
    t5 = float(core.prefill_breakdown(a.shape, a.dev, a.prec, lay, 1, 64_000)["attention_s"])
    t52 = float(core.prefill_breakdown(b.shape, b.dev, b.prec, lay, 1, 64_000)["attention_s"])
    assert t52 < 0.8 * t5
    with pytest.raises(ValueError, match="indexer_layers"):
        ModelSpec(**{**glm52.model_dump(), "indexer_layers": 200})


def test_app_model_picker_marks_sparse_attention_models():
    from costsim.ui.widgets import model_label

    assert model_label("deepseek-v3.2").endswith("MoE sparse-attention")
    assert "sparse-attention" not in model_label("deepseek-v3")


def test_sparse_kernels_pad_a_rank_s_heads_to_64():
    _, v32 = _pair()
    # DeepSeek-V3.2's 128 heads: 16 per rank at TP 8 -> computed as 64; 64 at TP 2 and 128 whole: no padding
    assert float(core.head_padding_factor(v32.shape, v32.dev, core.Layout(tp=8))) == pytest.approx(4.0)
    assert float(core.head_padding_factor(v32.shape, v32.dev, core.Layout(tp=2))) == pytest.approx(1.0)
    assert float(core.head_padding_factor(v32.shape, v32.dev, core.Layout(tp=1, ep=8))) == pytest.approx(1.0)
    glm = core_inputs(get_model("glm-5"), get_accelerator("h200"), "fp8", "bf16", "vllm")
    assert float(core.head_padding_factor(glm.shape, glm.dev, core.Layout(tp=8))) == pytest.approx(8.0)
    v3 = core_inputs(get_model("deepseek-v3"), get_accelerator("h200"), "fp8", "bf16", "vllm")
    assert float(core.head_padding_factor(v3.shape, v3.dev, core.Layout(tp=8))) == 1.0  # dense MLA kernels: not charged
    lay = core.Layout(tp=8)
    padded = float(core.prefill_breakdown(v32.shape, v32.dev, v32.prec, lay, 1, 32_000)["attention_s"])
    unpadded = float(core.prefill_breakdown(v32.shape, replace(v32.dev, sparse_attention_min_heads=0.0), v32.prec, lay, 1,
                                            32_000)["attention_s"])
    assert padded > 2.0 * unpadded


def test_head_padding_follows_the_sparse_kernels_each_vendor_runs():
    # FlashMLA (NVIDIA) pads to 64 heads; the Triton sparse-MLA kernels elsewhere take multiples of 16
    v32 = get_model("deepseek-v3.2")
    amd = core_inputs(v32, get_accelerator("mi355x"), "fp8", "fp8", "default")
    assert float(amd.dev.sparse_attention_min_heads) == 16.0
    assert float(core.head_padding_factor(amd.shape, amd.dev, core.Layout(tp=8))) == 1.0


def test_fp8_cache_of_a_sparse_attention_model_is_the_656_byte_layout_computed_in_bf16():
    """--kv-precision fp8 on a DSA model prices the sparse kernels' FP8 latent layout (512 FP8 values, 4 fp32 scales, 64
    BF16 RoPE values = 656 bytes per token and layer, plus the 132-byte indexer key) and runs the attention at the BF16
    rate (the kernels dequantize); a dense MLA model's FP8 cache stays 576 bytes at the FP8 rate."""
    acc = get_accelerator("h200")
    v32 = get_model("deepseek-v3.2")
    assert v32.fp8_sparse_latent_extra_bytes_per_token_layer == 80.0
    fp8 = core_inputs(v32, acc, "fp8", "fp8", "vllm")
    bf16 = core_inputs(v32, acc, "fp8", "bf16", "vllm")
    assert float(core.kv_bytes_per_token(fp8.shape, fp8.prec)) == pytest.approx(LAYERS * (656 + INDEXER_KEY_BYTES))
    assert float(core.kv_bytes_per_token(bf16.shape, bf16.prec)) == pytest.approx(LAYERS * (2 * LATENT + INDEXER_KEY_BYTES))
    assert float(fp8.dev.attn_peak_flop_per_s) == pytest.approx(acc.peak_flop_per_s("bf16"))
    v3 = core_inputs(get_model("deepseek-v3"), acc, "fp8", "fp8", "vllm")
    assert float(core.kv_bytes_per_token(v3.shape, v3.prec)) == pytest.approx(LAYERS * LATENT)
    assert float(v3.dev.attn_peak_flop_per_s) == pytest.approx(acc.peak_flop_per_s("fp8"))
