"""QLoRA (TrainRequest.lora_base_precision nf4), per-module LoRA targets (lora_targets 'q,v', PEFT / torchtune naming),
the adapters' dropout (lora_dropout) and the torchtune-2024 stack (pure bf16 with bf16 AdamW state, activation offload,
chunked loss, no pipeline parallelism). Checked against counts and mechanisms, not fitted numbers."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
from pydantic import ValidationError

from costsim.core import training as T
from costsim.core.frameworks import FRAMEWORKS
from costsim.core.training_shapes import NF4_BYTES_PER_WEIGHT, lora_params_per_layer
from costsim.core.trust import family_of
from costsim.errors import InputError
from costsim.estimators import training as est
from costsim.specs.catalog import get_accelerator, get_model, node_for
from costsim.specs.requests import TrainRequest

ONE_GPU = dict(tp=1, pp=1, cp=1, ep=1, dp=1, vp=1, micro_batch=2, recompute=2, zero=0, sequence_parallel=0, seq_len=2048,
               global_batch=2)


def _shapes(model="llama-3.1-8b", hw="a100-80gb-sxm"):
    spec, acc = get_model(model), get_accelerator(hw)
    return est.model_shape(spec), est.hardware_shape(acc, node_for(acc), "bf16")


def test_module_targets_count_one_adapter_per_projection():
    ms, _ = _shapes()
    # Llama 3.1 8B: d 4096, 32 heads and 8 KV heads of 128: q 4096 -> 4096, v 4096 -> 1024; rank 8 on q and v
    qv = dataclasses.replace(ms, lora_rank=8, lora_modules=("q", "v"))
    assert lora_params_per_layer(qv) == (pytest.approx(8 * ((4096 + 4096) + (4096 + 1024))), 0.0)
    assert est.trainable_params(qv) == pytest.approx(3_407_872)  # what torchtune's 8B LoRA recipe trains
    # every projection with its own A: the gated FFN's gate and up each take the 4096-wide input
    every = dataclasses.replace(ms, lora_rank=8, lora_modules=("q", "k", "v", "o", "gate", "up", "down"))
    per = 8 * ((4096 + 4096) + 2 * (4096 + 1024) + (4096 + 4096) + 2 * (4096 + 14336) + (14336 + 4096))
    assert lora_params_per_layer(every)[0] == pytest.approx(per)
    # the fused convention (Megatron / NeMo all-linear) puts one adapter on the fused QKV and the fused gate + up GEMM
    fused = dataclasses.replace(ms, lora_rank=8, lora_ffn=True)
    assert lora_params_per_layer(fused)[0] < lora_params_per_layer(every)[0]


@pytest.mark.parametrize("given, canonical", [("q_proj,v_proj", "q,v"), ("V, Q", "q,v"), ("attention", "attention"),
                                              ("gate_proj,up_proj,down_proj,o_proj", "o,gate,up,down")])
def test_targets_read_peft_names_in_one_canonical_order(given, canonical):
    assert TrainRequest(model="m", hardware="h", gpus=1, lora_targets=given).lora_targets == canonical


@pytest.mark.parametrize("bad", ["mlp", "q,x", "", ",", "a" * 300])
def test_unknown_targets_are_refused_naming_the_field(bad):
    with pytest.raises(ValidationError) as e:
        TrainRequest(model="m", hardware="h", gpus=1, lora_targets=bad)
    assert "lora_targets" in str(e.value)


def test_frozen_gemms_keep_their_inputs_only_where_an_adapter_reads_them():
    ms, _ = _shapes()
    lay = T.Layout.of(**{**ONE_GPU, "recompute": 0})
    from costsim.core.training_memory import activation_bytes_per_layer
    down = dataclasses.replace(ms, lora_rank=8, lora_modules=("down",))
    both = dataclasses.replace(ms, lora_rank=8, lora_modules=("down", "up"))
    a_down = float(activation_bytes_per_layer(down, lay)[0])
    a_both = float(activation_bytes_per_layer(both, lay)[0])
    # the up projection's adapter keeps the FFN input (h = 4096 values per token, 2 bytes) for its dA; 2 x 2048 tokens
    assert a_both - a_down == pytest.approx(2 * 2048 * 2.0 * 4096)


def test_qlora_packs_the_frozen_linear_weights_and_pays_their_dequantization():
    ms, hs = _shapes()
    lay = T.Layout.of(**ONE_GPU)
    lora = dataclasses.replace(ms, lora_rank=8, lora_modules=("q", "v"))
    qlora = dataclasses.replace(lora, lora_base_bytes=NF4_BYTES_PER_WEIGHT)
    assert NF4_BYTES_PER_WEIGHT == pytest.approx(4.127 / 8, abs=1e-4)  # Dettmers et al. 2023: 4 + 0.127 bits
    e_l, e_q = T.evaluate(lora, hs, lay), T.evaluate(qlora, hs, lay)
    linear = ms.n_layers * ms.nonexpert_linear_params_per_layer
    saved = linear * (2.0 - NF4_BYTES_PER_WEIGHT)
    assert float(e_l["memory"]["weights_bytes"]) - float(e_q["memory"]["weights_bytes"]) == pytest.approx(saved, rel=1e-9)
    # every forward, recomputed forward and input-gradient pass reads the packed weight and writes a bf16 copy first
    hbm = hs.memory_bandwidth_bytes_per_s * T.HBM_ACHIEVABLE_FRAC
    passes = 3.0  # full recomputation: forward, recomputed forward, backward
    dq = passes * linear * (NF4_BYTES_PER_WEIGHT + 2.0) / hbm
    extra = float(e_q["step_time_s"]) - float(e_l["step_time_s"])
    assert dq < extra < dq * 1.05  # plus a kernel's fixed cost per GEMM and pass


def test_qlora_under_zero3_gathers_the_packed_weights():
    ms, hs = _shapes("llama-3.1-70b")
    lay = T.Layout.of(**{**ONE_GPU, "dp": 8, "zero": 3, "global_batch": 16})
    lora = dataclasses.replace(ms, lora_rank=16, lora_modules=("q", "k", "v"))
    qlora = dataclasses.replace(lora, lora_base_bytes=NF4_BYTES_PER_WEIGHT)
    t_l = float(T.evaluate(lora, hs, lay)["dp_comm_time_s"])
    t_q = float(T.evaluate(qlora, hs, lay)["dp_comm_time_s"])
    assert 0.2 * t_l < t_q < 0.5 * t_l  # the linear weights travel at 0.52 bytes instead of 2


REQ = dict(model="llama-3.2-3b", hardware="a100-80gb-sxm", gpus=1, seq_len=4096, global_batch=2, micro_batch=2,
           recompute="full", tokens=1e8, top_k=1)


@pytest.mark.parametrize("kw, field", [
    (dict(lora_base_precision="nf4"), "lora_base_precision"),
    (dict(lora_rank=16, lora_base_precision="nf4", precision="fp8"), "lora_base_precision"),
    (dict(lora_dropout=0.1), "lora_dropout"),
    (dict(framework="torchtune-2024", pp=2, gpus=2), "pp"),
])
def test_impossible_settings_name_the_field(kw, field):
    with pytest.raises(InputError) as e:
        est.estimate(TrainRequest(**{**REQ, **kw}))
    assert e.value.field == field


def test_torchtune_runs_pure_bf16_without_pipelines_and_its_adapters_without_dropout():
    fw = FRAMEWORKS["torchtune-2024"]
    assert fw.optimizer_state_bytes == 4.0 and not fw.pipeline_parallel and not fw.lora_dropout and fw.activation_offload
    full = est.estimate(TrainRequest(**REQ, framework="torchtune-2024"))
    mixed = est.estimate(TrainRequest(**REQ, framework="torchtitan-2024"))
    n = get_model("llama-3.2-3b").params_total
    # bf16 m and v (4 bytes per parameter), no fp32 master copy: a third of the mixed-precision optimizer state
    assert full["memory_breakdown_bytes"]["optimizer_bytes"] == pytest.approx(4.0 * n, rel=1e-6)
    assert mixed["memory_breakdown_bytes"]["optimizer_bytes"] == pytest.approx(12.0 * n, rel=1e-6)
    # the search offers no pipeline stages on it
    big = est.estimate(TrainRequest(**{**REQ, "gpus": 8, "global_batch": 16}, framework="torchtune-2024"))
    assert big["parallelism"]["pp"] == 1
    lora = dict(REQ, framework="torchtune-2024", lora_rank=64, lora_targets="q,v,o,gate,up,down")
    plain, dropped = est.estimate(TrainRequest(**lora)), est.estimate(TrainRequest(**lora, lora_dropout=0.1))
    assert dropped["step_time_s"] > plain["step_time_s"]  # each adapter's dropout kernel, forward and backward


def test_the_cli_prices_qlora_and_says_so():
    cmd = [sys.executable, "-c", "from costsim.cli import main; main()", "train", "--model", "llama-3.1-8b", "--hardware",
           "rtx-4090", "--gpus", "1", "--seq-len", "2048", "--global-batch", "2", "--micro-batch", "2", "--recompute",
           "full", "--framework", "torchtune-2024", "--lora-rank", "8", "--tokens", "1e8"]
    ok = subprocess.run(cmd + ["--lora-targets", "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
                               "--lora-base-precision", "nf4"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "4-bit NF4 (QLoRA)" in ok.stdout and "q, k, v, o, gate, up, down projections" in ok.stdout
    for bad in (["--lora-base-precision", "int3"], ["--lora-targets", "attn"], ["--lora-dropout", "1.5"],
                ["--lora-dropout", "nan"]):
        r = subprocess.run(cmd + bad, capture_output=True, text=True)
        assert r.returncode == 2 and "Traceback" not in r.stderr and "lora" in (r.stderr + r.stdout).lower(), bad


def test_peak_memory_cases_compare_allocated_bytes_and_band_nothing():
    from costsim.validation.engine import Case
    from costsim.validation.training import run_step_case

    inputs = dict(model="llama-3.2-3b", hardware="a100-80gb-sxm", gpus=1, seq_len=4096, global_batch=2, precision="bf16",
                  tp=1, pp=1, cp=1, dp=1, micro_batch=2, recompute="full", zero=0, sequence_parallel=False,
                  framework="torchtune-2024", lora_rank=64, lora_targets="q,v,o,gate,up,down", lora_base_precision="nf4")
    case = Case(id="t", kind="training_step_time", source="s", inputs=inputs, metric="peak_memory_allocated_bytes",
                expected=1.0, comparison="within", tolerance_frac=0.15, tolerance_reason="r")
    r = est.estimate(TrainRequest(**REQ, framework="torchtune-2024", lora_rank=64, lora_targets="q,v,o,gate,up,down",
                                  lora_base_precision="nf4", tp=1, pp=1, cp=1, dp=1, zero=0))
    m = r["memory_breakdown_bytes"]
    assert run_step_case(case) == pytest.approx(m["total_bytes"] - m["reserve_bytes"], rel=1e-9)
    assert family_of("training_step_time", "peak_memory_allocated_bytes") is None
