"""Physics a metamorphic sweep of `costsim serve` / `costsim train` found wrong (2026-12-07), each checked against the
mechanism: a prompt crosses pipeline stages one after another; a prompt is not split over data-parallel attention
ranks; a speculative step's wall time is not its per-token share; a part whose FP8 rate equals its BF16 rate gains
nothing from FP8; a LoRA run's GEMM efficiency counts the FLOPs it runs; a run shorter than the checkpoint interval
writes one checkpoint; llama.cpp runs its own weight formats."""

from __future__ import annotations

import dataclasses

import pytest

from costsim.core import goodput as gp
from costsim.core import inference as core
from costsim.core import training as T
from costsim.core.calibration import FP8_FRAC_RATIO, matmul_frac
from costsim.core.serving_curve import PREFILL_CHUNK_TOKENS, serving_curve
from costsim.errors import InputError
from costsim.estimators import training as est
from costsim.estimators.deployment import search_deployment, searched_precisions
from costsim.estimators.inference import core_inputs
from costsim.specs.catalog import get_accelerator, get_model, node_for
from costsim.specs.requests import TrainRequest


def _ci(model="llama-3.1-8b", hw="h100-sxm", wp="bf16", engine="default"):
    return core_inputs(get_model(model), get_accelerator(hw), wp, None, engine)


def test_one_prompt_crosses_the_pipeline_stages_one_after_another():
    ci = _ci()
    ttft = lambda pp, tokens: float(serving_curve(ci.shape, ci.dev, ci.prec, core.Layout(tp=1, pp=pp, ep=1), 1.0,
                                                 tokens, 128)["ttft_s"])
    # one chunk: eight stages in turn are no faster than one GPU (plus the hand-offs), never 8x faster
    assert ttft(8, 4096) >= ttft(1, 4096)
    # many chunks overlap in the pipeline: the prompt's per-stage time plus pp - 1 times its slowest chunk's (a flow shop's
    # makespan), the last chunk, which attends to the whole prompt: more than the (n + pp - 1) / n of equal chunks
    from costsim.core.serving_curve import largest_chunk_stage_s

    n = 8
    long = n * PREFILL_CHUNK_TOKENS
    lay = core.Layout(tp=1, pp=8, ep=1)
    stage = float(core.prefill_time_s(ci.shape, ci.dev, ci.prec, lay, 1.0, long))
    last = float(largest_chunk_stage_s(ci.shape, ci.dev, ci.prec, lay, long))
    prev = float(core.prefill_time_s(ci.shape, ci.dev, ci.prec, lay, 1.0, long - PREFILL_CHUNK_TOKENS))
    assert last == pytest.approx(stage - prev, rel=1e-9) and last > stage / n
    assert ttft(8, long) == pytest.approx(stage + 7 * last) and ttft(8, long) > stage * (n + 7) / n


def test_a_slot_waits_for_its_own_prompt_to_cross_the_pipeline_when_few_sequences_run():
    # TP2 x PP4, 2,048-token prompts, 256 output tokens: with fewer sequences than stages the pipeline idles while a
    # prompt passes it, so a slot's cycle is its prompt's four-stage trip plus its steps, not one stage's prefill
    from costsim.core.serving_curve import largest_chunk_stage_s

    ci = _ci("llama-3.1-70b", "h100-sxm")
    lay = core.Layout(tp=2, pp=4, ep=1)
    pre1 = float(core.prefill_time_s(ci.shape, ci.dev, ci.prec, lay, 1.0, 2048))
    trip = pre1 + 3.0 * float(largest_chunk_stage_s(ci.shape, ci.dev, ci.prec, lay, 2048))
    req = lambda b: (ci.dev.request_overhead_s or 0.0) * b / 256  # host work to admit and retire requests
    for b in (1.0, 2.0, 3.0):
        c = serving_curve(ci.shape, ci.dev, ci.prec, lay, b, 2048, 256)
        assert float(c["tpot_s"]) == pytest.approx(float(c["decode_step_time_s"]) + trip / 256 + req(b), rel=1e-9)
        assert float(c["throughput_tokens_per_s"]) < b / (float(c["decode_step_time_s"]) + b * pre1 / 256 + req(b))
    # from pp sequences on, the stages' work for the admitted prompts is the bound again, continuous at b = pp
    c8 = serving_curve(ci.shape, ci.dev, ci.prec, lay, 8.0, 2048, 256)
    assert float(c8["tpot_s"]) == pytest.approx(float(c8["decode_step_time_s"]) + float(c8["prefill_time_s"]) / 256
                                                + req(8.0), rel=1e-9)
    # the estimate's accounting cycle (energy, cost) is the same cycle: its tokens over its time are the throughput
    from costsim.api.serve import serve
    from costsim.specs.requests import ServeRequest

    r = serve(ServeRequest(model="llama-3.1-70b", hardware="h100-sxm", gpus=8, tp=2, pp=4, batch=2, single_replica=True,
                           input_tokens=2048, output_tokens=256))
    period = r["accounting_period"]
    assert period["output_tokens"] / period["wall_time_s"] == pytest.approx(r["throughput_tokens_per_s"], rel=1e-9)
    # no pipeline, no change: one prompt's prefill is part of the batch's
    c1 = serving_curve(ci.shape, ci.dev, ci.prec, core.Layout(tp=8, pp=1, ep=1), 2.0, 2048, 256)
    assert float(c1["tpot_s"]) == pytest.approx(float(c1["decode_step_time_s"]) + float(c1["prefill_time_s"]) / 256
                                                + req(2.0), rel=1e-9)


def test_a_lone_prompt_is_not_split_over_the_data_parallel_attention_ranks():
    ci = _ci("qwen3-30b-a3b", "h200")
    pre = lambda ep, b: core.prefill_breakdown(ci.shape, ci.dev, ci.prec, core.Layout(tp=1, pp=1, ep=ep), b, 8192)
    # the attention of one prompt runs on one rank whatever ep is; with a prompt per rank it splits evenly
    assert float(pre(8, 1.0)["attention_s"]) == pytest.approx(float(pre(1, 1.0)["attention_s"]), rel=1e-9)
    assert float(pre(8, 8.0)["attention_s"]) == pytest.approx(float(pre(1, 1.0)["attention_s"]), rel=1e-9)
    # decode: one sequence on the busiest rank, not an eighth of one
    d1 = core.decode_step_breakdown(ci.shape, ci.dev, ci.prec, core.Layout(tp=1, pp=1, ep=8), 1.0, 4096.0)
    d8 = core.decode_step_breakdown(ci.shape, ci.dev, ci.prec, core.Layout(tp=1, pp=1, ep=8), 8.0, 4096.0)
    assert float(d1["step_time_s"]) <= float(d8["step_time_s"])
    assert float(d1["attention_s"]) == pytest.approx(float(d8["attention_s"]), rel=1e-6)


def test_the_wait_for_a_speculative_step_is_its_whole_wall_time():
    ci = _ci()
    lay = core.Layout(tp=1, pp=1, ep=1)
    # 128 sequences of 256 output tokens admit half a prompt per step: the new prompt's own prefill is the longer wait
    # (at batch 512 two prompts are admitted per step and prefilled together: test_request_edges)
    plain = serving_curve(ci.shape, ci.dev, ci.prec, lay, 128.0, 512, 256)
    spec_shape = dataclasses.replace(ci.shape, spec_tokens=4.0, spec_tokens_per_step=3.0)
    spec = serving_curve(spec_shape, ci.dev, ci.prec, lay, 128.0, 512, 256)
    pre1 = float(core.prefill_time_s(ci.shape, ci.dev, ci.prec, lay, 1.0, 512))
    # the running step a new prompt waits for lasts tokens-per-step x the per-token time
    assert float(spec["ttft_s"]) == pytest.approx(pre1 + 3.0 * float(spec["decode_step_time_s"]), rel=1e-9)
    assert float(plain["ttft_s"]) == pytest.approx(pre1 + float(plain["decode_step_time_s"]), rel=1e-9)


def test_fp8_gains_only_what_the_part_rates_it():
    # H100: FP8 twice BF16 on the datasheet, the measured wall-clock gain 2 x FP8_FRAC_RATIO
    h = get_accelerator("h100-sxm")
    f16, f8 = h.peak_flop_per_s("bf16"), h.peak_flop_per_s("fp8")
    gain = matmul_frac(h.id, "fp8", f8, f16) * f8 / (matmul_frac(h.id, "bf16", f16, f16) * f16)
    assert gain == pytest.approx(f8 / f16 * FP8_FRAC_RATIO, rel=1e-9)
    # Gaudi 3: 1,835 TFLOP/s in both; FP8 GEMMs are no faster (and a stack would not run them slower)
    g = get_accelerator("gaudi3")
    assert g.peak_flop_per_s("fp8") == g.peak_flop_per_s("bf16")
    req = dict(model="llama-3.1-70b", hardware="gaudi3", gpus=32, tokens=1e9, tp=8, pp=4, cp=1, micro_batch=1,
               global_batch=16, top_k=1)
    s8 = est.estimate(TrainRequest(**req, precision="fp8"))["step_time_s"]
    s16 = est.estimate(TrainRequest(**req, precision="bf16"))["step_time_s"]
    assert s8 == pytest.approx(s16, rel=0.02)


def test_a_lora_runs_gemm_efficiency_counts_the_flops_it_runs():
    spec, acc = get_model("llama-3.1-70b"), get_accelerator("tpu-v5p")
    ms, hs = est.model_shape(spec), est.hardware_shape(acc, node_for(acc), "bf16")
    lay = T.Layout.of(tp=8, pp=1, cp=1, ep=1, dp=2, vp=1, micro_batch=1, recompute=0, zero=1, sequence_parallel=1,
                      seq_len=4096, global_batch=16)
    full = float(T.evaluate(ms, hs, lay)["matmul_efficiency_frac"])
    lora = float(T.evaluate(dataclasses.replace(ms, lora_rank=16), hs, lay)["matmul_efficiency_frac"])
    assert 0.0 < lora <= 1.0 and 0.0 < full <= 1.0
    assert lora == pytest.approx(full, rel=0.15)  # the same GEMM kernels, less the weight gradients


def test_a_run_shorter_than_the_checkpoint_interval_writes_one_checkpoint():
    long = gp.goodput(2e-5, 8, 60.0, 600.0)
    short = gp.goodput(2e-5, 8, 60.0, 600.0, run_compute_s=3600.0)
    assert float(long["checkpoint_interval_s"]) > 3600.0
    assert float(short["checkpoint_interval_s"]) == 3600.0
    assert float(short["checkpoint_overhead_frac"]) == pytest.approx(60.0 / 3600.0)
    assert float(short["loss_per_failure_s"]) == pytest.approx(600.0 + (3600.0 + 60.0) / 2.0)
    # a run far longer than the interval is unchanged
    huge = gp.goodput(2e-5, 8, 60.0, 600.0, run_compute_s=1e9)
    assert float(huge["goodput_frac"]) == pytest.approx(float(long["goodput_frac"]))


def test_llama_cpp_runs_its_own_weight_formats():
    acc, m = get_accelerator("mi300x"), get_model("llama-3.1-8b")
    assert searched_precisions(acc, m, "llama.cpp") == ["bf16", "q8_0", "q4_0"]
    assert "fp8" in searched_precisions(acc, m)
    best = search_deployment(m, acc, 8, input_tokens=512, output_tokens=256, engine="llama.cpp").chosen
    assert best.weight_precision in ("bf16", "q8_0", "q4_0")
    with pytest.raises(InputError) as e:
        core_inputs(m, acc, "fp8", None, "llama.cpp")
    assert e.value.field == "weight_precision"
    assert searched_precisions(get_accelerator("b200"), get_model("gpt-oss-20b"), "llama.cpp")[-1] == "mxfp4"


def test_an_infeasible_search_names_the_memory_limit_beside_the_memory_rejections():
    res = search_deployment(get_model("llama-3.1-70b"), get_accelerator("h100-sxm"), 16, input_tokens=512, output_tokens=256,
                            ttft_slo_s=0.01)
    assert not res.feasible
    mem = res.reason.index("does not fit memory")
    assert res.reason.index("the leanest layout") > mem
    assert res.reason.index("the leanest layout") < res.reason.index("misses the SLOs")
