"""Power validation runners (cases in cases/power.yaml) and the fit of the device power model.

Kinds:
  node_training_power      8-GPU node in the training compute phase: 8 x device + host, W
  site_training_power      facility power of N accelerators in training (costsim site defaults), W
  node_expected_peak_power expected node peak in training (for rated-vs-expected sanity), W

  measured_device_power    one measured H100 phase (costsim/data/measurements/h100_sxm_gpu_power_*.json):
                           utilizations from the measured iterations / time and the FLOPs and bytes
                           of one iteration, then costsim.core.power.device_power_w, W
  serve_gpu_power_per_gpu  ML.ENERGY power per GPU: `costsim serve` (costsim.core.inference via
                           estimators.inference) at a fixed batch; mean GPU power over a
                           prefill + decode cycle, W
  serve_gpu_energy_per_token  ML.ENERGY GPU energy per output token from `costsim serve`, J
  power_cap_throughput     throughput a compute-bound job keeps under a GPU power limit (Zeus NSDI'23 traces):
                           costsim.core.power.cap_throughput_frac from the job's measured uncapped draw, fraction

One method for decode utilizations: the inference core (step time, bytes and FLOPs per GPU) - the
same numbers `costsim serve` uses.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from costsim.core.power import cap_throughput_frac, device_power_w, phase_power_w
from costsim.errors import InputError
from costsim.specs.catalog import get_accelerator, get_node, node_for
from costsim.validation.engine import Case



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


# --------------------------------------------------------------------------------------------
# measured phases (held-out / fit points from a lent H100 SXM)
# --------------------------------------------------------------------------------------------
def _measurement(name: str) -> dict[str, Any]:
    import json
    from importlib import resources

    try:
        return json.loads(resources.files("costsim.data").joinpath("measurements").joinpath(name).read_text())
    except FileNotFoundError as e:  # pragma: no cover - packaging error
        raise InputError(f"measurement file {name!r} is not in costsim/data/measurements.", field="measurement") from e


def measured_phase_utilization(inp: dict[str, Any]) -> dict[str, float]:
    """Utilizations of one measured phase from its iteration count and duration.

    inputs: measurement (file), phase (name in the file), flop_per_iter, bytes_per_iter, dtype."""
    data = _measurement(inp["measurement"])
    ph = next((p for p in data["phases"] if p["phase"] == inp["phase"]), None)
    if ph is None:
        raise InputError(f"phase {inp['phase']!r} not in {inp['measurement']}.", field="phase")
    acc = get_accelerator(inp.get("hardware", "h100-sxm"))
    dur = float(ph["t_end"]) - float(ph["t_start"])
    it_s = float(ph["iterations"]) / dur if dur > 0 else 0.0
    flop_s = float(inp.get("flop_per_iter", 0.0)) * it_s
    bytes_s = float(inp.get("bytes_per_iter", 0.0)) * it_s
    return {"compute_util_frac": flop_s / acc.peak_flop_per_s(inp.get("dtype", "bf16")),
            "memory_util_frac": bytes_s / acc.memory_bandwidth_bytes_per_s,
            "flop_per_s": flop_s, "bytes_per_s": bytes_s, "measured_w": float(ph["power_w_median"]),
            "sm_clock_mhz": float(ph.get("sm_clock_mhz_median", 0.0)), "idle_w": acc.idle_w, "tdp_w": acc.tdp_w}


def measured_device_power(case: Case) -> float:
    inp = case.inputs
    if inp.get("phase_model") == "idle_with_context":
        acc = get_accelerator(inp.get("hardware", "h100-sxm"))
        return float(phase_power_w(acc.idle_w, acc.tdp_w, "checkpoint"))
    u = measured_phase_utilization(inp)
    cap = inp.get("power_cap_w", u["tdp_w"])
    return float(device_power_w(u["idle_w"], u["tdp_w"], min(u["compute_util_frac"], 1.0), min(u["memory_util_frac"], 1.0), power_cap_w=cap))


# --------------------------------------------------------------------------------------------
# ML.ENERGY through `costsim serve` (the inference core)
# --------------------------------------------------------------------------------------------
def _serve_at_batch(inp: dict[str, Any]) -> dict[str, Any]:
    from costsim.api.serve import serve
    from costsim.specs.requests import ServeRequest

    base = dict(model=inp["model"], hardware=inp.get("hardware", "h100-sxm"), gpus=int(inp["tp"]), tp=int(inp["tp"]),
                weight_precision=inp.get("weight_precision", "bf16"), input_tokens=int(inp["input_tokens"]),
                output_tokens=int(inp["output_tokens"]), engine=inp.get("engine", "default"), single_replica=True)
    r = serve(ServeRequest(batch=int(inp["batch"]), **base))
    if r.get("max_batch") and r.get("gpu_power_w") is None and int(inp["batch"]) > int(r["max_batch"]):
        # the engine's max_num_seqs is cut by KV capacity: run at the largest batch that fits
        r = serve(ServeRequest(batch=int(r["max_batch"]), **base))
    return r


def serve_gpu_power_per_gpu(case: Case) -> float:
    return float(_serve_at_batch(case.inputs)["gpu_power_w"])


def serve_gpu_energy_per_token(case: Case) -> float:
    return float(_serve_at_batch(case.inputs)["gpu_energy_per_token_j"])


def fit_power_coefficients(points: list[tuple[float, float, float]], idle_w: float, tdp_w: float) -> tuple[float, float]:
    """Least-squares (grid) fit of (COMPUTE_COEF, MEMORY_COEF) to [(u_c, u_m, measured W), ...]."""
    best = (np.inf, 0.0, 0.0)
    a_c = np.linspace(0.5, 6.0, 551)[:, None]
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


def fit_warm_idle_factor(cases: list[Case]) -> float:
    """WARM_IDLE_FACTOR from the measured idle-with-context case marked used_for_fit."""
    for c in cases:
        if c.kind == "measured_device_power" and c.used_for_fit and c.inputs.get("phase_model") == "idle_with_context":
            return float(c.expected) / get_accelerator(c.inputs.get("hardware", "h100-sxm")).idle_w
    raise ValueError("no idle_with_context case marked used_for_fit")


def fit_from_cases(cases: list[Case]) -> tuple[float, float]:
    """(COMPUTE_COEF, MEMORY_COEF) from the measured phases marked used_for_fit (reproduces
    costsim.core.power); the floor is the warm idle fitted by `fit_warm_idle_factor`."""
    meas = [c for c in cases if c.kind == "measured_device_power" and c.used_for_fit and c.inputs.get("phase_model") != "idle_with_context"]
    if meas:
        floor = fit_warm_idle_factor(cases) * get_accelerator(meas[0].inputs.get("hardware", "h100-sxm")).idle_w
        pts = []
        for c in meas:
            u = measured_phase_utilization(c.inputs)
            pts.append((min(u["compute_util_frac"], 1.0), min(u["memory_util_frac"], 1.0), float(c.expected)))
        return fit_power_coefficients(pts, floor, get_accelerator(meas[0].inputs.get("hardware", "h100-sxm")).tdp_w)
    raise ValueError("no measured_device_power cases marked used_for_fit")


def power_cap_throughput(case: Case) -> float:
    """Throughput kept under a power limit (fraction of the throughput at the board's limit) of a compute-bound job
    that draws power_uncapped_w without the cap: the compute phase's clock law (costsim.core.power.cap_throughput_frac)."""
    inp = case.inputs
    for key in ("power_cap_w", "tdp_w", "idle_w", "power_uncapped_w"):
        v = inp.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
            raise ValueError(f"{key} must be a number of watts >= 0, got {v!r}")
    if not inp["idle_w"] < inp["power_uncapped_w"] <= inp["tdp_w"]:
        raise ValueError("power_uncapped_w must lie above idle_w and at most tdp_w")
    return float(cap_throughput_frac(float(inp["power_cap_w"]), float(inp["tdp_w"]), float(inp["idle_w"]), "compute",
                                     phase_power_uncapped_w=float(inp["power_uncapped_w"])))


def register(RUNNERS) -> None:
    RUNNERS["power_cap_throughput"] = power_cap_throughput
    RUNNERS["measured_device_power"] = measured_device_power
    RUNNERS["serve_gpu_power_per_gpu"] = serve_gpu_power_per_gpu
    RUNNERS["serve_gpu_energy_per_token"] = serve_gpu_energy_per_token
    RUNNERS["node_training_power"] = node_training_power
    RUNNERS["node_expected_peak_power"] = node_expected_peak_power
    RUNNERS["site_training_power"] = site_training_power


__all__ = ["fit_power_coefficients", "fit_from_cases", "register", "node_for"]
