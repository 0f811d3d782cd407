"""Narrow number formats shared by the training and inference cores (numpy-free constants and small
pure functions): storage bits per element including block scales, and the HBM traffic of turning a
bf16 tensor into the format.

  fp8   E4M3/E5M2 with one fp32 scale per tensor (Transformer Engine): 8 bits.
  mxfp8 OCP Microscaling v1.0: one E8M0 scale per 32 elements: 8.25 bits.
  fp6   MXFP6 (E2M3/E3M2, one E8M0 scale per 32): 6.25 bits (OCP MX v1.0; MI355X, Blackwell).
  fp4   NVFP4: E2M1 values, one E4M3 scale per 16 elements and an fp32 per-tensor scale: 4.5 bits
        (NVIDIA, "Pretraining Large Language Models with NVFP4", arXiv 2509.25149, Sec. 2).
  mxfp4 OCP MX: E2M1, one E8M0 scale per 32: 4.25 bits.

Quantizing a bf16 operand reads it (2 B) and writes the narrow values and their scales; formats with
a per-tensor scale computed from the current tensor (NVFP4's second level) first read it once more
for the absolute maximum. FP8 with delayed scaling (Transformer Engine default) takes the amax from
history, fused into the cast.
"""

from __future__ import annotations

BITS_PER_ELEMENT = {
    "fp32": 32.0, "bf16": 16.0, "fp16": 16.0, "fp8": 8.0, "mxfp8": 8.25, "fp6": 6.25, "fp4": 4.5, "mxfp4": 4.25,
    "int8": 8.0, "int4": 4.0,
}

# Extra full reads of the bf16 source to find the per-tensor absolute maximum before the cast.
AMAX_PASSES = {"fp8": 0.0, "mxfp8": 0.0, "fp6": 0.0, "fp4": 1.0, "mxfp4": 0.0}

# Transformer layers of an NVFP4 training run whose linear GEMMs (fprop, dgrad, wgrad) stay in bf16 unless the request
# says otherwise (TrainRequest.fp4_bf16_layers); attention, embeddings, the LM head and norms stay in higher precision
# in any case, and FP8 (Transformer Engine) runs every linear layer in fp8. None: Megatron-core's default
# (TransformerConfig.first_last_layers_bf16 False; Megatron-Bridge's bf16_with_nvfp4_mixed recipe leaves it so), which
# NVIDIA's published NVFP4 throughput runs price to (MLPerf Training v5.1 / v6.0 Llama 3.1 405B and Megatron-Bridge
# 26.06 rows: -7..+15 % with it, +9..+29 % with 16 % of the layers in bf16; the Llama 3.1 8B NVFP4 rows move from
# -6..+13 % to -13..+4 %). The NVFP4 paper's accuracy recipe keeps ~16 % of the layers in bf16 (arXiv 2509.25149, Sec. 4:
# the first 2 and last 8 of 62 blocks), a step 10-22 % longer in costsim (B200 8B to GB300 405B); that share was
# costsim's default until 2026-12-07.
FP4_BF16_LAYERS_DEFAULT = 0


def storage_bytes_per_element(dtype: str) -> float:
    """Bytes per stored element including block scales (fp4 -> 0.5625)."""
    if dtype not in BITS_PER_ELEMENT:
        raise KeyError(f"unknown datatype {dtype!r}; known: {', '.join(BITS_PER_ELEMENT)}")
    return BITS_PER_ELEMENT[dtype] / 8.0


def saved_input_bytes_per_element(dtype: str) -> float:
    """Bytes per element of a low-precision linear layer's input that training keeps for the backward pass:
    the quantized copy the weight-gradient GEMM reads (Transformer Engine saves it instead of the bf16 input).
    fp8 with per-tensor scaling: one copy (Hopper saves the transposed FP8 input; Blackwell's FP8 GEMMs take
    any layout); NVFP4 and MXFP4: a row-wise and a column-wise copy with their block scales (blocks along
    different axes). 2 (bf16) for 16/32-bit formats."""
    if BITS_PER_ELEMENT.get(dtype, 16.0) >= 16.0:
        return 2.0
    return (2.0 if dtype in ("fp4", "mxfp4") else 1.0) * storage_bytes_per_element(dtype)


def quantize_bytes_per_element(dtype: str, source_bytes: float = 2.0, layouts: int = 1) -> float:
    """HBM bytes moved to quantize one element of a `source_bytes` (bf16) tensor into `dtype`: read the
    source (plus an amax pass where the format needs one) and write the narrow value with its scales,
    in `layouts` copies from one read (training needs a row-wise copy for the forward/dgrad GEMM and a
    column-wise one, Hadamard-transformed for NVFP4, for the wgrad GEMM). 0 for 16/32-bit formats."""
    if BITS_PER_ELEMENT.get(dtype, 16.0) >= 16.0:
        return 0.0
    return source_bytes * (1.0 + AMAX_PASSES.get(dtype, 0.0)) + layouts * storage_bytes_per_element(dtype)
