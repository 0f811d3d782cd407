"""NVFP4 training's BF16 layers (TrainRequest.fp4_bf16_layers, CLI --fp4-bf16-layers): by default every transformer layer's
linear GEMMs run in NVFP4 (Megatron-core's first_last_layers_bf16 off); a recipe that keeps layers in BF16 (the NVFP4
paper's 10 of 62) prices those layers' GEMMs at the BF16 rates, so the step grows with the count and keeping every layer
in BF16 prices the linear layers of a BF16 run."""

from __future__ import annotations

import subprocess
import sys

import pytest

from costsim.errors import InputError
from costsim.estimators import training as est
from costsim.specs.requests import TrainRequest

BASE = dict(model="llama-3.1-8b", hardware="b200", gpus=8, seq_len=8192, global_batch=16, tokens=1e12, top_k=1,
            tp=1, pp=1, cp=1, micro_batch=2, zero=1, recompute="none")


def _step(**kw) -> float:
    return float(est.estimate(TrainRequest(**{**BASE, **kw}))["step_time_s"])


def test_more_bf16_layers_mean_a_longer_step_up_to_the_bf16_linear_layers():
    all_fp4, paper, all_bf16 = (_step(precision="fp4", fp4_bf16_layers=n) for n in (0, 5, 32))
    assert all_fp4 < paper < all_bf16
    assert _step(precision="fp4") == pytest.approx(all_fp4, rel=1e-12)  # None = 0, Megatron-core's default
    # every layer in BF16: within a few percent of a BF16 run (the quantization traffic of the FP4 casts is gone with
    # the layers; only the saved activations' bytes and the FP4 weight gathers still differ)
    assert all_bf16 == pytest.approx(_step(precision="bf16"), rel=0.05)


@pytest.mark.parametrize("kw, needle", [
    (dict(precision="fp8", fp4_bf16_layers=4), "NVFP4 run"),
    (dict(precision="fp4", fp4_bf16_layers=40), "32 layers"),
])
def test_a_count_the_run_cannot_use_names_the_field(kw, needle):
    with pytest.raises(InputError) as e:
        est.estimate(TrainRequest(**{**BASE, **kw}))
    assert e.value.field == "fp4_bf16_layers" and needle in str(e.value)


def test_a_device_without_fp4_names_every_fp4_capable_part_in_the_catalog():
    """The message listed five FP4 parts by hand and left out mi350x, rtx-5090, dgx-spark and rtx-pro-6000-server
    (a helper's audit); it now reads the profiles."""
    from costsim.specs.catalog import accelerators

    with pytest.raises(InputError) as e:
        est.estimate(TrainRequest(**{**BASE, "hardware": "h100-sxm", "precision": "fp4"}))
    assert e.value.field == "precision"
    named = str(e.value).split("FP4-capable device (")[1].split(")")[0].split(", ")
    assert sorted(named) == sorted(hw for hw, acc in accelerators().items() if acc.supports("fp4"))


def test_the_cli_flag_reaches_the_request_and_bad_values_exit_2():
    cmd = [sys.executable, "-c", "from costsim.cli import main; main()", "train", "--model", "llama-3.1-8b", "--hardware", "b200", "--gpus", "8",
           "--precision", "fp4", "--json"]
    ok = subprocess.run(cmd + ["--fp4-bf16-layers", "5"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    for bad in ("-1", "nan", "40"):
        r = subprocess.run(cmd + ["--fp4-bf16-layers", bad], capture_output=True, text=True)
        assert r.returncode == 2 and "Traceback" not in r.stderr and "fp4" in (r.stderr + r.stdout).lower()


def test_a_scenario_workload_carries_the_count_to_the_training_core():
    from costsim.sim.training_setup import _core_step_profile
    from costsim.specs.scenario import Scenario
    from costsim.specs.training_sim import TrainingWorkload

    def step(n):
        w = TrainingWorkload(model="llama-3.1-8b", hardware="b200", num_gpus=8, tokens=1e12, seq_len=8192, global_batch=16,
                             precision="fp4", fp4_bf16_layers=n)
        return _core_step_profile(w, Scenario(name="t", training=w))["step_time_s"]

    assert step(10) > step(None)
