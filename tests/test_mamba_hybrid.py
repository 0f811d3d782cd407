"""Hybrid Mamba-2 models (Nemotron-H, Nemotron Nano 2 / 3): the Mamba-2 mixer's parameters, state, decode and prompt
FLOPs; token-mixer layers without an FFN block; the request's recurrent-state storage (--state-precision)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from costsim.cli import _register, app
from costsim.core import inference as core
from costsim.core.training import linear_gemms, model_flop_per_token
from costsim.estimators.inference import core_inputs, estimate_serve
from costsim.estimators.inference_inputs import served_model
from costsim.estimators.training import model_shape
from costsim.specs.catalog import get_accelerator, get_model
from costsim.specs.model import ModelSpec
from costsim.specs.requests import ServeRequest

#: Nemotron-H 8B (Megatron-Bridge fixture of its config.json): 24 Mamba-2 + 4 attention mixers, 24 MLP blocks
NH8 = dict(name="nh8", n_layers=28, n_ffn_free_layers=4, d_model=4096, n_heads=32, n_kv_heads=8, head_dim=128, d_ff=21504,
           ffn_type="relu2", vocab_size=131072, max_context=8192, linear_attention_layers=24, linear_attention_kind="mamba2",
           linear_num_key_heads=8, linear_num_value_heads=128, linear_key_head_dim=128, linear_value_head_dim=64,
           linear_chunk_tokens=128, linear_state_dtype="fp32")


def _model(**kw) -> ModelSpec:
    return ModelSpec(**{**NH8, **kw})


def test_mamba2_mixer_parameters_follow_the_config():
    m = _model()
    d, inner, bc, heads = 4096, 128 * 64, 8 * 128, 128
    # in_proj (z, x, B, C, dt), conv over x/B/C with bias, dt_bias / A_log / D, gated norm, out_proj
    mixer = d * (2 * inner + 2 * bc + heads) + (inner + 2 * bc) * 5 + 3 * heads + inner + inner * d
    assert m.linear_params_per_layer == pytest.approx(mixer)
    attn = d * 4096 + 2 * d * 1024 + 4096 * d
    mlp = 2 * d * 21504  # squared ReLU: up and down, no gate
    norms = 28 * 2 * d + d
    assert m.params_total == pytest.approx(24 * mixer + 4 * attn + 24 * mlp + 2 * 131072 * d + norms)
    # the whole 8B family member and the catalog entries land on their published sizes
    assert m.params_total == pytest.approx(8.1e9, rel=0.01)
    for mid, size in (("nemotron-h-8b", 8.0e9), ("nemotron-h-56b", 56e9), ("nemotron-nano-9b-v2", 8.89e9),
                      ("nemotron-3-nano", 31.6e9)):
        assert get_model(mid).params_total == pytest.approx(size, rel=0.02), mid
    nano3 = get_model("nemotron-3-nano")
    assert nano3.n_moe_layers == 23 and nano3.params_active == pytest.approx(3.6e9, rel=0.02)


def test_mamba2_state_decode_and_prompt_flops():
    m = _model()
    state = 128 * 64 * 128  # heads x head dim x state size
    conv = 3 * (8192 + 2 * 1024)  # kernel - 1 inputs of x, B, C
    assert m.linear_state_bytes_per_layer == pytest.approx(4 * state + 2 * conv)
    assert m.linear_decode_flop_per_token_per_layer == pytest.approx(5 * state)  # decay, write, read
    c = 128
    assert m.linear_prefill_flop_per_token_per_layer == pytest.approx(8 * 2 * c * 128 + 128 * (2 * c * 64 + 4 * 128 * 64))
    # the chunk length defaults to the SSD kernels' 256 when the config names none
    assert _model(linear_chunk_tokens=None).linear_chunk == 256
    # vLLM's MambaMixer2 splits the heads over tensor parallelism, not the 8 B/C groups
    ci = core_inputs(m, get_accelerator("h100-sxm"), "bf16", "bf16", "vllm")
    s1 = float(core.linear_state_bytes_per_sequence_per_gpu(ci.shape, core.Layout(tp=1)))
    s16 = float(core.linear_state_bytes_per_sequence_per_gpu(ci.shape, core.Layout(tp=16)))
    assert s16 == pytest.approx(s1 / 16)


def test_layers_without_an_ffn_cost_neither_ffn_flops_nor_its_all_reduce():
    m, full = _model(), _model(n_ffn_free_layers=0)
    mlp = 2 * 4096 * 21504
    assert full.params_total - m.params_total == pytest.approx(4 * mlp)
    f, f_full = float(model_flop_per_token(model_shape(m), 4096)), float(model_flop_per_token(model_shape(full), 4096))
    assert f_full - f == pytest.approx(6 * 4 * mlp, rel=1e-9)  # forward + backward of 4 MLPs
    assert model_shape(m).tp_collective_layer_frac == pytest.approx(1 - 0.5 * 4 / 28)
    acc = get_accelerator("h100-sxm")
    ci, ci_full = core_inputs(m, acc, "bf16", "bf16", "vllm"), core_inputs(full, acc, "bf16", "bf16", "vllm")
    assert float(ci.shape.allreduces_per_layer) == pytest.approx((28 + 24) / 28)
    lay = core.Layout(tp=4)
    tp, tp_full = (float(core.decode_step_breakdown(c.shape, c.dev, c.prec, lay, 64, 2048)["tp_allreduce_s"]) for c in (ci, ci_full))
    assert tp == pytest.approx(tp_full * 52 / 56)


@pytest.mark.parametrize("bad, field", [
    (dict(n_ffn_free_layers=28), "at least one"),
    (dict(n_ffn_free_layers=20, n_dense_layers=10), "cannot exceed n_layers"),
    (dict(linear_attention_layers=0, n_ffn_free_layers=0), "need linear_attention_layers"),
    (dict(linear_chunk_tokens=0), "linear_chunk_tokens"),
    (dict(linear_attention_kind="mamba3"), "linear_attention_kind"),
])
def test_bad_mamba_specs_name_the_field(bad, field):
    with pytest.raises(ValueError, match=field):
        _model(**bad)


def test_moe_hybrid_needs_a_moe_layer():
    spec = get_model("nemotron-3-nano").model_dump()
    with pytest.raises(ValueError, match="at least one MoE layer"):
        ModelSpec(**{**spec, "n_dense_layers": 1, "n_ffn_free_layers": 28})


def test_state_precision_sets_the_state_bytes_and_the_decode_step():
    base = dict(model="nemotron-3-nano", hardware="h200", gpus=1, single_replica=True, weight_precision="fp8",
                engine="vllm", input_tokens=1024, output_tokens=1024, batch=256)
    r32 = estimate_serve(ServeRequest(**base))
    r16 = estimate_serve(ServeRequest(**base, state_precision="bf16"))
    assert r32["state_precision"] == "fp32" and r16["state_precision"] == "bf16"
    nano3 = get_model("nemotron-3-nano")
    rec = 23 * 64 * 64 * 128
    assert r32["linear_state_bytes_per_sequence"] - r16["linear_state_bytes_per_sequence"] == pytest.approx(2 * rec)
    assert r16["decode_step_time_s"] < r32["decode_step_time_s"]
    # a model without recurrent layers ignores it
    dense = served_model(get_model("llama-3.1-8b"), ServeRequest(model="llama-3.1-8b", hardware="h200", state_precision="bf16"))
    assert dense.linear_state_dtype == get_model("llama-3.1-8b").linear_state_dtype
    assert nano3.linear_state_dtype == "fp32"


def test_cli_shows_mamba_layers_and_takes_state_precision():
    _register()
    runner = CliRunner()
    shown = runner.invoke(app, ["models", "show", "nemotron-3-nano"])
    assert shown.exit_code == 0, shown.output
    assert "Mamba-2" in shown.output and "layers without an FFN block" in shown.output
    listed = runner.invoke(app, ["models", "list"])
    assert "Mamba2" in listed.output
    r = runner.invoke(app, ["serve", "--model", "nemotron-h-8b", "--hardware", "h100-sxm", "--gpus", "1", "--single-replica",
                            "--state-precision", "bf16", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["state_precision"] == "bf16"


def test_bad_state_precision_exits_2_naming_the_field(cli):
    bad = cli("serve", "--model", "nemotron-h-8b", "--hardware", "h100-sxm", "--state-precision", "fp64")
    assert bad.returncode == 2 and "state_precision" in bad.stderr and "Traceback" not in bad.stderr + bad.stdout


def test_training_a_mamba_hybrid_prices_a_step():
    r = CliRunner().invoke(app, ["train", "--model", "nemotron-h-8b", "--hardware", "h100-sxm", "--gpus", "64",
                                 "--tokens", "1e11", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["feasible"] and 0.2 < d["mfu_frac"] < 0.7


def test_reasoning_scenario_hybrid_keeps_up_and_bf16_state_decodes_faster():
    """scenarios/mamba-hybrid-reasoning-traffic.yaml (shortened): at the same decode-heavy load on the same GPUs the
    Mamba-2 hybrid keeps up where the all-attention MoE queues, and its bf16 state decodes faster than fp32."""
    from pathlib import Path

    from costsim.api.run import load_scenario, run_scenario

    path = Path(__file__).resolve().parents[1] / "scenarios" / "mamba-hybrid-reasoning-traffic.yaml"
    res = run_scenario(load_scenario(path, ["simulation.duration_s=900", "serving.warmup_s=120"]))
    fp32, bf16, att = (v.parts["serving"].summary for v in res.variants)
    assert fp32["ttft_p99_s"] < 0.1 * att["ttft_p99_s"]
    assert bf16["tpot_p99_s"] < 0.8 * fp32["tpot_p99_s"]
    assert fp32["energy_per_token_j"] < att["energy_per_token_j"]


def test_latent_moe_experts_and_exchange_run_at_the_latent_width():
    """Nemotron 3 Super's LatentMoE: routed experts of latent x d_ff, two d_model x latent projections per MoE layer, shared
    experts at d_model, and an expert-parallel exchange carrying latent values."""
    sup = get_model("nemotron-3-super")
    d, lat, f = 4096, 1024, 2688
    assert sup.expert_params == pytest.approx(2 * lat * f) and sup.shared_expert_params == pytest.approx(2 * d * f)
    assert sup.moe_latent_params_per_layer == pytest.approx(2 * d * lat)
    assert sup.params_total == pytest.approx(120.7e9, rel=0.005)  # 120B total (model card)
    assert sup.params_active - sup.vocab_size * d == pytest.approx(12.2e9, rel=0.02)  # 12B active
    full = ModelSpec(**{**sup.model_dump(), "moe_latent_dim": None})
    assert full.params_total - sup.params_total == pytest.approx(40 * (512 * 2 * (d - lat) * f - 2 * d * lat))
    acc = get_accelerator("h200")
    lay = core.Layout(tp=1, ep=8)
    cis = (core_inputs(sup, acc, "fp8", "fp8", "sglang"), core_inputs(full, acc, "fp8", "fp8", "sglang"))
    # a prompt pass of 64 x 2,048 tokens: bandwidth-bound, a quarter of the values
    ex = [float(core.prefill_breakdown(c.shape, c.dev, c.prec, lay, 64, 2048)["ep_alltoall_s"]) for c in cis]
    assert ex[0] == pytest.approx(0.25 * ex[1], rel=0.1)
    # a decode step of 256 sequences: the exchange's latency terms keep it above a quarter, still below
    dec = [float(core.decode_step_breakdown(c.shape, c.dev, c.prec, lay, 256, 1024)["ep_alltoall_s"]) for c in cis]
    assert 0 < dec[0] < dec[1]
    # training: the GEMM list still adds up to the model's FLOPs, the latent projections among them
    ms = model_shape(sup)
    gemms = linear_gemms(ms)
    # an expert entry is one expert's GEMM; each token runs experts_per_token of them
    flop = sum(2.0 * w * n * k * (ms.experts_per_token if kind == "expert" else 1) for w, n, k, _, kind in gemms)
    assert flop == pytest.approx(2.0 * ms.mm_params_per_layer, rel=1e-9)
    latent = [(n, k) for w, n, k, _, kind in gemms if kind == "dense" and {n, k} == {float(d), float(lat)}]
    assert sorted(latent) == [(float(lat), float(d)), (float(d), float(lat))]


def test_latent_moe_needs_moe_and_a_narrower_latent():
    base = get_model("nemotron-3-super").model_dump()
    with pytest.raises(ValueError, match="cannot exceed d_model"):
        ModelSpec(**{**base, "moe_latent_dim": 8192})
    with pytest.raises(ValueError, match="needs a mixture-of-experts"):
        _model(moe_latent_dim=1024)


def test_nano_2_holds_a_128k_context_on_one_a10g_where_an_all_attention_8b_cannot():
    """NVIDIA Nemotron Nano 2 was compressed for 128k-token inference on one A10G in BF16 (arXiv 2508.14444): its 4
    attention layers' KV cache and 27 fixed Mamba-2 states fit beside 17.8 GB of weights; Llama 3.1 8B's 32 layers of
    KV at that length do not."""
    base = dict(hardware="a10g", gpus=1, single_replica=True, weight_precision="bf16", engine="vllm",
                input_tokens=120_000, output_tokens=8_000)
    nano = estimate_serve(ServeRequest(model="nemotron-nano-9b-v2", **base))
    assert nano["feasible"] and nano["max_batch"] >= 1
    assert nano["memory_per_gpu_bytes"] <= nano["memory_usable_per_gpu_bytes"]
    llama = estimate_serve(ServeRequest(model="llama-3.1-8b", **base))
    assert not llama["feasible"]
