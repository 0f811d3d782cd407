"""Fitted and estimated efficiency parameters of the training-step model (costsim.core.training).

Fit (scripts: `.venv/bin/python -m costsim.validation.training --fit`, least squares on the
relative step-time error):
  fitted on  K22-sel, K175-sel, K530-sel, K1T-sel (Korthikanti et al. 2022, Table 5, A100 80GB,
             selective recomputation + sequence parallelism) and
             DGXC405-576 (NVIDIA dgxc-benchmarking, Llama 3.1 405B on 576 H100), jointly
             -> MATMUL_FRAC['a100'] = 0.834, MATMUL_FRAC['h100'] = 0.813, GEMM_WIDTH_HALF = 359;
             fit residuals: +0.8%, -1.3%, -1.4%, +2.0%, 0.0%;
  checked on K22-full, K175-full, K530-full, K1T-full (full recomputation), L405-8k, L405-16k
             (Meta, 8k/16k H100), DGXC-grok1-2048 (MoE) and the whole-run cases.
Estimates (not fitted; documented): GEMM shape half-saturation points, HBM fraction, reserve,
FP8 speed-up.
"""

from __future__ import annotations

# Achievable fraction of the dense bf16/fp16 peak for large, well-shaped GEMMs inside a training
# step (kernel efficiency x clock under load). Keyed by accelerator family (id prefix).
MATMUL_FRAC = {
    "a100": 0.834,  # fitted (K*-sel); kernels.csv shows 70-80% of 312 TFLOP/s for large A100 GEMMs
    "h100": 0.813,  # fitted (DGXC405-576); kernels.csv K-h100-7b-mlp ~748 of 989 TFLOP/s (76%) for one MLP
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
ELEMENTWISE_BYTES_PER_D = 300.0

# Saturating per-GPU GEMM shape: eff = frac * x/(x+X0) * T/(T+T0) with x = d_model/tp and
# T = micro_batch*seq_len/cp rows. X0 fitted on K*-sel + DGXC405-576 (the MFU rise from the 22B
# to the 1T shape at tp=8). T0 is an estimate: kernels.csv (vidur, A100) shows a 512-row MLP
# already at ~74% of peak, so the row half-saturation point is small.
GEMM_WIDTH_HALF = 359.0
GEMM_ROWS_HALF = 32.0

# Achievable fraction of peak HBM bandwidth for streaming elementwise kernels
# (kernels.csv: A100 weight streaming at 76% of 2.04 TB/s; H100 at 84% of 3.35 TB/s).
HBM_ACHIEVABLE_FRAC = 0.8

# Memory the framework keeps for itself: CUDA context, NCCL buffers, allocator fragmentation
# (estimate: PyTorch + NCCL typically 2-4 GB on an 80 GB device).
FRAMEWORK_RESERVE_BYTES = 3.0e9

# FP8 matmuls: effective speed-up over bf16 for the same GEMMs in a training step. Not a free
# 2x: quantize/scale kernels, bf16 attention and elementwise ops stay. NVIDIA NeMo/Transformer
# Engine publish ~1.3-1.5x end-to-end for Llama-class training; no FP8 case is in
# training_steps.csv yet, so this is an estimate to replace when one is.
FP8_MATMUL_SPEEDUP = 1.4


def matmul_frac(accelerator_id: str, dtype: str, peak_dtype_flop_per_s: float, peak_bf16_flop_per_s: float,
                profile_override: float | None = None) -> float:
    """Achievable fraction of the `dtype` peak for large GEMMs."""
    base = profile_override
    if base is None:
        base = MATMUL_FRAC_DEFAULT
        for prefix, v in MATMUL_FRAC.items():
            if accelerator_id.startswith(prefix):
                base = v
                break
    if dtype == "fp8" and peak_dtype_flop_per_s > 0 and peak_bf16_flop_per_s > 0:
        # same wall-clock gain FP8_MATMUL_SPEEDUP, whatever the datasheet ratio
        return min(1.0, base * FP8_MATMUL_SPEEDUP * peak_bf16_flop_per_s / peak_dtype_flop_per_s)
    return base
