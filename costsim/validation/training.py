"""Training validation runners: step time / MFU of a published layout, whole-run GPU-hours,
energy and CO2e under the publisher's own accounting convention.

Kinds:
  training_step_time  inputs: model (id or inline ModelSpec dict), hardware, gpus, seq_len,
                      global_batch, precision, tp/pp/cp/ep/dp/vp/micro_batch/recompute/zero,
                      sequence_parallel (any omitted layout dimension is searched).
                      metric: step_time_s | mfu_frac
  training_run        same inputs plus tokens; metric:
                      gpu_hours                         our GPU-hours (wall time x GPUs, goodput included);
                      publisher_energy_mwh              our GPU-hours x inputs.publisher_gpu_power_w
                                                        (BLOOM: 433 MWh = GPU-hours x 400 W);
                      publisher_tco2e                   our GPU-hours x publisher_gpu_power_w x
                                                        publisher_kg_per_kwh (Llama 2/3.1 model cards);
                                                        or publisher energy x intensity when the
                                                        publisher gives energy (BLOOM: 433 MWh x 57 g/kWh).
`python -m costsim.validation.training --fit` refits the efficiency constants on the cases marked
used_for_fit and prints them (paste into costsim/core/calibration.py).
"""

from __future__ import annotations

import sys
from typing import Any

from costsim.errors import InputError
from costsim.estimators import training as est
from costsim.specs.base import validate_spec
from costsim.specs.catalog import get_accelerator, get_model
from costsim.specs.model import ModelSpec
from costsim.specs.requests import TrainRequest
from costsim.validation.engine import Case

LAYOUT_KEYS = ("tp", "pp", "cp", "ep", "dp", "vp", "micro_batch", "recompute", "zero")


def _spec(model: Any) -> ModelSpec:
    if isinstance(model, dict):
        return validate_spec(ModelSpec, model, what="inline model", source="validation case")
    return get_model(model)


def _request(inp: dict, spec: ModelSpec) -> TrainRequest:
    kw = {k: inp[k] for k in LAYOUT_KEYS if inp.get(k) is not None}
    return TrainRequest(model=spec.id or "inline", hardware=inp["hardware"], gpus=int(inp["gpus"]),
                        tokens=inp.get("tokens") or spec.training_tokens or 1e12, seq_len=int(inp["seq_len"]),
                        global_batch=inp.get("global_batch"), precision=inp.get("precision", "bf16"),
                        sequence_parallel=bool(inp.get("sequence_parallel", True)), top_k=1,
                        restart_time_s=inp.get("restart_time_s"), checkpoint_time_s=inp.get("checkpoint_time_s"),
                        failure_rate_per_gpu_hour=inp.get("failure_rate_per_gpu_hour"), **kw)


def run_step_case(case: Case) -> float:
    inp = case.inputs
    spec = _spec(inp["model"])
    acc = get_accelerator(inp["hardware"])
    req = _request(inp, spec)
    _, _, _, _, _, res = est.run_search(req, spec, acc, inp.get("framework", "megatron-core-2024"))
    if res["order"].size == 0:
        raise InputError(f"case {case.id}: no feasible layout ({res['reason']})")
    i = int(res["order"][0])
    key = {"step_time_s": "step_time_s", "mfu_frac": "mfu_frac", "tokens_per_s": "tokens_per_s"}[case.metric]
    return float(res["eval"][key][i])


def run_whole_case(case: Case) -> float:
    inp = case.inputs
    spec = _spec(inp["model"])
    acc = get_accelerator(inp["hardware"])
    req = _request(inp, spec)
    r = est.estimate(req, spec, acc, inp.get("framework", "megatron-core-2024"))
    if not r["feasible"]:
        raise InputError(f"case {case.id}: infeasible ({r['reason']})")
    gpu_hours = float(r["gpu_hours"])
    if case.metric == "gpu_hours":
        return gpu_hours
    energy_mwh = gpu_hours * float(inp["publisher_gpu_power_w"]) / 1e6
    if case.metric == "publisher_energy_mwh":
        return energy_mwh
    if case.metric == "publisher_tco2e":
        return energy_mwh * 1000.0 * float(inp["publisher_kg_per_kwh"]) / 1000.0
    raise InputError(f"case {case.id}: unknown metric '{case.metric}' for kind training_run")


def register(RUNNERS: dict) -> None:
    RUNNERS["training_step_time"] = run_step_case
    RUNNERS["training_run"] = run_whole_case


def fit() -> dict:
    """Least-squares fit of the A100/H100 matmul fractions and the GEMM-width half-saturation point
    on the step-time cases marked used_for_fit (log of predicted/expected)."""
    import numpy as np
    from scipy.optimize import least_squares

    from costsim.core import calibration, training
    from costsim.validation.engine import load_cases

    cases = [c for c in load_cases() if c.kind == "training_step_time" and c.used_for_fit]

    def resid(x):
        calibration.MATMUL_FRAC["a100"], calibration.MATMUL_FRAC["h100"] = x[0], x[1]
        training.GEMM_WIDTH_HALF = x[2]
        return [np.log(run_step_case(c) / c.expected) for c in cases]

    sol = least_squares(resid, x0=[0.75, 0.6, 200.0], bounds=([0.3, 0.3, 0.0], [1.0, 1.0, 5000.0]))
    out = {"a100": sol.x[0], "h100": sol.x[1], "GEMM_WIDTH_HALF": sol.x[2],
           "residuals": dict(zip([c.id for c in cases], np.exp(sol.fun) - 1))}
    return out


if __name__ == "__main__" and "--fit" in sys.argv:
    print(fit())


def run_matmul_case(case: Case) -> float:
    """Kind matmul_throughput: the core's GEMM-shape function (achievable fraction of peak for a
    GEMM of M rows and width min(N, K)) times the datatype peak, vs a measured kernel."""
    from costsim.core.calibration import gemm_rows_half, matmul_frac
    from costsim.core.training import gemm_efficiency

    inp = case.inputs
    acc = get_accelerator(inp["hardware"])
    dt = inp.get("dtype", "bf16")
    peak = acc.peak_flop_per_s(dt)
    frac = matmul_frac(acc.id, dt, peak, acc.peak_flop_per_s("bf16"), acc.efficiency.matmul_frac)
    eff = gemm_efficiency(frac, min(int(inp["n"]), int(inp["k"])), int(inp["m"]), None, gemm_rows_half(acc.id, dt))
    if case.metric != "flop_per_s":
        raise InputError(f"case {case.id}: unknown metric '{case.metric}' for kind matmul_throughput")
    return float(peak * eff)


register_training = register


def register(RUNNERS: dict) -> None:  # noqa: F811
    register_training(RUNNERS)
    RUNNERS["matmul_throughput"] = run_matmul_case
