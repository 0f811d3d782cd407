"""Fitted and estimated efficiency parameters of the training-step model (costsim.core.training).

Fit (scripts: `.venv/bin/python -m costsim.validation.training --fit`, least squares on the
relative step-time error):
  fitted on  K22-sel, K175-sel, K530-sel, K1T-sel (Korthikanti et al. 2022, Table 5, A100 80GB,
             selective recomputation + sequence parallelism) and
             DGXC405-576 (NVIDIA dgxc-benchmarking, Llama 3.1 405B on 576 H100), jointly
             -> MATMUL_FRAC['a100'] = 0.827, MATMUL_FRAC['h100'] = 0.812, GEMM_WIDTH_HALF = 348;
             fit residuals: +0.7%, -1.2%, -1.2%, +1.7%, 0.0% (refit after the FlashAttention
             memory, stage-balancing and per-dtype GEMM-row changes);
  checked on K22-full, K175-full, K530-full, K1T-full (full recomputation), L405-8k, L405-16k
             (Meta, 8k/16k H100), DGXC-grok1-2048 (MoE) and the whole-run cases.
FP8 gain and the H100 GEMM row half-saturation points: fitted on the 8192x8192 row of an H100
kernel measurement (FP8_FRAC_RATIO, GEMM_ROWS_HALF_BY_FAMILY); the other measured shapes are
held out (validation kind matmul_throughput).
Estimates (not fitted; documented): A100 GEMM row half-saturation, HBM fraction, reserve.
"""

from __future__ import annotations

# Achievable fraction of the dense bf16/fp16 peak for large, well-shaped GEMMs inside a training
# step (kernel efficiency x clock under load). Keyed by accelerator family (id prefix).
MATMUL_FRAC = {
    "a100": 0.799,  # fitted (K*-sel + DGXC405-576 step times, with ELEMENTWISE_BYTES_PER_D); kernels.csv: 70-80% of 312 TFLOP/s
    "h100": 0.835,  # large-shape GEMM ceiling fitted on the H100 kernel measurement (costsim.core.matmul)
}
# Default for hardware without a fitted family: a little below the fitted H100/A100 values
# (an estimate until a calibration case exists for that device).
MATMUL_FRAC_DEFAULT = 0.75
MATMUL_FRAC_SOURCE = "fitted on K*-sel (A100) and DGXC405-576 (H100) step times; others default to the H100 value"

# Elementwise / normalization / softmax / dropout traffic per token per layer, in bytes per unit
# of d_model, forward + backward (memory-bound ops between the GEMMs). Estimate from a byte
# count: forward 2 norms (~8d), 2 residual adds (~12d), activation over d_ff=4d (~24d), dropouts
# and bias adds (~16d) = ~60d bytes; backward ~2x; recomputation and softmax/rope extras ->
# ~300 B per d per token per layer. (A free fit prefers larger values and X0 -> 0 with the same
# residuals, so the byte count is kept and X0 is fitted.)
# Refit (costsim.core.matmul GEMM model, no width term X0 any more): 1269 B per d per token per
# layer, i.e. this term now carries all non-GEMM time that scales with tokens*d (norms, rope,
# activations, softmax extras, kernel gaps), ~4x the plain byte count above.
ELEMENTWISE_BYTES_PER_D = 1269.0

# Saturating per-GPU GEMM shape: eff = frac * x/(x+X0) * T/(T+T0) with x = d_model/tp and
# T = micro_batch*seq_len/cp rows. X0 fitted on K*-sel + DGXC405-576 (the MFU rise from the 22B
# to the 1T shape at tp=8). T0 is an estimate: kernels.csv (vidur, A100) shows a 512-row MLP
# already at ~74% of peak, so the row half-saturation point is small.
GEMM_WIDTH_HALF = 348.0
GEMM_ROWS_HALF = 32.0

# Achievable fraction of peak HBM bandwidth for streaming elementwise kernels
# (kernels.csv: A100 weight streaming at 76% of 2.04 TB/s; H100 at 84% of 3.35 TB/s).
HBM_ACHIEVABLE_FRAC = 0.8

# Memory the framework keeps for itself: CUDA context, NCCL buffers, allocator fragmentation
# (estimate: PyTorch + NCCL typically 2-4 GB on an 80 GB device).
FRAMEWORK_RESERVE_BYTES = 3.0e9

# FP8 linear-layer GEMMs (Transformer Engine / torch._scaled_mm), measured on one H100 SXM
# (costsim/data/measurements/h100_sxm_gpu_calibration_2026-11-27.json, 2026-11-27):
# 8192^3: bf16 755 TFLOP/s (76.3% of 989.4), fp8 1275 TFLOP/s (64.4% of 1978.9) -> the fp8
# large-GEMM fraction is 0.844 x the bf16 one (1.69x the bf16 speed, not 2x). Smaller GEMMs gain
# less because fp8 needs more rows to saturate: T0 below (M=512: 1.46x, M=128: 1.30x measured).
# Only the linear layers speed up: attention (FlashAttention, bf16), the LM head, elementwise
# ops and communication keep their bf16 time (costsim.core.training.step_time).
FP8_FRAC_RATIO = (1275.0 / 1978.9) / (755.0 / 989.4)  # 0.844, measured (fitted on the 8192x8192 row)
FP8_SOURCE = ("fp8/bf16 GEMM throughput measured on one H100 SXM (costsim/data/measurements/"
              "h100_sxm_gpu_calibration_2026-11-27.json): 1.69x at 8192^3, less for small GEMMs")

# GEMM row half-saturation T0 (tokens) by accelerator family and datatype.
#  h100 bf16 153, fp8 266: least squares on the N=K=8192 row (M = 512..16384) of the H100
#    measurement above (used_for_fit in costsim/validation/cases/measured_h100_gemm.yaml; the other
#    shapes there are held out).
#  a100 32: kernels.csv (vidur, A100): a 512-row MLP already at ~74% of peak (estimate).
GEMM_ROWS_HALF_BY_FAMILY = {
    ("h100", "bf16"): 153.0, ("h100", "fp16"): 153.0, ("h100", "fp8"): 266.0,
    ("a100", "bf16"): 32.0, ("a100", "fp16"): 32.0,
}
GEMM_ROWS_HALF_FP8_FACTOR = 266.0 / 153.0  # fp8 T0 / bf16 T0 where only bf16 is known (H100 ratio)


def _family(accelerator_id: str) -> str | None:
    for prefix in MATMUL_FRAC:
        if accelerator_id.startswith(prefix):
            return prefix
    return None


def gemm_rows_half(accelerator_id: str, dtype: str) -> float:
    """Row half-saturation T0 of the GEMM-shape function for this accelerator and datatype."""
    fam = _family(accelerator_id)
    if fam is not None and (fam, dtype) in GEMM_ROWS_HALF_BY_FAMILY:
        return GEMM_ROWS_HALF_BY_FAMILY[(fam, dtype)]
    if fam is None:  # no measurement for this device: the H100 values (a current-generation GPU; estimate)
        return GEMM_ROWS_HALF_BY_FAMILY.get(("h100", dtype), GEMM_ROWS_HALF_BY_FAMILY[("h100", "bf16")])
    base = GEMM_ROWS_HALF_BY_FAMILY.get((fam, "bf16"), GEMM_ROWS_HALF)
    return base * (GEMM_ROWS_HALF_FP8_FACTOR if dtype == "fp8" else 1.0)


def matmul_frac(accelerator_id: str, dtype: str, peak_dtype_flop_per_s: float, peak_bf16_flop_per_s: float,
                profile_override: float | None = None) -> float:
    """Achievable fraction of the `dtype` peak for large GEMMs (bf16 fraction x the measured fp8
    ratio for fp8, capped at the measured wall-clock gain where the datasheet ratio is not 2x)."""
    base = profile_override
    if base is None:
        fam = _family(accelerator_id)
        base = MATMUL_FRAC[fam] if fam else MATMUL_FRAC_DEFAULT
    if dtype == "fp8" and peak_dtype_flop_per_s > 0 and peak_bf16_flop_per_s > 0:
        # measured on H100: fp8 reaches FP8_FRAC_RATIO x the bf16 fraction of its (2x) peak, i.e.
        # a wall-clock gain of 2 * FP8_FRAC_RATIO; on other devices the same wall-clock gain
        gain = 2.0 * FP8_FRAC_RATIO
        return min(1.0, base * gain * peak_bf16_flop_per_s / peak_dtype_flop_per_s)
    return base
