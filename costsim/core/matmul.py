"""One matmul time model for every core (numpy only, vectorized: every argument broadcasts).

    time(M, N, K) = max(t_memory, t_compute) + latency
    t_memory  = (M*K + K*N) * in_bytes + M*N * out_bytes  /  (bandwidth * bandwidth_frac)
    t_compute = 2*M*N*K / (peak * ceiling_frac * tile_efficiency(M, N))
    tile_efficiency = max over the library's output tiles (tm x tn) of
                      rel_eff(tile) * tiles / (waves * num_compute_units),
                      tiles = ceil(M/tm) * ceil(N/tn), waves = ceil(tiles / num_compute_units)

C = A (M x K) @ B (K x N); M is the token (row) dimension, N the output width, K the reduction.
Wave quantization: the output is cut into tiles, one tile per compute unit (SM) at a time; the
last wave runs with idle units (M=512, N=4096 in 128x256 tiles = 64 tiles on 132 SMs leaves half
the SMs idle). The library (cuBLAS/CUTLASS heuristics) picks the tile that finishes first, so
smaller tiles (slightly lower per-tile efficiency) win on small outputs: min over TILE_SHAPES.
`latency_s` is the fixed cost per kernel: an isolated eager call (PyTorch dispatch + launch + ramp
+ tail, what a CUDA-event timing of one call sees: ISOLATED_CALL_LATENCY_S) or a kernel inside a
stream of back-to-back kernels (launch hidden, ramp/tail only: IN_STREAM_LATENCY_S).

Fitted (costsim.validation.training.fit_gemm, least squares on log time) on the H100 SXM kernel
measurement costsim/data/measurements/h100_sxm_gpu_calibration_2026-11-27.json, rows
N x K = 4096x4096, 8192x8192 and 3584x8192 at M = 512..16384 (used_for_fit in
costsim/validation/cases/measured_h100_gemm.yaml); the shapes 14336x4096, 4096x14336,
8192x3584 and 6144x16384 are held out. The fp8 ceiling is tied to the bf16 one by the measured
8192^3 ratio (calibration.FP8_FRAC_RATIO), so FP8 gains 1.69x at large shapes, not a free 2x.
"""

from __future__ import annotations

import numpy as np

#: Output tile shapes (rows x cols) the GEMM library chooses from, with their throughput relative
#: to the largest tile: 128x256 and 128x128 are the Hopper/Ampere cuBLAS/CUTLASS workhorses, 64x128
#: the small-output fallback. rel_eff fitted (see module docstring).
TILE_SHAPES = ((128.0, 256.0), (128.0, 128.0), (64.0, 128.0))
TILE_REL_EFF = (1.0, 0.984, 0.899)

#: Large-shape ceiling: achievable fraction of the datatype's dense peak for a perfectly tiled
#: GEMM, by accelerator family and datatype (H100: fitted on the kernel measurement; fp8 = bf16 x
#: the measured 8192^3 fp8/bf16 fraction ratio 0.844).
CEILING_FRAC_BY_FAMILY = {("h100", "bf16"): 0.835, ("h100", "fp16"): 0.835, ("h100", "fp8"): 0.835 * 0.8437}

#: Fixed cost of one isolated eager call, by datatype (fitted, H100 kernel measurement: PyTorch
#: dispatch + launch + ramp + tail; torch._scaled_mm for fp8).
ISOLATED_CALL_LATENCY_S = {"bf16": 33.4e-6, "fp16": 33.4e-6, "fp8": 34.7e-6}
#: Fixed cost of a kernel inside a stream of back-to-back kernels (launch overlapped; prologue,
#: ramp and tail wave only). Estimate: ~3 us (kernels.csv: vidur non-attention ops of a 7B layer
#: at 1 token, 0.29 ms for ~10 kernels vs 0.26 ms of weight streaming).
IN_STREAM_LATENCY_S = 3.0e-6

#: Achievable fraction of peak HBM bandwidth for the GEMM operand stream (H100 measurement:
#: device-to-device copy 3.01 TB/s of 3.35 TB/s peak).
BANDWIDTH_FRAC = 0.90

#: Default number of compute units (SMs) by device category where a profile gives none
#: (estimates: a current data-center GPU, a consumer GPU, SoC GPU clusters).
NUM_COMPUTE_UNITS_DEFAULT = {
    "datacenter_gpu": 132, "ai_accelerator": 64, "consumer_gpu": 76, "laptop_soc": 32, "desktop_soc": 64,
    "phone_soc": 6, "edge_module": 16,
}


def _a(x):
    return np.asarray(x, dtype=float)


def wave_efficiency(m, n, num_compute_units, tile_m, tile_n):
    """Share of compute-unit slots doing useful work: tiles / (waves * units), times the useful share of the
    tiles themselves (an output of N = 192 columns in 128- or 256-wide tiles computes 256 columns, 75 % useful)."""
    u = _a(num_compute_units)
    tm, tn = np.ceil(_a(m) / tile_m), np.ceil(_a(n) / tile_n)
    tiles = tm * tn
    waves = np.ceil(tiles / u)
    filled = (_a(m) * _a(n)) / np.maximum(tm * tile_m * tn * tile_n, 1.0)
    return tiles / (np.maximum(waves, 1.0) * u) * filled


def tile_efficiency(m, n, num_compute_units):
    """Best over the library's tiles of rel_eff x wave efficiency (0..1]."""
    best = None
    for (tm, tn), rel in zip(TILE_SHAPES, TILE_REL_EFF):
        e = rel * wave_efficiency(m, n, num_compute_units, tm, tn)
        best = e if best is None else np.maximum(best, e)
    return best


def matmul_breakdown(m, n, k, peak_flop_per_s, ceiling_frac, bandwidth_bytes_per_s, num_compute_units,
                     latency_s, in_bytes=2.0, out_bytes=2.0, bandwidth_frac=BANDWIDTH_FRAC):
    """Time of C(MxN) = A(MxK) @ B(KxN) and its parts (s); every argument broadcasts."""
    m, n, k = _a(m), _a(n), _a(k)
    flop = 2.0 * m * n * k
    eff = _a(ceiling_frac) * tile_efficiency(m, n, num_compute_units)
    t_comp = flop / (_a(peak_flop_per_s) * eff)
    bytes_moved = (m * k + k * n) * _a(in_bytes) + m * n * _a(out_bytes)
    t_mem = bytes_moved / (_a(bandwidth_bytes_per_s) * _a(bandwidth_frac))
    t = np.maximum(t_mem, t_comp) + _a(latency_s)
    return {"time_s": t, "compute_s": t_comp, "memory_s": t_mem, "efficiency_frac": eff, "flop": flop,
            "bytes": bytes_moved}


def matmul_time_s(m, n, k, peak_flop_per_s, ceiling_frac, bandwidth_bytes_per_s, num_compute_units,
                  latency_s, in_bytes=2.0, out_bytes=2.0, bandwidth_frac=BANDWIDTH_FRAC):
    """max(memory time, compute time) + latency for C(MxN) = A(MxK) @ B(KxN) (s)."""
    m, n, k = _a(m), _a(n), _a(k)
    t_comp = 2.0 * m * n * k / (_a(peak_flop_per_s) * _a(ceiling_frac) * tile_efficiency(m, n, num_compute_units))
    t_mem = ((m * k + k * n) * _a(in_bytes) + m * n * _a(out_bytes)) / (_a(bandwidth_bytes_per_s) * _a(bandwidth_frac))
    return np.maximum(t_mem, t_comp) + _a(latency_s)


def linear_train_time_s(tokens, n_out, k_in, peak_flop_per_s, ceiling_frac, bandwidth_bytes_per_s,
                        num_compute_units, latency_s, in_bytes=2.0, passes_fwd=1.0):
    """Forward (x passes_fwd, recomputation) + backward (dgrad, wgrad) GEMM time of one linear layer
    y(T x N) = x(T x K) @ W(K x N): fwd (T,N,K), dgrad (T,K,N), wgrad (K,N,T)."""
    args = (peak_flop_per_s, ceiling_frac, bandwidth_bytes_per_s, num_compute_units, latency_s, in_bytes)
    fwd = matmul_time_s(tokens, n_out, k_in, *args)
    dgrad = matmul_time_s(tokens, k_in, n_out, *args)
    wgrad = matmul_time_s(k_in, n_out, tokens, *args)
    return _a(passes_fwd) * fwd + dgrad + wgrad, fwd


def ceiling_frac(family: str | None, dtype: str, default_bf16: float) -> float:
    """Large-shape ceiling for a family and datatype; `default_bf16` scaled by the fp8 ratio where
    the family has no kernel fit."""
    if family is not None and (family, dtype) in CEILING_FRAC_BY_FAMILY:
        return CEILING_FRAC_BY_FAMILY[(family, dtype)]
    return default_bf16 * (0.8437 if dtype == "fp8" else 1.0)
