"""AMD parts are priced from their measured matmul rate, not a generic default (issue 14, AMD regime)."""

from __future__ import annotations

import pytest

from costsim.core import calibration
from costsim.estimators import training as est
from costsim.specs import catalog
from costsim.specs.requests import TrainRequest


def _achieved_tflop_per_gpu(hardware: str, precision: str = "bf16") -> float:
    req = TrainRequest(model="llama-3.1-8b", hardware=hardware, gpus=8, seq_len=8192, global_batch=128, precision=precision,
                       tp=1, pp=1, cp=1, ep=1, micro_batch=2, zero=1, recompute="none", tokens=1e12, top_k=1)
    r = est.estimate(req)
    assert r["feasible"]
    return r["achieved_flop_per_s_per_gpu"] / 1e12


@pytest.mark.parametrize("acc_id", ["mi300x", "mi325x", "mi355x"])
def test_bf16_training_never_beats_the_measured_matmul_ceiling(acc_id):
    """A training step also runs attention, elementwise kernels and communication, so its model FLOP rate per GPU must
    stay below the best large GEMM measured on the device (MAMF); the old default (75 % of the datasheet peak) priced
    MI300X at 825 TFLOP/s against a measured 668."""
    mamf = catalog.get_accelerator(acc_id).efficiency.mamf_bf16_tflop_per_s
    assert _achieved_tflop_per_gpu(acc_id) < mamf


def test_mi300x_ceiling_is_the_h100_fit_scaled_by_measured_efficiency():
    acc = catalog.get_accelerator("mi300x")
    frac = calibration.matmul_frac(acc.id, "bf16", 1307.4e12, 1307.4e12, None, est.mamf_bf16_frac(acc))
    expected = calibration.MATMUL_FRAC["h100"] * (668.4 / 1307.4) / calibration.H100_MAMF_BF16_FRAC
    assert frac == pytest.approx(expected)
    assert 0.5 < frac < 0.56  # well below the 0.75 default, above the raw MAMF share (the tile model takes the rest)


def test_same_die_higher_power_limit_trains_faster():
    """MI325X is MI300X's CDNA 3 die at 1,000 W instead of 750 W: its measured matmul rate is higher, so is its
    priced training throughput (the datasheet peaks are identical)."""
    assert _achieved_tflop_per_gpu("mi325x") > 1.1 * _achieved_tflop_per_gpu("mi300x")


def test_devices_without_a_measurement_keep_the_default():
    acc = catalog.get_accelerator("gaudi3")
    assert est.mamf_bf16_frac(acc) is None
    assert calibration.matmul_frac(acc.id, "bf16", 1.0, 1.0, None, None) == calibration.MATMUL_FRAC_DEFAULT


def test_malformed_validation_case_file_names_file_and_line(tmp_path):
    """A case file with a YAML syntax error stops `costsim validate` with the file, line and fix, not an internal error."""
    from costsim.errors import InputError
    from costsim.validation.engine import load_cases

    (tmp_path / "bad.yaml").write_text("- id: x\n  known_gap: costsim is slow: see\n")
    with pytest.raises(InputError, match=r"bad\.yaml' at line 2"):
        load_cases(tmp_path)


def test_gemm_case_timing_must_be_named():
    from costsim.errors import InputError
    from costsim.validation.engine import Case
    from costsim.validation.training import run_matmul_case

    base = dict(id="t", kind="matmul_throughput", source="test", metric="flop_per_s", expected=1e15, comparison="within",
                tolerance_frac=0.15, tolerance_reason="test", used_for_fit=False)
    ok = Case(**base, inputs={"hardware": "mi300x", "dtype": "fp8", "m": 8192, "n": 8192, "k": 8192, "timing": "in_stream"})
    assert 1.0e15 < run_matmul_case(ok) < 1.3e15  # the Azure hipBLASLt row measures 1,223 TFLOP/s
    bad = Case(**base, inputs={"hardware": "mi300x", "dtype": "fp8", "m": 8192, "n": 8192, "k": 8192, "timing": "warm"})
    with pytest.raises(InputError, match="timing"):
        run_matmul_case(bad)


def test_hardware_show_says_how_training_prices_gemms():
    """`costsim hardware show` tells a planner which share of the datasheet peak training GEMMs get and why."""
    from costsim.api.catalog import show_hardware

    amd, nv, other = show_hardware("mi300x"), show_hardware("h100-sxm"), show_hardware("gaudi3")
    assert 0.5 < amd["training_gemm_ceiling_frac"] < 0.56 and "measured best BF16 matmul" in amd["training_gemm_ceiling_basis"]
    assert amd["measured_bf16_matmul_flop_per_s"] == pytest.approx(668.4e12)
    assert nv["training_gemm_ceiling_frac"] == pytest.approx(0.835 * calibration.TRAINING_SUSTAINED_FRAC["h100"])
    assert "default" in other["training_gemm_ceiling_basis"] and other["measured_bf16_matmul_flop_per_s"] is None
