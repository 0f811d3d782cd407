"""Host-launched expert MLPs (Framework.moe_expert_launch 'host'): a low-precision MoE layer whose expert kernels the host
starts once per expert, layer and pass keeps the GPU waiting calibration.MOE_HOST_LAUNCH_S_PER_LOCAL_EXPERT_LOWP per local
expert (fitted on Megatron-Bridge 25.11's Qwen3-30B-A3B on 8 B200s; held out on the same release's and 26.06 / 26.08 rows)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from costsim.core.calibration import MOE_HOST_LAUNCH_S_PER_LOCAL_EXPERT_LOWP
from costsim.core.training import FRAMEWORKS, Layout, step_time
from costsim.estimators.training import hardware_shape, model_shape
from costsim.specs.catalog import get_accelerator, get_model, node_for


def _step(model: str, precision: str, launch: str, ep: int = 8, recompute: int = 0, micro_batch: int = 1) -> dict:
    spec, acc = get_model(model), get_accelerator("b200")
    fw = dataclasses.replace(FRAMEWORKS["megatron-core-2024"], moe_expert_launch=launch)
    lay = Layout.of(tp=1, pp=1, cp=1, ep=ep if spec.is_moe else 1, dp=8, vp=1, micro_batch=micro_batch,
                    recompute=recompute, zero=1, sequence_parallel=0, seq_len=4096, global_batch=512)
    t = step_time(model_shape(spec), hardware_shape(acc, node_for(acc), precision), lay, fw)
    return {k: float(np.ravel(t[k])[0]) for k in ("step_time_s", "moe_host_launch_time_s", "compute_time_s", "num_micro_batches")}


def test_host_launch_adds_the_per_expert_wait_for_every_moe_layer_and_pass():
    spec = get_model("qwen3-30b-a3b")
    dev, host = _step("qwen3-30b-a3b", "fp8", "device"), _step("qwen3-30b-a3b", "fp8", "host")
    local = spec.n_experts / 8
    passes = 2 * host["num_micro_batches"] * spec.n_moe_layers  # forward + backward of every MoE layer, every micro-batch
    want = passes * local * MOE_HOST_LAUNCH_S_PER_LOCAL_EXPERT_LOWP
    assert host["moe_host_launch_time_s"] == pytest.approx(want, rel=1e-9)
    assert host["step_time_s"] - dev["step_time_s"] == pytest.approx(want, rel=1e-6)
    assert dev["moe_host_launch_time_s"] == 0.0
    # the GPU waits: no compute (and no compute power) in that time
    assert host["compute_time_s"] == pytest.approx(dev["compute_time_s"], rel=1e-12)


def test_host_launch_scales_with_local_experts_and_recomputation():
    ep8, ep16 = _step("qwen3-30b-a3b", "fp8", "host", ep=8), _step("qwen3-30b-a3b", "fp8", "host", ep=16)
    assert ep16["moe_host_launch_time_s"] == pytest.approx(ep8["moe_host_launch_time_s"] / 2, rel=1e-9)
    full = _step("qwen3-30b-a3b", "fp8", "host", recompute=2)
    assert full["moe_host_launch_time_s"] == pytest.approx(1.5 * ep8["moe_host_launch_time_s"], rel=1e-9)  # 3 passes, not 2
    # fewer, larger micro-batches launch fewer times
    mb4 = _step("qwen3-30b-a3b", "fp8", "host", micro_batch=4)
    assert mb4["moe_host_launch_time_s"] == pytest.approx(ep8["moe_host_launch_time_s"] / 4, rel=1e-9)


@pytest.mark.parametrize("model,precision", [("qwen3-30b-a3b", "bf16"), ("llama-3-8b", "fp8")])
def test_no_wait_for_bf16_experts_or_dense_models(model, precision):
    dev, host = _step(model, precision, "device"), _step(model, precision, "host")
    assert host["moe_host_launch_time_s"] == 0.0
    assert host["step_time_s"] == dev["step_time_s"]


def test_fit_row_and_a_held_out_row_reproduce():
    from costsim.validation.engine import load_cases, run_cases
    cases = {c.id: c for c in load_cases()}
    fit, held = cases["MB2511-Q30B-B200-8"], cases["MB2606-Q30B-H100-16"]
    assert fit.used_for_fit and not held.used_for_fit
    assert fit.inputs["moe_expert_launch"] == held.inputs["moe_expert_launch"] == "host"
    res = {r.id: r for r in run_cases([fit, held])}
    assert abs(res[fit.id].error_frac) < 0.01
    assert abs(res[held.id].error_frac) < 0.15


def _cli(*args):
    return subprocess.run([sys.executable, "-c", "from costsim.cli import main; main()", *args], capture_output=True, text=True)


def test_cli_flag_json_and_table():
    args = ["train", "--model", "qwen3-30b-a3b", "--hardware", "b200", "--gpus", "8", "--seq-len", "4096",
            "--global-batch", "512", "--precision", "fp8", "--tp", "1", "--pp", "1", "--cp", "1", "--ep", "8",
            "--micro-batch", "1", "--zero", "1", "--no-sequence-parallel"]
    out = {}
    for launch in ("device", "host"):
        r = _cli(*args, "--moe-expert-launch", launch, "--json")
        assert r.returncode == 0, r.stderr
        out[launch] = json.loads(r.stdout)
    wait = out["host"]["breakdowns"]["step_time_s"]["moe_host_launch_time_s"]
    assert wait > 10.0 and out["device"]["breakdowns"]["step_time_s"]["moe_host_launch_time_s"] == 0.0
    assert out["host"]["step_time_s"] > out["device"]["step_time_s"] + 10.0
    a = {x["name"]: x for x in out["host"]["assumptions"]}["moe_expert_launch"]
    assert a["value"] == "host" and "request --moe-expert-launch" in a["source"]
    r = _cli(*args, "--moe-expert-launch", "host")
    assert r.returncode == 0 and "waiting for the host" in r.stdout


@pytest.mark.parametrize("extra,needle", [(["--model", "llama-3-8b", "--moe-expert-launch", "host"], "mixture-of-experts"),
                                          (["--model", "qwen3-30b-a3b", "--moe-expert-launch", "sideways"], "moe_expert_launch")])
def test_bad_values_exit_2_naming_the_field(extra, needle):
    r = _cli("train", "--hardware", "b200", "--gpus", "8", *extra)
    assert r.returncode == 2
    assert needle in r.stderr + r.stdout and "Traceback" not in r.stderr


def test_host_launch_text_for_reports_and_the_app():
    from costsim.report.fmt import host_launch_text
    r = {"step_time_s": 28.0, "breakdowns": {"step_time_s": {"moe_host_launch_time_s": 21.0}}}
    assert "75 %" in host_launch_text(r) and "waiting for the host" in host_launch_text(r)
    assert host_launch_text({"step_time_s": 7.0, "breakdowns": {"step_time_s": {"moe_host_launch_time_s": 0.0}}}) is None
    assert host_launch_text({}) is None
