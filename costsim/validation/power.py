"""Power validation runners (cases in cases/power.yaml) and the fit of the device power model.

Kinds:
  node_training_power      8-GPU node in the training compute phase: 8 x device + host, W
  decode_power_per_gpu     ML.ENERGY-style decode, TP-sharded: per-GPU power at a batch, W
  site_training_power      facility power of N accelerators in training (costsim site defaults), W
  node_expected_peak_power expected node peak in training (for rated-vs-expected sanity), W

Decode utilizations from first principles (a simple roofline; costsim.core.inference is not
used so the fit does not move when that model is re-tuned):
  bytes per step per GPU = weights / tp + KV(batch, context) / tp
  flops per step per GPU = 2 * N * batch / tp
  step = max(bytes / (BW * bw_frac), flops / (peak * matmul_frac)) + 2 * layers all-reduces + overhead
  u_m = bytes / (step * BW), u_c = flops / (step * peak)
Batch is limited by the KV cache left after weights (vLLM gpu_memory_utilization 0.9).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from costsim.core.power import device_power_w, phase_power_w
from costsim.specs.catalog import get_accelerator, get_node, node_for
from costsim.validation.engine import Case

# roofline constants (kernels.csv: H100 MLP at 1 token streams 2.82 TB/s = 84 % of peak; large
# GEMMs ~748 TFLOP/s = 76 % of bf16 peak)
BW_FRAC = 0.84
MATMUL_FRAC = 0.76
ALLREDUCE_LATENCY_S = 8e-6  # one NVLink all-reduce step at small message size (NCCL, 4-8 GPUs)
STEP_OVERHEAD_S = 2e-3  # vLLM scheduler + sampling per decode step (estimate)
GPU_MEMORY_UTILIZATION = 0.9  # vLLM default
ACTIVATION_RESERVE_BYTES = 3e9


def decode_utilization(*, params: float, n_layers: int, d_model: int, kv_heads: int, head_dim: int, tp: int,
                       batch: int, context_tokens: float, memory_bytes: float, bandwidth_bytes_per_s: float,
                       peak_flop_per_s: float, bytes_per_param: float = 2.0, kv_bytes: float = 2.0) -> dict[str, float]:
    w_gpu = params * bytes_per_param / tp
    kv_per_token_gpu = 2 * n_layers * kv_heads * head_dim * kv_bytes / tp
    kv_budget = GPU_MEMORY_UTILIZATION * memory_bytes - w_gpu - ACTIVATION_RESERVE_BYTES
    max_batch = max(int(kv_budget / (kv_per_token_gpu * context_tokens)), 1)
    b = min(batch, max_batch)
    bytes_step = w_gpu + b * context_tokens * kv_per_token_gpu
    flop_step = 2.0 * params * b / tp
    t_mem = bytes_step / (bandwidth_bytes_per_s * BW_FRAC)
    t_cmp = flop_step / (peak_flop_per_s * MATMUL_FRAC)
    msg = b * d_model * 2.0 * 2 * (tp - 1) / tp
    t_comm = 2 * n_layers * (ALLREDUCE_LATENCY_S + msg / (450e9 * 0.7)) if tp > 1 else 0.0
    step = max(t_mem, t_cmp) + t_comm + STEP_OVERHEAD_S
    return {"effective_batch": b, "max_batch": max_batch, "step_s": step,
            "memory_util_frac": bytes_step / (step * bandwidth_bytes_per_s),
            "compute_util_frac": flop_step / (step * peak_flop_per_s)}


def _decode_inputs(inp: dict[str, Any]) -> dict[str, Any]:
    acc = get_accelerator(inp.get("hardware", "h100-sxm"))
    return dict(params=float(inp["params"]), n_layers=int(inp["n_layers"]), d_model=int(inp["d_model"]), kv_heads=int(inp["kv_heads"]),
                head_dim=int(inp["head_dim"]), tp=int(inp["tp"]), context_tokens=float(inp["context_tokens"]),
                memory_bytes=acc.memory_bytes, bandwidth_bytes_per_s=acc.memory_bandwidth_bytes_per_s,
                peak_flop_per_s=acc.peak_flop_per_s("bf16")), acc


def decode_power_per_gpu(case: Case) -> float:
    kw, acc = _decode_inputs(case.inputs)
    u = decode_utilization(batch=int(case.inputs["batch"]), **kw)
    return float(device_power_w(acc.idle_w, acc.tdp_w, u["compute_util_frac"], u["memory_util_frac"]))


def node_training_power(case: Case) -> float:
    inp = case.inputs
    node = get_node(inp["node"])
    acc = get_accelerator(node.accelerator)
    if "compute_util_frac" in inp:
        p = device_power_w(acc.idle_w, acc.tdp_w, inp["compute_util_frac"], inp.get("memory_util_frac", 0.3))
    else:
        p = phase_power_w(acc.idle_w, acc.tdp_w, "compute")
    return float(node.devices_per_node * p + node.host_power_w)


def node_expected_peak_power(case: Case) -> float:
    return node_training_power(case)


def site_training_power(case: Case) -> float:
    from costsim.api.site import build_request, site_report

    inp = case.inputs
    req = build_request([inp["hardware"]], [int(inp["gpus"])], pue=float(inp.get("pue", 1.2)))
    return float(site_report(req)["facility_peak_power_w"])


def fit_power_coefficients(points: list[tuple[float, float, float]], idle_w: float, tdp_w: float) -> tuple[float, float]:
    """Least-squares (grid) fit of (COMPUTE_COEF, MEMORY_COEF) to [(u_c, u_m, measured W), ...]."""
    best = (np.inf, 0.0, 0.0)
    a_c = np.linspace(0.5, 3.0, 251)[:, None]
    a_m = np.linspace(0.3, 1.5, 241)[None, :]
    err = 0.0
    for uc, um, w in points:
        x_c = np.clip(a_c * uc, 0, 1)
        x_m = np.clip(a_m * um, 0, 1)
        pred = idle_w + (tdp_w - idle_w) * (1 - (1 - x_c) * (1 - x_m))
        err = err + ((pred - w) / w) ** 2
    i, j = np.unravel_index(np.argmin(err), err.shape)
    best = (float(err[i, j]), float(a_c[i, 0]), float(a_m[0, j]))
    return best[1], best[2]


def fit_from_cases(cases: list[Case]) -> tuple[float, float]:
    """Fit on the decode cases marked used_for_fit (reproduces core.power COMPUTE_COEF/MEMORY_COEF)."""
    pts = []
    acc = None
    for c in cases:
        if c.kind == "decode_power_per_gpu" and c.used_for_fit:
            kw, acc = _decode_inputs(c.inputs)
            u = decode_utilization(batch=int(c.inputs["batch"]), **kw)
            pts.append((u["compute_util_frac"], u["memory_util_frac"], c.expected))
    if acc is None:
        raise ValueError("no decode cases marked used_for_fit")
    return fit_power_coefficients(pts, acc.idle_w, acc.tdp_w)


def register(RUNNERS) -> None:
    RUNNERS["decode_power_per_gpu"] = decode_power_per_gpu
    RUNNERS["node_training_power"] = node_training_power
    RUNNERS["node_expected_peak_power"] = node_expected_peak_power
    RUNNERS["site_training_power"] = site_training_power


__all__ = ["decode_utilization", "fit_power_coefficients", "fit_from_cases", "register", "node_for"]
