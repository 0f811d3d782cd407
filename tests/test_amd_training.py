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
    acc = catalog.get_accelerator("l40s")
    assert est.mamf_bf16_frac(acc) is None and calibration.accelerator_family(acc.id) is None
    assert calibration.matmul_frac(acc.id, "bf16", 1.0, 1.0, None, None) == calibration.MATMUL_FRAC_DEFAULT
    # Trainium has a fitted family of its own (a published whole step), not the default
    assert calibration.matmul_frac("trainium2", "bf16", 1.0, 1.0, None, None) == calibration.MATMUL_FRAC["trainium"]


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

    amd, nv, other = show_hardware("mi300x"), show_hardware("h100-sxm"), show_hardware("l40s")
    assert 0.5 < amd["training_gemm_ceiling_frac"] < 0.56 and "measured best BF16 matmul" in amd["training_gemm_ceiling_basis"]
    assert amd["measured_bf16_matmul_flop_per_s"] == pytest.approx(668.4e12)
    assert nv["training_gemm_ceiling_frac"] == pytest.approx(0.835 * calibration.TRAINING_SUSTAINED_FRAC["h100"])
    assert "default" in other["training_gemm_ceiling_basis"] and other["measured_bf16_matmul_flop_per_s"] is None
    trn = show_hardware("trainium1")
    assert trn["training_gemm_ceiling_frac"] == pytest.approx(calibration.MATMUL_FRAC["trainium"])
    assert "Trn1" in trn["training_gemm_ceiling_basis"]


def _shape(acc_id: str, precision: str, attention: str = "bf16"):
    from costsim.specs.catalog import node_for

    acc = catalog.get_accelerator(acc_id)
    return est.hardware_shape(acc, node_for(acc), precision, None, attention)


def test_fp4_gemms_follow_the_fp4_to_fp8_datasheet_ratio():
    """Blackwell Ultra (GB300, B300) publishes 3x its FP8 rate in NVFP4, B200 / GB200 2x: at the same FP8 rate the
    GB300's FP4 GEMMs are priced 1.5x the GB200's (they were equal), FP8 unchanged."""
    gb200, gb300 = _shape("gb200", "fp4"), _shape("gb300", "fp4")
    rate = lambda h: h.peak_flop_per_s * h.matmul_frac  # noqa: E731
    assert rate(gb300) == pytest.approx(1.5 * rate(gb200), rel=1e-6)
    assert rate(_shape("gb300", "fp8")) == pytest.approx(rate(_shape("gb200", "fp8")), rel=1e-6)


def test_fp8_parameter_gather_halves_the_linear_weights_bytes():
    """Megatron-core's FP8 recipes all-gather the FP8 copy of the linear layers' weights (1 byte), embeddings and
    norms in bf16; a bf16 run and the 2021-2022 stacks gather bf16."""
    from costsim.core import training as T
    from costsim.core.frameworks import FRAMEWORKS
    from costsim.estimators.training import model_shape

    m = model_shape(catalog.get_model("llama-3.1-8b"))
    lay = T.Layout.of(tp=1, pp=1, cp=1, ep=1, dp=64, vp=1, micro_batch=1, recompute=0, zero=1, sequence_parallel=0,
                      seq_len=8192, global_batch=64)
    dense_b, _ = T.param_gather_bytes_per_param(m, lay, _shape("b200", "fp8"), FRAMEWORKS["megatron-core-2024"])
    assert 1.0 < float(dense_b) < 1.2  # 8B: ~87 % of its parameters are linear-layer weights
    assert T.param_gather_bytes_per_param(m, lay, _shape("b200", "bf16"), FRAMEWORKS["megatron-core-2024"]) == (2.0, 2.0)
    assert T.param_gather_bytes_per_param(m, lay, _shape("b200", "fp8"), FRAMEWORKS["megatron-2022"]) == (2.0, 2.0)


def test_fp8_attention_speeds_the_step_and_needs_an_fp8_device():
    from costsim.errors import InputError

    def step(attention):
        req = TrainRequest(model="llama-3.1-8b", hardware="b200", gpus=8, seq_len=8192, global_batch=16, precision="fp4",
                           attention_precision=attention, tp=1, pp=1, cp=1, ep=1, micro_batch=2, zero=1,
                           recompute="none", tokens=1e12, top_k=1)
        return est.estimate(req)["step_time_s"]

    assert step("fp8") < 0.92 * step("bf16")  # seq 8,192: the attention core is a large share once GEMMs run in FP4
    with pytest.raises(InputError, match="attention"):
        _shape("a100-80gb-sxm", "bf16", "fp8")


def test_scenario_training_workload_carries_attention_precision():
    """A scenario's training section takes attention_precision like `costsim train`; the core step profile uses it."""
    from costsim.sim.training_setup import _core_step_profile
    from costsim.api.run import scenario_from_dict

    def step(att):
        sc = scenario_from_dict({"name": "t", "training": {
            "model": "llama-3.1-8b", "hardware": "b200", "num_gpus": 8, "tokens": 1e12, "seq_len": 8192, "global_batch": 16,
            "precision": "fp4", "attention_precision": att,
            "layout": {"tp": 1, "pp": 1, "cp": 1, "micro_batch": 2, "recompute": "none", "zero": 1, "vp": 1}}})
        return _core_step_profile(sc.training, sc)["step_time_s"]

    assert step("fp8") < step("bf16")
