"""TorchTitan's training stack (torchtitan-2024), a per-GPU power limit for `costsim train`, and the TorchTitan
validation cases (inline hardware of a published run's own part)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from costsim.core.frameworks import FRAMEWORKS
from costsim.core.power import cap_throughput_frac
from costsim.core.training import hardware_flop_per_token, recompute_flop_per_token, selective_recompute_shares
from costsim.core.training_memory import activation_bytes_per_layer
from costsim.core.training_shapes import Layout
from costsim.errors import InputError
from costsim.estimators import training as est
from costsim.specs.catalog import get_accelerator, get_model
from costsim.specs.requests import TrainRequest

TT = FRAMEWORKS["torchtitan-2024"]


def _req(**kw) -> TrainRequest:
    base = dict(model="llama-3.1-8b", hardware="h100-sxm", gpus=8, seq_len=8192, global_batch=16, tp=1, pp=1, cp=1,
                micro_batch=2, zero=3, recompute="selective", framework="torchtitan-2024", tokens=1e9, top_k=1)
    base.update(kw)
    return TrainRequest(**base)


def test_power_cap_slows_the_compute_by_the_power_core_clock_and_caps_power():
    free, capped = est.estimate(_req()), est.estimate(_req(power_cap_w=500))
    frac = float(cap_throughput_frac(500, 700, 70, "compute"))
    assert 0.7 < frac < 0.9
    # the GEMMs and the attention core run at the capped clock; memory-bound kernels and collectives do not
    ratio = capped["step_time_s"] / free["step_time_s"]
    assert 1.0 < ratio <= 1.0 / frac + 1e-9
    assert ratio > 1.0 / frac - 0.08
    assert capped["breakdowns"]["gpu_power_w"]["compute"] == pytest.approx(500.0)
    assert free["breakdowns"]["gpu_power_w"]["compute"] > 500.0
    assert any(a["name"] == "power_cap_compute_frac" and a["value"] == pytest.approx(frac) for a in capped["assumptions"])
    # at or above the TDP the cap changes nothing
    assert est.estimate(_req(power_cap_w=700))["step_time_s"] == pytest.approx(free["step_time_s"])


def test_power_cap_below_warm_idle_is_refused_naming_the_field():
    with pytest.raises(InputError) as e:
        est.estimate(_req(power_cap_w=100))
    assert e.value.field == "power_cap_w" and "warm-idle" in str(e.value)
    p = subprocess.run([sys.executable, "-c", "from costsim.cli import main; main()", "train", "--model", "llama-3.1-8b",
                        "--hardware", "h100-sxm", "--gpus", "8", "--power-cap-w", "50", "--json"], capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "power cap" in (p.stderr + p.stdout)
    ok = subprocess.run([sys.executable, "-c", "from costsim.cli import main; main()", "train", "--model", "llama-3.1-8b",
                         "--hardware", "h100-sxm", "--gpus", "8", "--tokens", "1e9", "--power-cap-w", "450", "--json"],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["breakdowns"]["gpu_power_w"]["compute"] <= 450.0


def test_torchtitan_selective_reruns_half_the_matmuls_not_the_attention():
    assert selective_recompute_shares(TT) == (0.0, 0.5, 1.0)
    assert selective_recompute_shares(FRAMEWORKS["megatron-core-2024"]) == (1.0, 0.0, 0.0)
    ms = est.model_shape(get_model("llama-3.1-8b"))
    mm = 2.0 * ms.n_layers * ms.mm_params_per_layer
    assert float(recompute_flop_per_token(ms, 8192, 1, TT)) == pytest.approx(0.5 * mm)
    assert float(hardware_flop_per_token(ms, 8192, 1, TT)) > float(hardware_flop_per_token(ms, 8192, 1))
    # and it costs time: selective between none and full on the same layout
    t = {rc: est.estimate(_req(recompute=rc, micro_batch=1, global_batch=8))["step_time_s"] for rc in ("none", "selective", "full")}
    assert t["none"] < t["selective"] < t["full"]


def test_torchtitan_op_sac_keeps_half_the_matmul_outputs():
    ms = est.model_shape(get_model("llama-3.1-8b"))
    lay = Layout.of(tp=1, pp=1, cp=1, ep=1, dp=8, vp=1, micro_batch=2, recompute=1, zero=3, sequence_parallel=0,
                    seq_len=8192, global_batch=16)
    saved = float(activation_bytes_per_layer(ms, lay, TT)[0])
    h, hd, H, kv, ff = 4096, 128, 32, 8, 14336
    mm_out = (H + 2 * kv) * hd + h + 2 * ff + h
    assert saved == pytest.approx(2.0 * 16384 * (h + H * hd + 0.5 * mm_out))
    assert saved < float(activation_bytes_per_layer(ms, lay, FRAMEWORKS["megatron-core-2024"])[0])


def test_torchtitan_cases_price_with_inline_hardware_and_one_fit_row():
    from costsim.validation.engine import load_cases, run_cases

    cases = [c for c in load_cases() if c.id.startswith("TT-")]
    assert len(cases) >= 15
    assert [c.id for c in cases if c.used_for_fit] == ["TT-70B-256-2D-ASYNCTP"]
    assert all(isinstance(c.inputs["hardware"], dict) and c.inputs["power_cap_w"] == 500 for c in cases)
    acc = get_accelerator("h100-sxm")
    res = run_cases([c for c in cases if c.id in ("TT-8B-8-COMPILE", "TT-405B-512-3D-1F1B")])
    assert all(r.error_frac is not None and abs(r.error_frac) <= 0.15 for r in res)
    # the inline part differs from the catalog's where the doc says so: 96 GB of HBM2e at 2.4 TB/s
    hw = cases[0].inputs["hardware"]
    assert hw["memory_gb"] == 96 and hw["memory_bandwidth_gb_per_s"] == 2400 and acc.memory_gb == 80
    assert np.isclose(hw["peak_tflop_per_s"]["bf16"], acc.peak_tflop_per_s.bf16)


def test_scenario_training_takes_the_stack_and_a_power_limit():
    """A scenario's training section takes framework and power_cap_w like `costsim train`; the core step profile uses
    them (a capped step is slower and draws at most the limit in its compute phase)."""
    from costsim.api.run import scenario_from_dict
    from costsim.sim.training_setup import _core_step_profile

    def prof(**kw):
        sc = scenario_from_dict({"name": "t", "training": {
            "model": "llama-3.1-8b", "hardware": "h100-sxm", "num_gpus": 8, "tokens": 1e12, "seq_len": 8192,
            "global_batch": 16, **kw,
            "layout": {"tp": 1, "pp": 1, "cp": 1, "micro_batch": 2, "recompute": "selective", "zero": 3, "vp": 1}}})
        return _core_step_profile(sc.training, sc)

    free, capped = prof(framework="torchtitan-2024"), prof(framework="torchtitan-2024", power_cap_w=500)
    assert capped["step_time_s"] > free["step_time_s"]
    assert capped["gpu_power_compute_w"] == pytest.approx(500.0)
    assert free["gpu_power_compute_w"] > 500.0
    # the stack reaches the core: Megatron's selective layout does not fit these 16K tokens per GPU, TorchTitan's does
    with pytest.raises(InputError, match="out of memory"):
        prof()
