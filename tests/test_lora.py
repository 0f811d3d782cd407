"""LoRA fine-tuning (TrainRequest.lora_rank / lora_targets, CLI --lora-rank / --lora-targets): the frozen base takes no
weight-gradient GEMMs, gradient traffic or optimizer state; the adapters (r x (k + n) per adapted GEMM) train beside it
and are priced as their own skinny bf16 GEMMs. Checked against the physics, not against a fitted number."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from costsim.core import training as T
from costsim.core.training_shapes import lora_active_params_per_layer, lora_params_per_layer
from costsim.errors import InputError
from costsim.estimators import training as est
from costsim.specs.catalog import get_accelerator, get_model, node_for
from costsim.specs.requests import TrainRequest

LAY = dict(tp=4, pp=1, cp=1, ep=1, dp=2, vp=1, micro_batch=1, recompute=0, zero=1, sequence_parallel=1, seq_len=8192,
           global_batch=8)


def _shapes(model="llama-2-70b", hw="h100-sxm", precision="bf16"):
    spec, acc = get_model(model), get_accelerator(hw)
    return est.model_shape(spec), est.hardware_shape(acc, node_for(acc), precision)


def test_adapter_count_is_rank_times_in_plus_out_of_each_adapted_gemm():
    ms, _ = _shapes()
    lo = dataclasses.replace(ms, lora_rank=16)
    # Llama 2 70B: d 8192, GQA 64 / 8 heads of 128 -> fused QKV out 10,240; QKV (8192 -> 10240) + output (8192 -> 8192)
    per_layer = 16 * (8192 + 10240) + 16 * (8192 + 8192)
    assert lora_params_per_layer(lo) == (pytest.approx(per_layer), 0.0)
    assert est.trainable_params(lo) == pytest.approx(80 * per_layer)  # 44.6M
    assert est.trainable_params(ms) == ms.params_total
    # all-linear adds the FFN: gate+up (8192 -> 2 x 28672) and down (28672 -> 8192)
    full = dataclasses.replace(lo, lora_ffn=True)
    ffn = 16 * (8192 + 2 * 28672) + 16 * (28672 + 8192)
    assert lora_params_per_layer(full)[0] == pytest.approx(per_layer + ffn)
    assert lora_active_params_per_layer(full) == pytest.approx(per_layer + ffn)


def test_model_flops_drop_the_frozen_weight_gradients():
    ms, _ = _shapes()
    lo = dataclasses.replace(ms, lora_rank=16)
    attn = float(T.model_flop_per_token(ms, 8192)) - 6.0 * ms.n_mm_params
    expect = 4.0 * ms.n_mm_params + 6.0 * ms.n_layers * lora_active_params_per_layer(lo) + attn
    assert float(T.model_flop_per_token(lo, 8192)) == pytest.approx(expect)


def test_a_lora_step_is_shorter_with_no_gradient_traffic_or_optimizer_state():
    ms, hs = _shapes()
    lo = dataclasses.replace(ms, lora_rank=16)
    lay = T.Layout.of(**LAY)
    full, lora = T.evaluate(ms, hs, lay), T.evaluate(lo, hs, lay)
    # the frozen GEMMs lose their weight gradients (a third of the linear-layer work); attention, elementwise work and
    # the adapters remain, so the step falls, but by less than the linear layers' third
    ratio = float(lora["step_time_s"]) / float(full["step_time_s"])
    assert 0.6 < ratio < 0.9
    # data-parallel gradients and the optimizer step cover the 44.6M adapter parameters only
    assert float(lora["dp_comm_time_s"]) < 1e-3 * float(full["dp_comm_time_s"])
    assert float(lora["optimizer_time_s"]) < 1e-3 * float(full["optimizer_time_s"])
    m_full, m_lora = full["memory"], lora["memory"]
    assert float(m_lora["weights_bytes"]) == pytest.approx(float(m_full["weights_bytes"]), rel=0.01)
    adapters_per_gpu = est.trainable_params(lo) / 4  # tp 4, one pipeline stage
    assert float(m_lora["gradients_bytes"]) == pytest.approx(2.0 * adapters_per_gpu, rel=0.01)
    assert float(m_lora["optimizer_bytes"]) == pytest.approx(12.0 * adapters_per_gpu / 2, rel=0.01)  # ZeRO-1 over dp 2
    # the frozen FFN keeps no GEMM inputs: FC1's (h) and FC2's (d_ff) go, 2 bytes each, split over tp 4 with sequence
    # parallelism, for 8,192 tokens on 80 layers
    cut = 8192 * 80 * 2.0 * (8192 + 28672) / 4
    assert float(m_full["activations_bytes"]) - float(m_lora["activations_bytes"]) == pytest.approx(cut, rel=1e-6)
    # an fp8 LoRA run holds the frozen linear weights in fp8 (one byte), the embeddings, norms and LM head in bf16
    _, hs8 = _shapes(precision="fp8")
    w8 = float(T.evaluate(lo, hs8, lay)["memory"]["weights_bytes"])
    lin = ms.n_layers * (ms.nonexpert_params_per_layer - ms.norm_params_per_layer) / 4
    assert float(m_lora["weights_bytes"]) - w8 == pytest.approx(lin, rel=1e-6)
    # a larger rank costs more: more adapter GEMM work, never less
    big = dataclasses.replace(ms, lora_rank=256)
    assert float(T.evaluate(big, hs, lay)["step_time_s"]) > float(lora["step_time_s"])


def test_zero3_still_gathers_the_frozen_weights_every_pass():
    ms, hs = _shapes()
    lo = dataclasses.replace(ms, lora_rank=16)
    lay = T.Layout.of(**{**LAY, "tp": 1, "dp": 8, "zero": 3})
    full, lora = T.evaluate(ms, hs, lay), T.evaluate(lo, hs, lay)
    # per micro-batch: the all-gathers of the weights stay (forward and backward), the gradient reduce-scatter goes
    assert 0.5 * float(full["dp_comm_time_s"]) < float(lora["dp_comm_time_s"]) < float(full["dp_comm_time_s"])


REQ = dict(model="llama-2-70b", hardware="h100-sxm", gpus=8, seq_len=8192, global_batch=8, top_k=1)


def test_the_estimate_says_what_trains_and_needs_tokens_for_the_whole_run():
    r = est.estimate(TrainRequest(**REQ, lora_rank=16, precision="fp8"))
    assert r["feasible"] and r["training_mode"] == "lora"
    assert r["lora"]["rank"] == 16 and r["lora"]["targets"] == "attention"
    assert r["lora"]["trainable_frac"] == pytest.approx(44_564_480 / get_model("llama-2-70b").params_total)
    # no --tokens: the model's pre-training length is no default for a fine-tune; step-level answers only
    assert r["whole_run_computed"] is False and r["wall_time_s"] is None and "LoRA" in r["whole_run_note"]
    with_tokens = est.estimate(TrainRequest(**REQ, lora_rank=16, precision="fp8", tokens=1e8))
    assert with_tokens["whole_run_computed"] and with_tokens["gpu_hours"] > 0
    assert any(a["name"] == "lora" for a in with_tokens["assumptions"])
    # full-parameter training of the 70B model needs ~16 B per parameter of states: not on one 8-GPU node
    full = est.estimate(TrainRequest(**REQ, precision="fp8", tokens=1e8))
    assert full["training_mode"] == "full" and full["lora"] is None
    assert not full["feasible"] and "memory" in full["reason"]


@pytest.mark.parametrize("kw, field", [
    (dict(lora_targets="all-linear"), "lora_targets"),
    (dict(lora_rank=9000), "lora_rank"),
])
def test_impossible_lora_settings_name_the_field(kw, field):
    with pytest.raises(InputError) as e:
        est.estimate(TrainRequest(**REQ, **kw))
    assert e.value.field == field


def test_the_cli_flags_reach_the_request_and_bad_values_exit_2():
    cmd = [sys.executable, "-c", "from costsim.cli import main; main()", "train", "--model", "llama-2-70b", "--hardware",
           "h100-sxm", "--gpus", "8", "--seq-len", "8192", "--global-batch", "8"]
    ok = subprocess.run(cmd + ["--lora-rank", "16", "--tokens", "1e8"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("Fine-tuning (LoRA)") and "LoRA rank 16" in ok.stdout
    for bad in (["--lora-rank", "0"], ["--lora-rank", "nan"], ["--lora-rank", "9000"], ["--lora-targets", "mlp"],
                ["--lora-targets", "attention"]):
        r = subprocess.run(cmd + bad, capture_output=True, text=True)
        assert r.returncode == 2 and "Traceback" not in r.stderr and "lora" in (r.stderr + r.stdout).lower(), bad


def test_a_scenario_workload_carries_lora_to_the_training_core_and_needs_tokens():
    from pydantic import ValidationError

    from costsim.sim.training_setup import _core_step_profile
    from costsim.specs.scenario import Scenario
    from costsim.specs.training_sim import TrainingWorkload

    def prof(**kw):
        w = TrainingWorkload(model="llama-3.1-8b", hardware="h100-sxm", num_gpus=8, tokens=1e8, seq_len=8192,
                             global_batch=8, **kw)
        return _core_step_profile(w, Scenario(name="t", training=w))

    lora, full = prof(lora_rank=16), prof()
    assert lora["step_time_s"] < full["step_time_s"]
    # the adapters and their optimizer state only: 32 layers x 16 x ((4096 + 6144) + (4096 + 4096))
    assert lora["checkpoint_bytes"] == pytest.approx(14.0 * 32 * 16 * 18432)
    with pytest.raises(ValidationError, match="needs tokens"):
        TrainingWorkload(model="llama-2-70b", hardware="h100-sxm", num_gpus=8, lora_rank=16)


def _est(**kw):
    base = dict(model="llama-2-70b", hardware="gb300", gpus=72, seq_len=8192, global_batch=9, precision="fp8",
                lora_rank=16, tp=1, pp=1, cp=8, dp=9, vp=1, micro_batch=1, recompute="none", zero=1, dropout=False,
                top_k=1, tokens=1e8)
    return est.estimate(TrainRequest(**{**base, **kw}))


def test_all_to_all_context_parallelism_is_exposed_where_the_ring_hides():
    """cp_comm_type a2a (Ulysses, NeMo's MLPerf LoRA default): the all-to-alls of Q, K, V and the attention output sit on
    the critical path, so the step is longer than with the ring, whose K/V chunks hide behind attention; by about the
    bytes over NVLink (8 GPUs of a 72-GPU NVLink domain, 1,024 tokens each)."""
    ring, a2a = _est(cp_comm_type="p2p"), _est(cp_comm_type="a2a")
    assert _est()["step_time_s"] == ring["step_time_s"]  # the stack's default is the ring
    extra = a2a["step_time_s"] - ring["step_time_s"]
    per_layer_bytes = 2.0 * 1024 * (64 + 2 * 8 + 64) * 128  # Q, K, V and O of 1,024 tokens, bf16
    nvlink = get_accelerator("gb300").scaleup_bytes_per_s
    floor = 80 * 2 * per_layer_bytes * 7 / 8 / nvlink  # forward + backward, 7/8 of the bytes leave the rank
    assert floor < extra < 5 * floor
    assert a2a["breakdowns"]["step_time_s"]["cp_comm_time_s"] > 0
    # without context parallelism there is nothing to exchange
    one = dict(gpus=8, global_batch=8, cp=1, dp=8)
    assert _est(cp_comm_type="a2a", **one)["step_time_s"] == _est(**one)["step_time_s"]


def test_fp8_activation_store_halves_the_swiglu_input_and_needs_a_low_precision_run():
    on, off = _est(fp8_activation_store=True), _est(fp8_activation_store=False)
    saved = off["memory_breakdown_bytes"]["activations_bytes"] - on["memory_breakdown_bytes"]["activations_bytes"]
    # gate and up outputs, 2 x 28,672 values per token, one byte each instead of two: 1,024 tokens, 80 layers
    assert saved == pytest.approx(80 * 1024 * 2 * 28672, rel=1e-6)
    assert on["step_time_s"] == off["step_time_s"]  # memory only
    with pytest.raises(InputError) as e:
        _est(fp8_activation_store=True, precision="bf16")
    assert e.value.field == "fp8_activation_store"


def test_fp4_storage_format_by_vendor_and_lora_quantizes_one_layout():
    """An FP4 run stores NVFP4 on NVIDIA (4.5 bits, an amax pass before the cast) and OCP MXFP4 on AMD's CDNA 4
    (4.25 bits, none); a LoRA run's frozen GEMMs need only the row-wise quantized copy of their activations."""
    from costsim.core.datatypes import quantize_bytes_per_element

    nv, amd = get_accelerator("b200"), get_accelerator("mi355x")
    h_nv, h_amd = est.hardware_shape(nv, node_for(nv), "fp4"), est.hardware_shape(amd, node_for(amd), "fp4")
    assert h_nv.gemm_in_bytes == pytest.approx(4.5 / 8) and h_amd.gemm_in_bytes == pytest.approx(4.25 / 8)
    assert h_nv.quant_bytes_per_element == pytest.approx(2.0 * 2 + 2 * 4.5 / 8)  # read twice (amax), two layouts
    assert h_amd.quant_bytes_per_element == pytest.approx(2.0 + 2 * 4.25 / 8)
    one = est.hardware_shape(nv, node_for(nv), "fp4", quant_layouts=1)
    assert one.quant_bytes_per_element == pytest.approx(quantize_bytes_per_element("fp4", layouts=1))
    base = dict(model="llama-2-70b", hardware="b200", gpus=8, seq_len=8192, global_batch=8, precision="fp4",
                tp=1, pp=1, cp=1, dp=8, vp=1, micro_batch=1, recompute="none", zero=1, top_k=1, tokens=1e8)
    _, _, _, _, hs, _ = est.run_search(TrainRequest(**base, lora_rank=16))
    assert hs.quant_bytes_per_element == pytest.approx(one.quant_bytes_per_element)


def test_a_lora_result_reads_its_trust_range_on_the_lora_cases():
    """The validation records mark LoRA cases (mode), and a LoRA request's band names them as its regime; a
    full-parameter request on the same part and scale does not."""
    from costsim.api.train import train
    from costsim.core.trust import MODE_LORA

    base = dict(model="llama-2-70b", hardware="b200", gpus=64, seq_len=8192, global_batch=64, precision="fp8", top_k=1,
                tokens=1e8)
    lora = train(TrainRequest(**base, lora_rank=16))["error_band"]
    full = train(TrainRequest(**base))["error_band"]
    assert MODE_LORA in lora["regime"] and lora["cases"] >= 8
    assert MODE_LORA not in full["regime"]


def test_a_hidden_context_parallel_ring_still_slows_the_chunks_it_overlaps():
    """The ring's K/V chunks hide behind attention, but their send / receive kernels take SMs and HBM from it, as every
    collective hidden behind compute (COMM_OVERLAP_SLOWDOWN_FRAC of the overlapped time): a context-parallel layout
    used to tie exactly with its exchange, at 0 s of CP time."""
    from costsim.core.calibration import COMM_OVERLAP_SLOWDOWN_FRAC

    ring = _est(cp_comm_type="p2p")
    cp_s = ring["breakdowns"]["step_time_s"]["cp_comm_time_s"]
    assert cp_s > 0
    # the slowdown share of the whole exchange: K and V of 1,024 tokens per layer and ring step (7 steps), once forward
    # and twice backward (dK / dV travel too), 80 layers, one micro-batch per rank, at NVLink's rate (or at half of it,
    # with tens of microseconds of latency per step, at most)
    kv_bytes = 2.0 * 2 * 1024 * 8 * 128  # K and V in bf16: 8 KV heads of 128
    nvlink = get_accelerator("gb300").scaleup_bytes_per_s
    sends = 80 * 7 * 3
    assert COMM_OVERLAP_SLOWDOWN_FRAC * sends * kv_bytes / nvlink <= cp_s
    assert cp_s <= COMM_OVERLAP_SLOWDOWN_FRAC * sends * (kv_bytes / (0.5 * nvlink) + 50e-6)
