"""Activation offload (Layout.act_offload, TrainRequest.activation_offload): the activations each layer saves for its
backward pass wait in host memory, so the device keeps only the layers in transit, and the copies ride the host link
behind the compute (exposed only where a copy outlasts its pass)."""

import dataclasses
import json

import pytest
from typer.testing import CliRunner

from costsim.cli import _register, app

from costsim.core.frameworks import FRAMEWORKS
from costsim.core.training import evaluate
from costsim.core.training_memory import OFFLOAD_DEVICE_LAYERS, activation_bytes_per_layer, memory_per_gpu
from costsim.core.training_shapes import Layout
from costsim.errors import InputError
from costsim.estimators.training import estimate, hardware_shape, model_shape
from costsim.specs.catalog import get_accelerator, get_model, node_for
from costsim.specs.requests import TrainRequest

XLA = FRAMEWORKS["xla-tpu"]


def _req(**kw) -> TrainRequest:
    base = dict(model="llama-3.1-405b", hardware="tpu-v7", gpus=256, tokens=1e9, seq_len=8192, global_batch=1536,
                precision="bf16", tp=1, pp=1, cp=1, ep=1, dp=256, micro_batch=6, recompute="full", zero=3,
                framework="xla-tpu")
    return TrainRequest(**{**base, **kw})


def _layout(offload: float) -> Layout:
    return Layout.of(tp=1, pp=1, cp=1, ep=1, dp=256, vp=1, micro_batch=6, recompute=2, zero=3, sequence_parallel=0,
                     seq_len=8192, global_batch=1536, act_offload=offload)


def test_memory_and_time_of_offloaded_activations():
    """405B at 6 x 8,192 tokens per TPU7x chip (the tpu-recipes Ironwood recipe): full recomputation keeps every
    layer's input (126 layers x 1.6 GB), which does not fit 192 GiB; offloaded, the device holds two of them."""
    acc = get_accelerator("tpu-v7")
    m, hw = model_shape(get_model("llama-3.1-405b")), hardware_shape(acc, node_for(acc), "bf16")
    kept, off = _layout(0.0), _layout(1.0)
    mem_kept = memory_per_gpu(m, kept, XLA, hw.domain_size)
    mem_off = memory_per_gpu(m, off, XLA, hw.domain_size)
    per_layer = float(activation_bytes_per_layer(m, kept, XLA)[0])
    assert per_layer == pytest.approx(2.0 * 6 * 8192 * 16384)  # the layer input of 6 sequences, bf16
    # the device keeps OFFLOAD_DEVICE_LAYERS layers' inputs instead of all 126
    saved = float(mem_kept["activations_bytes"]) - float(mem_off["activations_bytes"])
    assert saved == pytest.approx(per_layer * (126 - OFFLOAD_DEVICE_LAYERS), rel=1e-9)
    assert float(mem_kept["total_bytes"]) > hw.memory_bytes > float(mem_off["total_bytes"])
    # over the default link the copies (1.6 GB per layer each way) hide behind each pass: no wait, the same step
    ev_k, ev_o = evaluate(m, hw, kept, XLA), evaluate(m, hw, off, XLA)
    assert float(ev_o["offload_wait_time_s"]) == 0.0
    assert float(ev_o["step_time_s"]) == pytest.approx(float(ev_k["step_time_s"]))
    # a link 1,000x slower cannot keep up: the copy beyond each pass is waited for, in both passes
    slow = dataclasses.replace(hw, host_link_bytes_per_s=hw.host_link_bytes_per_s / 1000.0)
    ev_s = evaluate(m, slow, off, XLA)
    copy_s = per_layer * 126 / slow.host_link_bytes_per_s  # one micro-batch's layers, one way
    assert float(ev_s["offload_wait_time_s"]) > 0.0
    assert float(ev_s["step_time_s"]) - float(ev_k["step_time_s"]) == pytest.approx(float(ev_s["offload_wait_time_s"]))
    assert float(ev_s["offload_wait_time_s"]) < 2.0 * copy_s


def test_request_and_search():
    """The recipe's layout does not fit without offload; the search on xla-tpu tries offload and finds it; a stack
    without host offload refuses the flag by name."""
    off = estimate(_req(activation_offload=False))
    assert off["feasible"] is False and "out of memory" in off["reason"] and "--activation-offload" in off["reason"]
    r = estimate(_req())  # searched: offload on
    assert r["parallelism"]["activation_offload"] is True
    r_on = estimate(_req(activation_offload=True))
    assert r_on["step_time_s"] == pytest.approx(r["step_time_s"])
    with pytest.raises(InputError) as e:
        estimate(_req(hardware="h100-sxm", gpus=64, dp=64, global_batch=384, micro_batch=6,
                               zero=1, framework="megatron-2022", activation_offload=True))
    assert e.value.field == "activation_offload"
    # a GPU stack with offload keeps it off unless asked (the layout search does not try it there)
    assert not FRAMEWORKS["megatron-core-2024"].activation_offload_searched


def test_cli_flag():
    _register()
    args = ["train", "--model", "llama-3.1-405b", "--hardware", "tpu7x", "--gpus", "256", "--seq-len", "8192",
            "--global-batch", "1536", "--tp", "1", "--pp", "1", "--cp", "1", "--micro-batch", "6", "--recompute", "full", "--zero", "3",
            "--framework", "xla-tpu", "--json"]
    res = CliRunner().invoke(app, [*args, "--activation-offload"], prog_name="costsim")
    assert res.exit_code == 0, res.output[-2000:]
    assert json.loads(res.output)["parallelism"]["activation_offload"] is True
    res = CliRunner().invoke(app, [*args, "--no-activation-offload"], prog_name="costsim")
    out = json.loads(res.output)
    assert out["feasible"] is False and "--activation-offload" in out["reason"]
