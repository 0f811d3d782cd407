"""Datatypes of the inference core: stored bits per weight, KV element and GEMM activation (scale factors included),
the dequantization and microscaled-upcast ALU work per weight, and the datatype a device's tensor cores compute a
weight format in. numpy only."""

from __future__ import annotations

import numpy as np

from costsim.core.inference_types import _a

# --------------------------------------------------------------------------------------------
# precisions
# --------------------------------------------------------------------------------------------
#: Stored bits per weight including scale overhead.
#:   bf16/fp16 16; fp8 8 (per-tensor scale, negligible); int8 8 + one fp16 scale per 128 weights
#:   (8.125); int4 4 bits + fp16 scale per group of 32 (or scale+zero per 64) = 4.5 (AWQ/GPTQ at
#:   group 128 with scale+zero would be 4.25); llama.cpp Q8_0 = 32 int8 + one fp16 scale = 8.5;
#:   Q4_0 = 32 4-bit + one fp16 scale = 4.5 (calibration README).
#:   Microscaling formats (OCP MX spec v1.0; NVIDIA NVFP4):
#:   fp4 = NVFP4: e2m1 values + one e4m3 (8-bit) scale per block of 16 + one fp32 per-tensor scale
#:         -> 4 + 8/16 = 4.5 bits (the per-tensor scale is negligible);
#:   mxfp4: e2m1 values + one e8m0 (8-bit) scale per block of 32 -> 4 + 8/32 = 4.25 bits;
#:   fp6 = MXFP6 (e2m3 / e3m2) + e8m0 scale per 32 -> 6 + 8/32 = 6.25 bits.
WEIGHT_BITS_PER_PARAM: dict[str, float] = {
    "bf16": 16.0, "fp16": 16.0, "fp8": 8.0, "int8": 8.125, "int4": 4.5, "q8_0": 8.5, "q4_0": 4.5,
    "fp4": 4.5, "mxfp4": 4.25, "fp6": 6.25,
}
#: KV-cache bits per element: int8 with one fp16 scale per 128 values; int4 with fp16 scale+zero per 64;
#: fp4 = NVFP4 KV cache (e2m1 + e4m3 scale per 16 values; TensorRT-LLM on Blackwell).
KV_BITS_PER_ELEMENT: dict[str, float] = {"bf16": 16.0, "fp16": 16.0, "fp8": 8.0, "int8": 8.125, "int4": 4.5, "fp4": 4.5}

#: Bits per activation element fed to a GEMM, by the datatype the GEMM computes in (W8A8 / W4A4
#: quantize activations on the fly, with the same block scales as the weights): bf16/fp16 16,
#: fp8 8 (per-tensor scale), int8 8, fp4 4.5 (NVFP4: e4m3 scale per 16), fp6 6.25 (MXFP6).
#: MXFP4 activations (e8m0 scale per 32) are 4.25 bits: `activation_bits` takes the weight format.
#: GEMM outputs are written in 16 bit whatever the input format.
ACT_BITS_BY_COMPUTE_DTYPE: dict[str, float] = {
    "bf16": 16.0, "fp16": 16.0, "fp32": 32.0, "fp8": 8.0, "int8": 8.0, "int4": 16.0, "fp4": 4.5, "fp6": 6.25,
}

#: ALU operations per weight to dequantize llama.cpp blocks inside the GEMV, counted against the
#: vector (fp32) peak: fitted on the M1 Max llama.cpp decode cases (q4_0 ~10, q8_0 tied at half),
#: an effective number that also absorbs the less efficient quantized GEMV kernels.
#: Other formats on GPUs use fused kernels (Marlin, FP8/FP4 tensor cores) whose dequantization
#: hides under the weight stream; they get 0.
DEQUANT_FLOP_PER_WEIGHT: dict[str, float] = {
    "bf16": 0.0, "fp16": 0.0, "fp8": 0.0, "int8": 0.0, "int4": 0.0, "q8_0": 5.0, "q4_0": 10.0,
    "fp4": 0.0, "mxfp4": 0.0, "fp6": 0.0,
}

#: Weight-only GEMMs of microscaled formats on parts without FP4/FP6 tensor cores (Hopper, Ampere: TensorRT-LLM's
#: and vLLM's Triton MoE kernels for gpt-oss, Marlin-style FP4) upcast every weight tile to BF16 in registers before
#: the BF16 MMA: nibble unpack, exponent rebias, e8m0 scale multiply. In a decode step that ALU work does not hide
#: under the 4-bit weight stream, and a weight tile is upcast once for each tile of activation rows it meets.
#: Measured on one H200 (costsim/data/measurements/h200_moe_kernels_2026-12-04.json, a plain Triton tl.dot_scaled
#: kernel at gpt-oss and Qwen3-30B-A3B expert shapes): at <= 16 rows per expert MXFP4 takes 1.08-1.2x the time of the
#: same kernel with BF16 weights although it reads 3.8x fewer bytes (~0.5 ps per weight per tile, ~35 fp32-ALU
#: operations at the vector peak; the extra time adds to the MMA's), and with more rows the extra time grows with the
#: row tiles. That plain kernel bounds TensorRT-LLM's (triton_kernels' matmul_ogs, swizzled for cheaper upcasts) from
#: above; the operations per weight are fitted on published rows (UPCAST_FIT_CASES): 10, within that bound.
#: Prompt GEMMs get no upcast term: the fitted prompt-heavy row (8,192 in / 1,024 out) leaves no room for one
#: (charging it there moves that row from -5 % to -12 % at the decode fit, and every prompt-heavy gpt-oss row on
#: Hopper 5-10 points slower), so the production kernel's large-M path hides it where the plain kernel did not.
MICROSCALED_UPCAST_FLOP_PER_WEIGHT = 10.0
#: activation rows one upcast weight tile serves (the measured kernel's best row tile at >= 128 rows per expert)
UPCAST_TILE_ROWS = 128.0
#: the published rows MICROSCALED_UPCAST_FLOP_PER_WEIGHT is fitted on, decode- and prompt-heavy, two models, two
#: parts (mean |log error| 0.198 -> 0.070); the other Hopper gpt-oss rows are held out
UPCAST_FIT_CASES = ("I-trtpg-gpt-oss-120b-h200-fp8-tp1-1000-1000", "I-trtpg-gpt-oss-20b-h100-fp8-tp1-1000-1000",
                    "I-trtpg-gpt-oss-120b-h200-fp8-tp1-8192-1024")


def upcast_flop_per_weight_tile(weight_precision: str, compute_dtype: str) -> float:
    """ALU operations per microscaled weight per row tile when the GEMM runs weight-only in 16 bit (no FP4/FP6 MMA)."""
    if weight_precision in ("fp4", "mxfp4", "fp6") and compute_dtype not in MICROSCALED_DTYPES:
        return MICROSCALED_UPCAST_FLOP_PER_WEIGHT
    return 0.0


def upcast_tiles(rows):
    """Row tiles a weight tile is upcast for: ceil(rows / UPCAST_TILE_ROWS), at least one."""
    return np.maximum(1.0, np.ceil(_a(rows) / UPCAST_TILE_ROWS))


#: Compute datatypes that run on reduced-precision tensor cores (their achievable fraction is
#: `lowp_matmul_rel` x matmul_frac for fp8/int8, `fp4_matmul_rel` x matmul_frac for fp4/fp6).
LOWP_DTYPES = ("fp8", "int8", "int4")
MICROSCALED_DTYPES = ("fp4", "fp6")


def activation_bits(weight_precision: str, compute_dtype: str) -> float:
    """Bits per GEMM input activation: MXFP4 weights computed in fp4 quantize activations to MXFP4
    (4.25 bits); otherwise the compute datatype decides (ACT_BITS_BY_COMPUTE_DTYPE)."""
    if weight_precision == "mxfp4" and compute_dtype == "fp4":
        return 4.25
    return ACT_BITS_BY_COMPUTE_DTYPE.get(compute_dtype, 16.0)


def compute_dtype(weight_precision: str, supported: set[str] | frozenset[str]) -> str:
    """Datatype the matmuls run in for a weight storage format on a device that supports `supported`.

    bf16/fp16 -> themselves; fp8 -> fp8 where the device has FP8 tensor cores (H100/H200), else
    weight-only (bf16); int8 -> W8A8 int8 where int8 matrix units exist, else fp16/bf16;
    int4 -> weight-only, computes in bf16 (fp16 where bf16 is missing); q8_0/q4_0 (llama.cpp)
    dequantize to fp16 (Apple GPUs compute fp16 at the fp32 rate);
    fp4 (NVFP4) / mxfp4 -> W4A4 on FP4 tensor cores (Blackwell, MI355X), else weight-only in
    bf16 (Marlin-style dequantization on Hopper/Ampere); fp6 -> FP6 tensor cores where the
    device lists an fp6 rate (Blackwell, MI355X), else weight-only in bf16 (FP6-LLM, Xia et al. 2024).
    """
    half = "bf16" if "bf16" in supported else "fp16"
    if weight_precision in ("bf16", "fp16"):
        return weight_precision if weight_precision in supported or not supported else half
    if weight_precision == "fp8":
        return "fp8" if "fp8" in supported else half
    if weight_precision == "int8":
        return "int8" if "int8" in supported else half
    if weight_precision == "int4":
        return half
    if weight_precision in ("q8_0", "q4_0"):
        return "fp16" if "fp16" in supported else half
    if weight_precision in ("fp4", "mxfp4"):
        return "fp4" if "fp4" in supported else half
    if weight_precision == "fp6":
        return "fp6" if "fp6" in supported else half
    raise ValueError(f"unknown weight precision {weight_precision!r}")
