"""Full recomputation of only some layers (TrainRequest.recompute_layers, CLI --recompute-layers; Megatron-core's
recompute_method 'block' with recompute_num_layers N): the step pays the recomputed forward of N of a stage's layers,
the memory keeps the other layers' activations, and all of them is plain full recomputation."""

from __future__ import annotations

import subprocess
import sys

import pytest

from costsim.errors import InputError
from costsim.estimators import training as est
from costsim.specs.requests import TrainRequest

BASE = dict(model="llama-2-70b", hardware="mi300x", gpus=8, seq_len=8192, global_batch=8, precision="fp8", lora_rank=16,
            tp=1, pp=1, cp=1, dp=8, vp=1, micro_batch=1, zero=1, top_k=1, tokens=1e8, fp8_activation_store=True)


def _run(**kw):
    return est.estimate(TrainRequest(**{**BASE, **kw}))


def test_more_recomputed_layers_cost_time_and_save_memory_up_to_full_recomputation():
    rows = [_run(recompute="full", recompute_layers=n) for n in (10, 21, 40)]
    full, none = _run(recompute="full"), _run(recompute="none")
    steps = [r["step_time_s"] for r in rows]
    mems = [r["memory_per_gpu_bytes"] for r in rows]
    assert none["step_time_s"] < steps[0] < steps[1] < steps[2] < full["step_time_s"]
    assert none["memory_per_gpu_bytes"] > mems[0] > mems[1] > mems[2] > full["memory_per_gpu_bytes"]
    # every layer of the (one) stage is plain full recomputation
    assert _run(recompute="full", recompute_layers=80)["step_time_s"] == pytest.approx(full["step_time_s"], rel=1e-12)
    # the recomputed forward is linear in the layers: half-way in FLOPs between none and full at 40 of 80
    hw = [r["hfu_frac"] * r["step_time_s"] for r in (none, rows[2], full)]
    assert hw[1] == pytest.approx((hw[0] + hw[2]) / 2, rel=1e-9)
    assert rows[1]["parallelism"]["recompute_layers"] == 21


@pytest.mark.parametrize("kw, needle", [
    (dict(recompute="selective", recompute_layers=10), "--recompute full"),
    (dict(recompute="full", recompute_layers=81), "80 layers"),
])
def test_a_count_the_run_cannot_use_names_the_field(kw, needle):
    with pytest.raises(InputError) as e:
        _run(**kw)
    assert e.value.field == "recompute_layers" and needle in str(e.value)


def test_the_cli_flag_reaches_the_request_and_bad_values_exit_2():
    cmd = [sys.executable, "-c", "from costsim.cli import main; main()", "train", "--model", "llama-2-70b", "--hardware",
           "mi300x", "--gpus", "8", "--seq-len", "8192", "--global-batch", "8", "--precision", "fp8", "--lora-rank", "16",
           "--tp", "1", "--recompute", "full", "--json"]
    ok = subprocess.run(cmd + ["--recompute-layers", "21"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    for bad in ("0", "nan", "500"):
        r = subprocess.run(cmd + ["--recompute-layers", bad], capture_output=True, text=True)
        assert r.returncode == 2 and "Traceback" not in r.stderr and "recompute" in (r.stderr + r.stdout).lower(), bad


def test_the_layers_that_do_not_recompute_rerun_nothing():
    """Under partial full recomputation the step grows by exactly the recomputed layers' share of (full - none):
    the other layers do not fall back to selective recomputation."""
    none, full = _run(recompute="none")["step_time_s"], _run(recompute="full")["step_time_s"]
    part = _run(recompute="full", recompute_layers=40)["step_time_s"]
    assert part == pytest.approx(none + 0.5 * (full - none), rel=0.01)
