"""The power limit on FP4 tensor throughput (Blackwell): costsim.core.power.power_limit_stretch_s, the devices the
estimators build with it (costsim.estimators.power_limit) and what a serving estimate reports."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from costsim.core import inference as core
from costsim.core.power import power_limit_stretch_s
from costsim.estimators import inference as est
from costsim.estimators.inference import estimate_serve
from costsim.estimators.power_limit import tensor_power_parameters
from costsim.specs.catalog import get_accelerator, get_model
from costsim.specs.requests import ServeRequest


def test_stretch_is_the_energy_over_the_budget_less_the_time():
    # 1e15 FLOP at 0.2 pJ need 200 J; a 1,000 W budget spends that in 0.2 s at best
    assert float(power_limit_stretch_s(0.05, 1e15, 0.2e-12, 1000.0)) == pytest.approx(0.15)
    assert float(power_limit_stretch_s(0.5, 1e15, 0.2e-12, 1000.0)) == 0.0
    assert float(power_limit_stretch_s(0.05, 1e15, 0.0, 1000.0)) == 0.0  # no energy modelled
    assert float(power_limit_stretch_s(0.05, 1e15, 0.2e-12, 0.0)) == 0.0  # no budget modelled
    got = power_limit_stretch_s(np.array([0.05, 0.5]), 1e15, np.array([0.2e-12, 0.2e-12]), 1000.0)
    assert got.shape == (2,) and got[0] == pytest.approx(0.15) and got[1] == 0.0


def test_only_fp4_gemms_on_a_part_with_a_tensor_energy_are_bounded():
    b300, h200 = get_accelerator("b300"), get_accelerator("h200")
    p = tensor_power_parameters(b300, "fp4")
    assert p["tensor_j_per_flop"] == pytest.approx(b300.efficiency.fp4_tensor_pj_per_flop * 1e-12)
    assert p["power_budget_w"] == pytest.approx(b300.tdp_w - b300.idle_w)
    for acc, dtype in ((b300, "fp8"), (b300, "bf16"), (h200, "fp8"), (get_accelerator("mi355x"), "fp4")):
        assert tensor_power_parameters(acc, dtype) == {"tensor_j_per_flop": 0.0, "power_budget_w": 0.0}
    dev, dtype, _ = est.device_from_accelerator(b300, "fp4")
    assert dtype == "fp4" and float(dev.tensor_j_per_flop) > 0
    dev8, _, _ = est.device_from_accelerator(b300, "fp8")
    assert float(dev8.tensor_j_per_flop) == 0.0


def test_a_b300_prompt_pass_is_power_bound_and_not_faster_than_its_budget_allows():
    """A prompt pass of a dense 70B model in NVFP4 on B300 needs more power than 1,100 W leaves (1.56x B200's FP4
    peak at 1.10x its power above idle): its time is the GEMM energy over the budget, and without the profile's
    tensor energy it would be shorter."""
    m, acc = get_model("llama-2-70b"), get_accelerator("b300")
    ci = est.core_inputs(m, acc, "fp4", None, "default")
    pre = core.prefill_breakdown(ci.shape, ci.dev, ci.prec, core.Layout(), 64, 2048)
    assert float(pre["power_limit_s"]) > 0
    # stretched to the GEMMs' energy over the budget (matmul_flop_per_gpu also counts the attention FLOPs, which run
    # in FP8 and are not in the bound: hence <=)
    spent_j = float(pre["prefill_time_s"]) * float(ci.dev.power_budget_w)
    assert spent_j <= float(pre["matmul_flop_per_gpu"]) * float(ci.dev.tensor_j_per_flop) * 1.000001
    free = core.prefill_breakdown(ci.shape, replace(ci.dev, tensor_j_per_flop=0.0), ci.prec, core.Layout(), 64, 2048)
    assert float(free["power_limit_s"]) == 0.0
    assert float(free["prefill_time_s"]) < float(pre["prefill_time_s"])


def test_serving_estimate_reports_the_limit_and_runs_at_the_tdp():
    r = estimate_serve(ServeRequest(model="llama-2-70b", hardware="b300", weight_precision="fp4", batch="512",
                                    input_tokens=2048, output_tokens=128), with_curve=False)
    assert r["breakdown"]["prefill_s"]["power_limit_s"] > 0
    assert r["gpu_power_by_phase_w"]["prefill"] == pytest.approx(get_accelerator("b300").tdp_w)
    h = estimate_serve(ServeRequest(model="llama-2-70b", hardware="h200", weight_precision="fp8", batch="64",
                                    input_tokens=2048, output_tokens=128), with_curve=False)
    assert h["feasible"]
    assert h["breakdown"]["prefill_s"]["power_limit_s"] == 0.0
    assert h["breakdown"]["decode_step_s"]["power_limit_s"] == 0.0


def test_b300_gains_on_b200_about_its_power_ratio_where_its_prompt_pass_is_power_bound():
    """Per GPU, B300's prompt throughput in NVFP4 follows its power above idle (990 W against B200's 900 W, B200 near
    its limit on short prompts), not its 1.56x FP4 peak; long prompts, where the FP8 attention (not in the bound)
    weighs more, gain more."""
    m = get_model("llama-2-70b")

    def prompt_pass(hw, tokens):
        ci = est.core_inputs(m, get_accelerator(hw), "fp4", None, "default")
        pre = core.prefill_breakdown(ci.shape, ci.dev, ci.prec, core.Layout(), 64, tokens)
        return 64 * tokens / float(pre["prefill_time_s"]), float(pre["power_limit_s"])

    b200, b300 = get_accelerator("b200"), get_accelerator("b300")
    peak_ratio = b300.peak_flop_per_s("fp4") / b200.peak_flop_per_s("fp4")
    power_ratio = (b300.tdp_w - b300.idle_w) / (b200.tdp_w - b200.idle_w)
    (t300, limit300), (t200, _) = prompt_pass("b300", 512), prompt_pass("b200", 512)
    assert limit300 > 0
    assert t300 / t200 <= power_ratio * 1.1 < peak_ratio
    (t300_long, _), (t200_long, _) = prompt_pass("b300", 4096), prompt_pass("b200", 4096)
    assert t300 / t200 < t300_long / t200_long < peak_ratio


def test_hardware_show_states_the_fp4_power_bound():
    from costsim.api.catalog import hardware_entry

    b300 = get_accelerator("b300")
    d = hardware_entry(b300, full=True)
    expected = (b300.tdp_w - b300.idle_w) / (b300.efficiency.fp4_tensor_pj_per_flop * 1e-12)
    assert d["fp4_power_bound_flop_per_s"] == pytest.approx(expected)
    assert d["fp4_power_bound_flop_per_s"] < b300.peak_flop_per_s("fp4")
    assert hardware_entry(get_accelerator("h100-sxm"), full=True)["fp4_power_bound_flop_per_s"] is None
