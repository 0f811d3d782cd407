"""Training at scale (issue 14): sharded data parallelism, scaling direction, framework presets,
non-FlashAttention score traffic, FP4, what a layout relies on, and the held-out validation targets."""

from __future__ import annotations

import statistics

import numpy as np
import pytest

from costsim.core import training as T
from costsim.core.frameworks import FRAMEWORKS
from costsim.errors import InputError
from costsim.estimators import training as est
from costsim.estimators.training import hardware_shape, model_shape
from costsim.specs.catalog import get_accelerator, node_for
from costsim.specs.requests import TrainRequest


def _gpt(L, d, H):
    from costsim.specs.model import ModelSpec
    return ModelSpec(name="gpt", n_layers=L, d_model=d, n_heads=H, d_ff=4 * d, ffn_type="gelu", vocab_size=51200,
                     max_context=2048, learned_positions=True, norm="layernorm", linear_bias=True)


@pytest.fixture(scope="module")
def gpt175_a100():
    acc = get_accelerator("a100-80gb-sxm")
    return model_shape(_gpt(96, 12288, 96)), hardware_shape(acc, node_for(acc), "fp16")


def _lay(**kw):
    base = dict(tp=8, pp=1, cp=1, ep=1, dp=1, vp=1, micro_batch=1, recompute=2, zero=1, sequence_parallel=0,
                seq_len=2048, global_batch=8)
    base.update(kw)
    return T.Layout.of(**base)


def test_zero3_pays_per_micro_batch_gathers_when_batch_per_gpu_is_small(gpt175_a100):
    """ZeRO-3 without TP on 1,536 A100 at one sequence per GPU: gathering all weights twice and
    reduce-scattering all gradients every step dominates (Narayanan et al. 2021 Table 2: 44 TFLOP/s)."""
    ms, hs = gpt175_a100
    fw = FRAMEWORKS["deepspeed-zero3-2021"]
    lay = _lay(tp=1, dp=1536, global_batch=1536, zero=3)
    ev = T.evaluate(ms, hs, lay, fw)
    assert float(ev["dp_exposed_time_s"]) > float(ev["compute_time_s"])
    more = T.evaluate(ms, hs, _lay(tp=1, dp=384, micro_batch=4, global_batch=1536, zero=3), fw)
    # 4x the compute per GPU per step hides more of the same traffic: per-GPU throughput rises
    assert float(more["mfu_frac"]) > 1.5 * float(ev["mfu_frac"])


def test_zero2_and_3_are_not_free(gpt175_a100):
    """With several micro-batches ZeRO-2 reduce-scatters and ZeRO-3 also gathers every micro-batch: never
    faster than ZeRO-1, which reduces once per step."""
    ms, hs = gpt175_a100
    fw = FRAMEWORKS["megatron-core-2024"]
    t = [float(T.step_time(ms, hs, _lay(pp=8, dp=16, global_batch=512, zero=z, sequence_parallel=1, recompute=1), fw)
               ["step_time_s"]) for z in (1, 2, 3)]
    assert t[0] <= t[1] <= t[2] and t[2] > 1.01 * t[0]


def test_scaling_direction_405b_fixed_layout():
    """Llama 3 Table 4: 8,192 -> 16,384 H100 at TP8 CP1 PP16 goes 430 -> 400 TFLOP/s per GPU (0.930).
    The model must not rise and must be within +-5% of that ratio."""
    rates = []
    for g in (8192, 16384):
        req = TrainRequest(model="llama-3.1-405b", hardware="h100-sxm", gpus=g, seq_len=8192, global_batch=2048,
                           tp=8, pp=16, cp=1, tokens=1e12, top_k=1)
        r = est.estimate(req)
        rates.append(r["achieved_flop_per_s_per_gpu"])
    ratio = rates[1] / rates[0]
    assert ratio <= 1.0
    assert abs(ratio / (400 / 430) - 1.0) <= 0.05


def test_framework_limits_the_search():
    req = TrainRequest(model="gpt-3-175b", hardware="a100-80gb-sxm", gpus=1024, seq_len=2048, global_batch=1536,
                       precision="fp16", framework="megatron-2021", top_k=50, tokens=1e11)
    *_, res = est.run_search(req)
    lay = res["layout"]
    order = res["order"]
    assert order.size > 0
    assert set(np.unique(lay.recompute[order])) <= {0.0, 2.0}  # no selective recomputation in 2021
    assert set(np.unique(lay.zero[order])) == {0.0} and set(np.unique(lay.cp[order])) == {1.0}
    with pytest.raises(InputError) as e:
        est.run_search(req.model_copy(update={"recompute": "selective"}))
    assert e.value.field == "recompute" and "megatron-2021" in str(e.value)
    with pytest.raises(InputError) as e:
        est.run_search(req.model_copy(update={"framework": "magic-2030"}))
    assert e.value.field == "framework"


def test_without_flash_attention_scores_cost_hbm_traffic(gpt175_a100):
    ms, hs = gpt175_a100
    lay = _lay(micro_batch=4)
    fa = float(T.step_time(ms, hs, lay, FRAMEWORKS["megatron-core-2024"])["compute_time_s"])
    nofa = T.FRAMEWORKS["megatron-core-2024"].__class__(**{**FRAMEWORKS["megatron-core-2024"].__dict__, "flash_attention": False})
    assert float(T.step_time(ms, hs, lay, nofa)["compute_time_s"]) > fa


def test_sequence_parallel_saves_little_as_measured():
    """Korthikanti et al. 2022 Table 4 (22B layer, tp 8): sequence parallelism 19.6 -> 19.0 ms (-3%)."""
    acc = get_accelerator("a100-80gb-sxm")
    ms = model_shape(_gpt(48, 6144, 64))
    hs = hardware_shape(acc, node_for(acc), "fp16")
    fw = FRAMEWORKS["megatron-2022"]
    t = [float(T.step_time(ms, hs, _lay(micro_batch=4, global_batch=4, recompute=0, sequence_parallel=s), fw)
               ["compute_time_s"]) for s in (0, 1)]
    assert 0.0 < 1.0 - t[1] / t[0] < 0.06


def test_fp4_training_on_blackwell_and_refused_elsewhere():
    base = dict(model="llama-3-70b", gpus=512, seq_len=8192, tokens=1e12, top_k=1)
    step = {p: est.estimate(TrainRequest(hardware="b200", precision=p, **base))["step_time_s"] for p in ("bf16", "fp8", "fp4")}
    assert step["fp4"] < step["fp8"] < step["bf16"]
    assert step["fp8"] / step["fp4"] < 1.6  # quantization traffic, bf16 attention, embeddings and LM head: far from 2x
    with pytest.raises(InputError) as e:
        est.estimate(TrainRequest(hardware="h100-sxm", precision="fp4", **base))
    assert e.value.field == "precision" and "FP4" in str(e.value)


def test_layout_requires_names_what_an_older_stack_lacked():
    req = TrainRequest(model="llama-3.1-405b", hardware="h100-sxm", gpus=2048, seq_len=8192, global_batch=512,
                       tp=8, pp=8, cp=2, tokens=1e12, top_k=1)
    r = est.estimate(req)
    feats = [q["feature"] for q in r["layout_requires"]]
    assert any("context parallelism" in f for f in feats) and any("FlashAttention" in f for f in feats)
    assert "could not use it" in r["layout_note"]
    old = est.estimate(req.model_copy(update={"model": "llama-3-8b", "framework": "megatron-2021", "cp": 1,
                                              "precision": "fp16"}))
    assert old["feasible"] and old["framework"] == "megatron-2021"
    assert not any("context" in q["feature"] or "FlashAttention" in q["feature"] for q in old["layout_requires"])


@pytest.mark.slow
def _held_out_training_step_results():
    from costsim.validation.engine import load_cases, run_cases

    cases = [c for c in load_cases() if c.kind == "training_step_time" and not c.used_for_fit]
    return cases, run_cases(cases)


def test_xla_selective_keeps_only_the_matmul_outputs_the_backward_needs():
    """MaxText remat_policy 'minimal' (checkpoint_dots_with_no_batch_dims): the layer input and the Q, K, V, attention
    output projection and FFN up outputs, all over the tensor axis -- far less than Megatron's selective layout, so the
    MaxText 32B v5p-128 run (8 sequences of 2,048 per chip, TP 4) fits the v5p's 95 GiB."""
    from costsim.core.training_memory import activation_bytes_per_layer, memory_per_gpu
    from costsim.core.training_shapes import Layout
    from costsim.specs.model import ModelSpec

    spec = ModelSpec(id="maxtext-32b", name="MaxText 32B", n_layers=32, d_model=10240, n_heads=32, n_kv_heads=32,
                     head_dim=256, d_ff=32768, ffn_type="relu", vocab_size=32768, max_context=2048, norm="rmsnorm",
                     tied_embeddings=True, sources=["google/maxtext 76bd53b0 base.yml scaled by global_parameter_scale 32"])
    m = model_shape(spec)
    lay = Layout.of(tp=4, pp=1, cp=1, ep=1, dp=16, vp=1, micro_batch=32, recompute=1, zero=3, sequence_parallel=1,
                    seq_len=2048, global_batch=512)
    xla, meg = FRAMEWORKS["xla-tpu"], FRAMEWORKS["megatron-core-2024"]
    saved_xla = float(activation_bytes_per_layer(m, lay, xla)[0])
    tokens = 32 * 2048
    assert saved_xla == pytest.approx(2.0 * tokens * (2 * 10240 + 3 * 32 * 256 + 32768) / 4)
    assert float(activation_bytes_per_layer(m, lay, meg)[0]) > 1.6 * saved_xla
    # without remat XLA keeps every residual (norm outputs, activations, attention output): more than 'minimal'
    no_remat = Layout.of(**{**{k: getattr(lay, k) for k in lay.__dataclass_fields__}, "recompute": 0})
    assert float(activation_bytes_per_layer(m, no_remat, xla)[0]) > 1.6 * saved_xla
    cap = get_accelerator("tpu-v5p").memory_bytes
    v5p = 64.0  # chips in one v5p-128 slice: FSDP shards over all of them
    assert float(memory_per_gpu(m, lay, xla, domain_size=v5p)["total_bytes"]) < cap
    assert float(memory_per_gpu(m, lay, meg, domain_size=v5p)["total_bytes"]) > cap


def test_held_out_training_step_targets():
    """Issue 14: held-out median |error| <= 10% for training step time / throughput; every held-out case beyond
    30 % is a recorded known gap with its cause (the strict bar is the xfail below)."""
    cases, res = _held_out_training_step_results()
    gap = {c.id: c.known_gap for c in cases}
    # every held-out case gets a prediction or is a recorded known gap naming why costsim cannot price it (the MaxText
    # v5p 'minimal'-remat rows did not fit until XLA's saved-dots activation layout was modelled, AXLearn's 70B on
    # Trainium2 until activation offload; Habana's Llama 3.1 70B recipe still does not fit costsim's memory accounting)
    unpriced = [(r.id, r.message) for r in res if r.error_frac is None and not gap.get(r.id)]
    assert not unpriced, f"held-out training cases without a prediction or a recorded cause: {unpriced}"
    assert sum(r.error_frac is None for r in res) <= 2
    priced = [r for r in res if r.error_frac is not None]
    errs = [abs(r.error_frac) for r in priced]
    assert len(errs) >= 40
    assert statistics.median(errs) <= 0.10
    unexplained = [(r.id, round(r.error_frac, 3)) for r in priced if abs(r.error_frac) > 0.30 and not gap.get(r.id)]
    assert not unexplained, f"held-out training cases beyond 30 % without a recorded cause: {unexplained}"


@pytest.mark.xfail(strict=True, reason="KNOWN GAP, issue 14 bar 'no held-out case worse than 30 %': MoE rows of "
                   "software releases that ran far below their hardware (three DGX Cloud DeepSeek-V3 rows on GB200, NeMo "
                   "25.04 at 10 % MFU in BF16; gpt-oss on GB200 through cuDNN's sink attention, -32 % with its "
                   "host-launched FP8 experts priced), two MLPerf v5.1 NVIDIA "
                   "GB200 / GB300 rows at 512 GPUs with context parallel 4 (-39 / -41 % with their configured data-parallel "
                   "buckets: ~0.03 s per step not priced, cause not identified) and two TorchTitan rows "
                   "with context parallel 4 / 8 at 128K / 256K tokens (-30 / -33 %); and the other vendors' rows added in "
                   "issue 14's last round: Habana's Llama 3.1 8B recipe on 8 Gaudi 2 (-37 %, cause not identified), AWS "
                   "Trainium2 (AXLearn's 7B -32 % with the Trainium GEMM fraction fitted on a Trn1 row) and one recipe "
                   "(Habana's Llama 3.1 70B) that does not fit costsim's memory accounting; and MaxText's mixture-of-experts recipes on TPU7x, v5p "
                   "and v6e (DeepSeek-V3, Qwen3-235B, gpt-oss-120b, Llama 4 Maverick, Mixtral: -31 to -65 %, growing with "
                   "total over active parameters, i.e. with the FSDP gathers of every expert per layer; "
                   "training_maxtext_tpu7x.yaml); and MLPerf Training v6.0: DeepSeek-V3 on GB200 at 2,048-8,192 GPUs "
                   "(-37 to -50 %, GB200 slower per FLOP than GB300 beyond costsim's equal MXFP8 rates and a per-step "
                   "cost growing with scale, while the GB300 rows agree within 12 %) and the Llama 3.1 8B context-parallel "
                   "rows at 512 / 1,024 GPUs (-33 / -55 %, as in v5.1) and gpt-oss-20b on 512 GB300 "
                   "(context parallel 4, one micro-batch a step, -35 %), and gpt-oss-20b on eight HGX B300 nodes "
                   "(+37 %: data-parallel traffic at Megatron-core's default buckets, the run's own not known); and MLPerf's Llama 2 70B "
                   "LoRA on two MI350X nodes with context parallel 2 (-30 %: 1.41x the per-GPU ideal where NVIDIA's context-parallel-2 "
                   "LoRA rows agree; ROCm's context-parallel attention, not measured); and torchtune's Llama 3.1 8B LoRA on one "
                   "RTX 4090 (+39 % step time: the published rate is 90 % of the card's BF16 peak in the FLOPs its "
                   "checkpointed step runs); causes in costsim/validation/cases/training_megatron_bridge.yaml, "
                   "training_dgxc.yaml, training_mlperf51.yaml, training_mlperf60.yaml, training_mlperf_lora.yaml, "
                   "training_torchtitan.yaml, training_torchtune.yaml and training_other_vendors.yaml")
def test_no_held_out_training_step_case_beyond_30_percent():
    _, res = _held_out_training_step_results()
    assert all(r.error_frac is not None for r in res), "held-out cases costsim cannot price count as misses"
    assert max(abs(r.error_frac) for r in res) <= 0.30


def test_framework_names_in_request_spec_match_presets():
    import typing

    from costsim.specs.requests import FrameworkName
    assert list(typing.get_args(FrameworkName)) == list(FRAMEWORKS)


@pytest.mark.slow
def test_fits_reproduce_the_constants_in_use():
    """The joint step-model fit, on its own cases only (the MAMF, TorchTitan, host-launched MoE and Trainium rows fit
    their own parameters), returns the constants costsim runs with; so do TorchTitan's AsyncTP exposure, the
    host-launched expert MLPs' wait and Trainium's GEMM fraction."""
    from costsim.core import calibration, training
    from costsim.validation.training import fit, fit_torchtitan_tp

    saved = (dict(calibration.MATMUL_FRAC), dict(calibration.TRAINING_SUSTAINED_FRAC), training.ELEMENTWISE_BYTES_PER_D,
             training.COMM_OVERLAP_SLOWDOWN_FRAC, FRAMEWORKS["deepspeed-megatron-2021"])
    try:
        p = fit()["parameters"]
    finally:
        (mf, sf, training.ELEMENTWISE_BYTES_PER_D, training.COMM_OVERLAP_SLOWDOWN_FRAC,
         FRAMEWORKS["deepspeed-megatron-2021"]) = saved
        calibration.MATMUL_FRAC.clear(), calibration.MATMUL_FRAC.update(mf)
        calibration.TRAINING_SUSTAINED_FRAC.clear(), calibration.TRAINING_SUSTAINED_FRAC.update(sf)
    assert p["MATMUL_FRAC[a100]"] == pytest.approx(calibration.MATMUL_FRAC["a100"], rel=0.01)
    assert p["MATMUL_FRAC[tpu]"] == pytest.approx(calibration.MATMUL_FRAC["tpu"], rel=0.01)
    assert p["TRAINING_SUSTAINED_FRAC[h100]"] == pytest.approx(calibration.TRAINING_SUSTAINED_FRAC["h100"], rel=0.01)
    assert p["ELEMENTWISE_BYTES_PER_D"] == pytest.approx(calibration.ELEMENTWISE_BYTES_PER_D, rel=0.01)
    assert p["COMM_OVERLAP_SLOWDOWN_FRAC"] == pytest.approx(calibration.COMM_OVERLAP_SLOWDOWN_FRAC, rel=0.01)
    assert fit_torchtitan_tp()["torchtitan-2024.tp_comm_exposed_frac"] == pytest.approx(
        FRAMEWORKS["torchtitan-2024"].tp_comm_exposed_frac, abs=0.01)
    from costsim.validation.training import fit_moe_host_launch, fit_trainium
    assert fit_moe_host_launch()["MOE_HOST_LAUNCH_S_PER_LOCAL_EXPERT_LOWP"] == pytest.approx(
        calibration.MOE_HOST_LAUNCH_S_PER_LOCAL_EXPERT_LOWP, rel=0.01)
    assert fit_trainium()["MATMUL_FRAC[trainium]"] == pytest.approx(calibration.MATMUL_FRAC["trainium"], rel=0.01)


def test_moe_parallel_folding_places_experts_across_tensor_parallel_ranks():
    """DeepSeek-V3 on 1,024 H100s as NVIDIA's DGX Cloud recipe runs it (TP 2, PP 16, EP 64, expert TP 1): EP 64 exceeds
    dp = 32, which only MoE parallel folding allows. The search finds it with etp 1 (and not with etp = tp), each expert
    whole on one GPU: twice the expert parameters per GPU of etp 2, the same expert FLOPs per GPU."""
    req = TrainRequest(model="deepseek-v3", hardware="h100-sxm", gpus=1024, seq_len=4096, global_batch=8192, tp=2, pp=16,
                       cp=1, ep=64, vp=1, micro_batch=1, tokens=1e12)
    r = est.estimate(req)
    assert r["feasible"] and r["parallelism"]["etp"] == 1 and r["parallelism"]["ep"] == 64
    assert any("MoE parallel folding" in f["feature"] for f in r["layout_requires"])
    # etp = tp cannot hold EP 64 in 32 data-parallel ranks: refused naming the rule and the way out
    with pytest.raises(InputError) as e:
        est.estimate(req.model_copy(update={"etp": 2}))
    assert e.value.field == "ep" and "dp = gpus / (tp x pp x cp) = 32" in str(e.value) and "--etp 1" in str(e.value)
    # a stack without folding refuses an expert TP below tp
    with pytest.raises(InputError) as e:
        est.estimate(req.model_copy(update={"etp": 1, "ep": 16, "framework": "xla-tpu", "hardware": "tpu-v5p"}))
    assert e.value.field == "etp" and "folding" in str(e.value)
    # core: per-GPU expert parameters follow etp x ep, expert GEMM FLOPs per GPU do not change
    from costsim.specs.catalog import get_model

    spec = get_model("deepseek-v3")
    m = model_shape(spec)
    base = dict(tp=2, pp=16, cp=1, ep=32, dp=32, vp=1, micro_batch=1, recompute=0, zero=1, sequence_parallel=1,
                seq_len=4096, global_batch=8192)
    _, e_tp = T.params_per_device(m, T.Layout.of(**base))
    _, e_1 = T.params_per_device(m, T.Layout.of(**base, etp=1))
    assert float(e_1) == pytest.approx(2.0 * float(e_tp))
    assert spec.is_moe
    acc = get_accelerator("h100-sxm")
    hw = hardware_shape(acc, node_for(acc), "bf16")
    f_tp, _ = T.linear_layer_times(m, hw, 4096.0, 2.0, 32.0)
    f_1, _ = T.linear_layer_times(m, hw, 4096.0, 2.0, 32.0, 1.0)
    assert float(f_1) == pytest.approx(float(f_tp), rel=0.15)  # same FLOPs, different GEMM shapes
    # etp equal to tp is today's layout, to the bit
    ev0 = T.evaluate(m, hw, T.Layout.of(**base))
    ev2 = T.evaluate(m, hw, T.Layout.of(**base, etp=2))
    assert float(ev0["step_time_s"]) == float(ev2["step_time_s"])
    assert float(ev0["memory_per_gpu_bytes"]) == float(ev2["memory_per_gpu_bytes"])


def test_etp_flag_is_checked():
    base = dict(hardware="h100-sxm", gpus=64, seq_len=4096, tokens=1e11)
    with pytest.raises(InputError) as e:
        est.estimate(TrainRequest(model="llama-3-8b", etp=1, **base))
    assert e.value.field == "etp" and "dense" in str(e.value)
    with pytest.raises(InputError) as e:
        est.estimate(TrainRequest(model="mixtral-8x7b", tp=4, etp=3, **base))
    assert e.value.field == "etp" and "divide" in str(e.value)


def test_expert_all_to_all_overlap_hides_dispatch_behind_the_paired_micro_batch():
    """Megatron-core's overlap_moe_expert_parallel_comm: a MoE layer's all-to-all runs while the other micro-batch of a
    forward/backward pair computes. Qwen3-30B-A3B on 16 H100s (EP 16 over two nodes, the all-to-all longer than the
    compute): on is faster, by less than the all-to-all it hides (what exceeds the compute stays exposed and the GEMMs
    slow while both run); the total all-to-all time is the same; the search tries it; the flag is checked."""
    base = TrainRequest(model="qwen3-30b-a3b", hardware="h100-sxm", gpus=16, seq_len=4096, global_batch=1024,
                        precision="bf16", tp=1, pp=1, cp=1, ep=16, micro_batch=1, tokens=1e11)
    off = est.estimate(base.model_copy(update={"ep_overlap": False}))
    on = est.estimate(base.model_copy(update={"ep_overlap": True}))
    b_off, b_on = off["breakdowns"]["step_time_s"], on["breakdowns"]["step_time_s"]
    assert b_on["ep_comm_time_s"] == pytest.approx(b_off["ep_comm_time_s"])
    saved = off["step_time_s"] - on["step_time_s"]
    assert 0.0 < saved < b_off["ep_comm_time_s"]
    assert on["parallelism"]["ep_overlap"] is True and off["parallelism"]["ep_overlap"] is False
    assert est.estimate(base)["parallelism"]["ep_overlap"] is True  # searched: the faster one
    with pytest.raises(InputError) as e:
        est.estimate(base.model_copy(update={"ep_overlap": True, "recompute": "full"}))
    assert e.value.field == "ep_overlap" and "full" in str(e.value)
    with pytest.raises(InputError) as e:
        est.estimate(base.model_copy(update={"ep_overlap": True, "ep": 1}))
    assert e.value.field == "ep_overlap"
    with pytest.raises(InputError) as e:
        est.estimate(TrainRequest(model="llama-3-8b", hardware="h100-sxm", gpus=8, tokens=1e10, ep_overlap=True))
    assert e.value.field == "ep_overlap" and "dense" in str(e.value)


def test_deduplicated_expert_dispatch_cuts_cross_node_all_to_all():
    """--ep-dispatcher deduplicated (DeepEP / HybridEP): Qwen3-30B-A3B with EP 16 over two H100 nodes spends less on
    the expert all-to-all and steps faster than with the plain all-to-all; with EP 8 inside one node nothing changes;
    the stack default is the plain all-to-all; the layout says it relies on the dispatcher; dense models refuse it."""
    base = TrainRequest(model="qwen3-30b-a3b", hardware="h100-sxm", gpus=16, seq_len=4096, global_batch=1024,
                        precision="bf16", tp=1, pp=1, cp=1, ep=16, micro_batch=1, ep_overlap=False, tokens=1e11)
    plain = est.estimate(base.model_copy(update={"ep_dispatcher": "all-to-all"}))
    dedup = est.estimate(base.model_copy(update={"ep_dispatcher": "deduplicated"}))
    ep_plain, ep_dedup = (r["breakdowns"]["step_time_s"]["ep_comm_time_s"] for r in (plain, dedup))
    assert ep_dedup < 0.5 * ep_plain
    assert dedup["step_time_s"] < plain["step_time_s"] - 0.5 * (ep_plain - ep_dedup)
    assert est.estimate(base)["step_time_s"] == pytest.approx(plain["step_time_s"])
    assert any("deduplicated" in r["feature"] for r in dedup["layout_requires"])
    assert not any("deduplicated" in r["feature"] for r in plain["layout_requires"])
    one_node = base.model_copy(update={"gpus": 8, "ep": 8, "global_batch": 512})
    a, b = (est.estimate(one_node.model_copy(update={"ep_dispatcher": d})) for d in ("all-to-all", "deduplicated"))
    assert a["step_time_s"] == pytest.approx(b["step_time_s"])
    with pytest.raises(InputError) as e:
        est.estimate(TrainRequest(model="llama-3-8b", hardware="h100-sxm", gpus=8, tokens=1e10, ep_dispatcher="deduplicated"))
    assert e.value.field == "ep_dispatcher" and "dense" in str(e.value)


def test_data_parallel_bucket_size_sets_the_number_of_collective_calls():
    """--dp-bucket-params: fewer, larger buckets pay the reduce-scatter / all-gather latency fewer times (Llama 3.1 8B
    with context parallel 2 on 16 B200 nodes: 33 calls a step at 2.43e8 parameters per bucket instead of Megatron's
    default 128M at dp x cp 128, ~63 calls); the bandwidth term is the same; the default is Megatron's; bounds checked."""
    base = TrainRequest(model="llama-3.1-8b", hardware="b200", gpus=128, seq_len=8192, global_batch=64, precision="fp8",
                        tp=1, pp=1, cp=2, dp=64, micro_batch=1, zero=1, recompute="none", sequence_parallel=False, tokens=1e11)
    default = est.estimate(base)
    explicit_default = est.estimate(base.model_copy(update={"dp_bucket_params": 128e6}))
    assert explicit_default["step_time_s"] == pytest.approx(default["step_time_s"])
    big = est.estimate(base.model_copy(update={"dp_bucket_params": 2.43e8}))
    one = est.estimate(base.model_copy(update={"dp_bucket_params": 1e10}))
    dp = [r["breakdowns"]["step_time_s"]["dp_comm_time_s"] for r in (default, big, one)]
    assert dp[0] > dp[1] > dp[2] > 0
    assert default["step_time_s"] > big["step_time_s"] > one["step_time_s"]
    rows = {a["name"]: a for a in big["assumptions"]}
    assert rows["dp_bucket_params"]["value"] == 2.43e8
    from pydantic import ValidationError
    with pytest.raises(ValidationError, match="dp_bucket_params"):
        TrainRequest(model="llama-3.1-8b", hardware="b200", gpus=8, dp_bucket_params=10)


def test_dropout_masks_cost_two_bytes_per_hidden_element_and_a_run_can_turn_them_off():
    """Megatron's defaults train with dropout (two 1-byte masks of s x h per layer, Korthikanti et al.); a run that sets
    dropout 0 (--no-dropout) keeps neither, and stacks whose scripts have no dropout (Habana's MLPerf GPT-3) default off."""
    base = dict(model="llama-3.1-70b", hardware="gaudi2", gpus=64, seq_len=8192, global_batch=128, precision="fp8", tp=8,
                pp=1, cp=1, dp=8, micro_batch=1, zero=1, recompute="selective", sequence_parallel=False, top_k=1, tokens=1e11)
    # on Gaudi 2's 98,304 MiB the masks decide whether the layout fits
    assert est.estimate(TrainRequest(**base))["feasible"] is False
    assert est.estimate(TrainRequest(**base, dropout=False))["feasible"] is True
    # unsharded optimizer state (zero 0): neither fits, and the refusals differ by the masks
    base = {**base, "zero": 0}
    masked_r, unmasked_r = est.estimate(TrainRequest(**base)), est.estimate(TrainRequest(**base, dropout=False))
    assert masked_r["feasible"] is False and unmasked_r["feasible"] is False

    def needs_gb(r):
        return float(r["reason"].split("needs ")[1].split(" GB")[0])
    # 80 layers x 2 masks x s x h bytes, replicated over tp without sequence parallelism: 10.7 GB
    assert needs_gb(masked_r) - needs_gb(unmasked_r) == pytest.approx(80 * 2 * 8192 * 8192 / 1e9, abs=0.15)
    assert "activations" in unmasked_r["reason"] and "optimizer" in unmasked_r["reason"]  # the refusal names the parts
    assert FRAMEWORKS["megatron-core-2024"].dropout_masks and not FRAMEWORKS["megatron-deepspeed-gaudi"].dropout_masks
    assert FRAMEWORKS["megatron-deepspeed-gaudi"].flash_attention and not FRAMEWORKS["megatron-deepspeed-gaudi"].interleaved_pipeline
    r = est.estimate(TrainRequest(**{**base, "zero": 1, "gpus": 128, "dp": 16, "global_batch": 256}, dropout=False))
    assert any(a["name"] == "dropout" and a["value"].startswith("no") and "request" in a["source"] for a in r["assumptions"])
