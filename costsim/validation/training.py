"""Training validation runners: step time / MFU of a published layout, whole-run GPU-hours,
energy and CO2e under the publisher's own accounting convention.

Kinds:
  training_step_time  inputs: model (id or inline ModelSpec dict), hardware (id or inline Accelerator dict),
                      gpus, seq_len, global_batch, precision, tp/pp/cp/ep/etp/ep_overlap/activation_offload/ep_dispatcher/moe_expert_launch/moe_router_balance/dp/dp_bucket_params/vp/
                      micro_batch/recompute/zero/dropout,
                      sequence_parallel (any omitted layout dimension is searched), power_cap_w.
                      metric: step_time_s | mfu_frac | peak_memory_allocated_bytes (memory per GPU less the
                      runtime reserve: what PyTorch's allocator reports as its peak allocated / active bytes)
  training_run        same inputs plus tokens; metric:
                      gpu_hours                         our GPU-hours (wall time x GPUs, goodput included);
                      publisher_energy_mwh              our GPU-hours x inputs.publisher_gpu_power_w
                                                        (BLOOM: 433 MWh = GPU-hours x 400 W);
                      publisher_tco2e                   our GPU-hours x publisher_gpu_power_w x
                                                        publisher_kg_per_kwh (Llama 2/3.1 model cards);
                                                        or publisher energy x intensity when the
                                                        publisher gives energy (BLOOM: 433 MWh x 57 g/kWh).
`python -m costsim.validation.training --fit` refits the efficiency constants on the cases marked
used_for_fit and prints them (paste into costsim/core/calibration.py); `--fit --gemm`, `--fit --mamf`,
`--fit --torchtitan`, `--fit --moe-host` and `--fit --trainium` the GEMM model, the MAMF sustained-load factor,
TorchTitan's AsyncTP exposure, the host-launched expert MLPs' wait and Trainium's GEMM fraction.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from costsim.errors import InputError
from costsim.estimators import training as est
from costsim.specs.base import validate_spec
from costsim.specs.catalog import get_accelerator, get_model
from costsim.specs.hardware import Accelerator
from costsim.specs.model import ModelSpec
from costsim.specs.requests import TrainRequest
from costsim.validation.engine import Case

LAYOUT_KEYS = ("tp", "pp", "cp", "ep", "etp", "ep_overlap", "activation_offload", "ep_dispatcher", "moe_expert_launch", "moe_router_balance", "dp", "dp_bucket_params", "vp", "micro_batch", "recompute", "zero",
               "dropout", "cp_comm_type", "fp8_activation_store", "recompute_layers")


def _spec(model: Any) -> ModelSpec:
    if isinstance(model, dict):
        return validate_spec(ModelSpec, model, what="inline model", source="validation case")
    return get_model(model)


def _accelerator(hardware: Any) -> Accelerator:
    """A catalog id, or an inline profile for a variant the catalog does not carry (a published run's own part)."""
    if isinstance(hardware, dict):
        return validate_spec(Accelerator, hardware, what="inline hardware", source="validation case")
    return get_accelerator(hardware)


def _request(inp: dict, spec: ModelSpec) -> TrainRequest:
    kw = {k: inp[k] for k in LAYOUT_KEYS if inp.get(k) is not None}
    hw = inp["hardware"]
    # the values as written (the request's own validation: 4096.9 tokens or 'false' as a word are named, not truncated
    # or read as true), with the request's messages naming the case's input
    data = dict(model=spec.id or "inline", hardware=hw.get("id", "inline") if isinstance(hw, dict) else hw, gpus=inp["gpus"],
                tokens=inp.get("tokens") or (1e9 if inp.get("lora_rank") else spec.training_tokens) or 1e12, seq_len=inp["seq_len"],
                global_batch=inp.get("global_batch"), precision=inp.get("precision", "bf16"),
                attention_precision=inp.get("attention_precision", "bf16"), fp4_bf16_layers=inp.get("fp4_bf16_layers"),
                lora_rank=inp.get("lora_rank"), lora_targets=inp.get("lora_targets"),
                lora_dropout=inp.get("lora_dropout"), lora_base_precision=inp.get("lora_base_precision"),
                sequence_parallel=inp.get("sequence_parallel", True), top_k=1,
                restart_time_s=inp.get("restart_time_s"), checkpoint_time_s=inp.get("checkpoint_time_s"),
                failure_rate_per_gpu_hour=inp.get("failure_rate_per_gpu_hour"), framework=inp.get("framework"),
                node=inp.get("node"), scaleup_domain_size=inp.get("scaleup_domain_size"),
                power_cap_w=inp.get("power_cap_w"), **kw)
    if isinstance(data["sequence_parallel"], str) or isinstance(data["seq_len"], float) or isinstance(data["gpus"], float):
        raise ValueError("gpus and seq_len are whole numbers and sequence_parallel is true / false, as YAML writes them "
                         f"(got gpus {data['gpus']!r}, seq_len {data['seq_len']!r}, sequence_parallel {data['sequence_parallel']!r})")
    try:
        return validate_spec(TrainRequest, data, what="validation case inputs")
    except InputError as exc:  # a case's input the request refuses is bad input (validate --cases exits 2), not a miss
        raise ValueError(exc.message) from None


def run_step_case(case: Case) -> float:
    inp = case.inputs
    spec = _spec(inp["model"])
    acc = _accelerator(inp["hardware"])
    req = _request(inp, spec)
    _, _, _, _, _, res = est.run_search(req, spec, acc)
    if res["order"].size == 0:
        raise InputError(f"case {case.id}: no feasible layout ({res['reason']})")
    i = int(res["order"][0])
    if case.metric == "peak_memory_allocated_bytes":  # what the framework's allocator hands out at its peak (PyTorch's
        # max allocated / active bytes): costsim's memory per GPU less the reserve it keeps for the runtime and fragmentation
        mem = res["eval"]["memory"]
        return float(np.asarray(mem["total_bytes"])[i] - np.broadcast_to(mem["reserve_bytes"], np.shape(mem["total_bytes"]))[i])
    key = {"step_time_s": "step_time_s", "mfu_frac": "mfu_frac", "tokens_per_s": "tokens_per_s",
           "achieved_flop_per_s_per_gpu": "achieved_flop_per_s_per_gpu"}[case.metric]
    return float(res["eval"][key][i])


def run_whole_case(case: Case) -> float:
    inp = case.inputs
    spec = _spec(inp["model"])
    acc = _accelerator(inp["hardware"])
    req = _request(inp, spec)
    r = est.estimate(req, spec, acc)
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


FIT_PARAMETERS = ("MATMUL_FRAC[a100]", "TRAINING_SUSTAINED_FRAC[h100]", "MATMUL_FRAC[tpu]", "ELEMENTWISE_BYTES_PER_D",
                  "COMM_OVERLAP_SLOWDOWN_FRAC", "deepspeed-megatron-2021.pp_microbatch_overhead_s")


def _set_fit_parameters(x) -> None:
    import dataclasses

    from costsim.core import calibration, frameworks, training

    calibration.MATMUL_FRAC["a100"], calibration.MATMUL_FRAC["tpu"] = x[0], x[2]
    calibration.TRAINING_SUSTAINED_FRAC["h100"] = x[1]
    training.ELEMENTWISE_BYTES_PER_D = x[3]
    training.COMM_OVERLAP_SLOWDOWN_FRAC = x[4]
    name = "deepspeed-megatron-2021"
    frameworks.FRAMEWORKS[name] = dataclasses.replace(frameworks.FRAMEWORKS[name], pp_microbatch_overhead_s=x[5])


def fit() -> dict:
    """Joint least-squares fit (log of predicted/expected) of the step-model parameters in
    FIT_PARAMETERS on the step-time/MFU cases marked used_for_fit: the sustained GEMM fraction of A100 and
    TPU (XLA-compiled step), H100's sustained-load factor over its kernel-measured ceiling, the non-GEMM bytes per d_model of the PyTorch/Megatron stacks, the
    compute slowdown under overlapped collectives and DeepSpeed's per-micro-batch pipeline-engine
    overhead. Paste the result into costsim/core/calibration.py and costsim/core/frameworks.py."""
    import numpy as np
    from scipy.optimize import least_squares

    from costsim.validation.engine import load_cases

    # rows that fit their own parameter stay out of the joint fit: the torchtitan-2024 row (fit_torchtitan_tp), the
    # MAMF-priced device's row (fit_mamf_sustained, TRAINING_SUSTAINED_FRAC_MAMF), the host-launched MoE row
    # (fit_moe_host_launch) and the Trainium row (fit_trainium, MATMUL_FRAC['trainium'])
    cases = [c for c in load_cases() if c.kind == "training_step_time" and c.used_for_fit
             and c.inputs.get("framework") != "torchtitan-2024" and not _mamf_priced(c)
             and not _moe_host_launched(c) and not _trainium(c)]

    def resid(x):
        _set_fit_parameters(x)
        out = []
        for c in cases:
            try:
                v = run_step_case(c)
            except InputError:  # no feasible layout at these parameters: a large, finite penalty
                out.append(3.0)
                continue
            out.append(np.log(v / c.expected) if c.metric == "step_time_s" else np.log(c.expected / v))
        return out

    x0 = [0.8, 0.85, 0.8, 300.0, 0.1, 0.02]
    sol = least_squares(resid, x0=x0, bounds=([0.3, 0.3, 0.3, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 5000.0, 1.0, 1.0]),
                        diff_step=1e-3)
    _set_fit_parameters(sol.x)
    return {"parameters": dict(zip(FIT_PARAMETERS, (float(v) for v in sol.x))),
            "residuals_step_time": dict(zip([c.id for c in cases], (float(v) for v in np.exp(sol.fun) - 1)))}


def fit_gemm() -> dict:
    """Least-squares fit (log time) of the GEMM model's H100 bf16 ceiling, isolated-call latencies
    and tile efficiencies on the matmul_throughput cases marked used_for_fit (fp8 ceiling tied by
    calibration.FP8_FRAC_RATIO)."""
    import numpy as np
    from scipy.optimize import least_squares

    from costsim.core import calibration
    from costsim.core import matmul as mm
    from costsim.validation.engine import load_cases

    cases = [c for c in load_cases() if c.kind == "matmul_throughput" and c.used_for_fit]

    def resid(x):
        calibration.MATMUL_FRAC["h100"] = x[0]
        mm.ISOLATED_CALL_LATENCY_S.update({"bf16": x[1] * 1e-6, "fp16": x[1] * 1e-6, "fp8": x[2] * 1e-6})
        mm.TILE_REL_EFF = (1.0, x[3], x[4])
        return [np.log(c.expected / run_matmul_case(c)) for c in cases]

    sol = least_squares(resid, x0=[0.8, 25.0, 25.0, 0.9, 0.9], bounds=([0.3, 0, 0, 0.3, 0.3], [1.0, 100, 100, 1, 1]))
    return {"h100_bf16_ceiling": sol.x[0], "latency_bf16_us": sol.x[1], "latency_fp8_us": sol.x[2],
            "tile_rel_eff": (1.0, sol.x[3], sol.x[4]),
            "residuals": dict(zip([c.id for c in cases], np.exp(sol.fun) - 1))}




def _mamf_priced(case: Case) -> bool:
    """Whether a case's device is priced from a measured matmul rate (no fitted family): its sustained-load factor is
    TRAINING_SUSTAINED_FRAC_MAMF, fitted on its own."""
    from costsim.core import calibration
    from costsim.estimators.training import mamf_bf16_frac

    acc = _accelerator(case.inputs["hardware"])
    return calibration.accelerator_family(acc.id) is None and bool(mamf_bf16_frac(acc))


def fit_mamf_sustained() -> dict:
    """1-D least squares (log step time) of calibration.TRAINING_SUSTAINED_FRAC_MAMF on the training_step_time cases
    marked used_for_fit whose device is priced from a MAMF measurement (no fitted family)."""
    from costsim.core import calibration
    from costsim.validation.engine import load_cases

    cases = [c for c in load_cases() if c.kind == "training_step_time" and c.used_for_fit and _mamf_priced(c)]
    # a sustained-load factor cannot exceed 1 (the bound binds: unconstrained 1.055 on MLPERF51-MI355X-8B-8)
    v, res = _fit_one(cases, lambda x: setattr(calibration, "TRAINING_SUSTAINED_FRAC_MAMF", x), 0.9, 0.3, 1.0)
    return {"TRAINING_SUSTAINED_FRAC_MAMF": v, "residuals": res}


def _moe_host_launched(case: Case) -> bool:
    """Whether a case runs its expert MLPs host-launched (inputs.moe_expert_launch 'host'): its rows fit
    calibration.MOE_HOST_LAUNCH_S_PER_LOCAL_EXPERT_LOWP on their own (fit_moe_host_launch)."""
    return case.inputs.get("moe_expert_launch") == "host"


def _trainium(case: Case) -> bool:
    """Whether a case's device is an AWS Trainium (fitted family 'trainium': fit_trainium)."""
    from costsim.core import calibration

    return calibration.accelerator_family(_accelerator(case.inputs["hardware"]).id) == "trainium"


def _fit_one(cases: list[Case], setter, x0: float, lo: float, hi: float) -> tuple[float, dict]:
    """1-D least squares (log step time) of one parameter, set by `setter`, on `cases`."""
    import numpy as np
    from scipy.optimize import least_squares

    def resid(x):
        setter(float(x[0]))
        return [np.log(run_step_case(c) / c.expected) for c in cases]

    sol = least_squares(resid, x0=[x0], bounds=([lo], [hi]))
    return float(sol.x[0]), dict(zip([c.id for c in cases], (float(v) for v in np.exp(sol.fun) - 1)))


def fit_moe_host_launch() -> dict:
    """calibration.MOE_HOST_LAUNCH_S_PER_LOCAL_EXPERT_LOWP (the training core's copy) on the training_step_time cases
    marked used_for_fit whose expert MLPs are host-launched. Paste the value into costsim/core/calibration.py."""
    from costsim.core import training
    from costsim.validation.engine import load_cases

    cases = [c for c in load_cases() if c.kind == "training_step_time" and c.used_for_fit and _moe_host_launched(c)]
    saved = training.MOE_HOST_LAUNCH_S_PER_LOCAL_EXPERT_LOWP
    try:  # the fit variable is in ms (a well-scaled unknown), the constant in s
        v, res = _fit_one(cases, lambda x: setattr(training, "MOE_HOST_LAUNCH_S_PER_LOCAL_EXPERT_LOWP", x * 1e-3),
                          0.1, 0.0, 5.0)
    finally:
        training.MOE_HOST_LAUNCH_S_PER_LOCAL_EXPERT_LOWP = saved
    return {"MOE_HOST_LAUNCH_S_PER_LOCAL_EXPERT_LOWP": v * 1e-3, "residuals": res}


def fit_trainium() -> dict:
    """calibration.MATMUL_FRAC['trainium'] on the training_step_time cases marked used_for_fit on a Trainium.
    Paste the value into costsim/core/calibration.py."""
    from costsim.core import calibration
    from costsim.validation.engine import load_cases

    cases = [c for c in load_cases() if c.kind == "training_step_time" and c.used_for_fit and _trainium(c)]
    saved = calibration.MATMUL_FRAC["trainium"]
    try:
        v, res = _fit_one(cases, lambda x: calibration.MATMUL_FRAC.__setitem__("trainium", x), 0.6, 0.1, 1.0)
    finally:
        calibration.MATMUL_FRAC["trainium"] = saved
    return {"MATMUL_FRAC[trainium]": v, "residuals": res}


def run_matmul_case(case: Case) -> float:
    """Kind matmul_throughput: costsim.core.matmul time of one isolated GEMM (M, N, K) on the
    accelerator (large-shape ceiling x tile/wave efficiency, memory floor, isolated-call latency),
    as FLOP / time, vs a measured kernel."""
    from costsim.core import matmul as mm
    from costsim.estimators.training import device_matmul_frac, mamf_bf16_frac, num_compute_units

    inp = case.inputs
    acc = get_accelerator(inp["hardware"])
    dt = inp.get("dtype", "bf16")
    peak = acc.peak_flop_per_s(dt)
    frac = device_matmul_frac(acc, dt, peak, mamf_bf16_frac(acc))
    m, n, k = int(inp["m"]), int(inp["n"]), int(inp["k"])
    timing = inp.get("timing", "isolated")
    if timing not in ("isolated", "in_stream"):
        raise InputError(f"case {case.id}: inputs.timing must be 'isolated' (one eager call timed with CUDA events) or "
                         f"'in_stream' (back-to-back kernels of a GEMM benchmark loop), got {timing!r}", field="timing")
    latency = (mm.ISOLATED_CALL_LATENCY_S.get(dt, mm.ISOLATED_CALL_LATENCY_S["bf16"]) if timing == "isolated"
               else mm.IN_STREAM_LATENCY_S)
    t = mm.matmul_time_s(m, n, k, peak, frac, acc.memory_bandwidth_bytes_per_s, num_compute_units(acc), latency,
                         in_bytes=1.0 if dt == "fp8" else 2.0)
    if case.metric != "flop_per_s":
        raise InputError(f"case {case.id}: unknown metric '{case.metric}' for kind matmul_throughput")
    return float(2.0 * m * n * k / t)


register_training = register


def register(RUNNERS: dict) -> None:  # noqa: F811
    register_training(RUNNERS)
    RUNNERS["matmul_throughput"] = run_matmul_case


def fit_torchtitan_tp() -> dict:
    """1-D least squares (log step time) of the torchtitan-2024 stack's tp_comm_exposed_frac (how much of the
    tensor-parallel collectives AsyncTP leaves on the critical path) on its training_step_time cases marked
    used_for_fit. Paste the value into costsim/core/frameworks.py."""
    import dataclasses

    from costsim.core import frameworks
    from costsim.validation.engine import load_cases

    name = "torchtitan-2024"
    cases = [c for c in load_cases() if c.kind == "training_step_time" and c.used_for_fit
             and c.inputs.get("framework") == name]
    base = frameworks.FRAMEWORKS[name]

    def setter(x: float) -> None:
        frameworks.FRAMEWORKS[name] = dataclasses.replace(base, tp_comm_exposed_frac=x)

    try:
        v, res = _fit_one(cases, setter, 0.5, 0.0, 1.0)
    finally:
        frameworks.FRAMEWORKS[name] = base
    return {"torchtitan-2024.tp_comm_exposed_frac": v, "residuals": res}


if __name__ == "__main__" and "--fit" in sys.argv:
    print(fit_gemm() if "--gemm" in sys.argv else fit_mamf_sustained() if "--mamf" in sys.argv
          else fit_torchtitan_tp() if "--torchtitan" in sys.argv else fit_moe_host_launch() if "--moe-host" in sys.argv
          else fit_trainium() if "--trainium" in sys.argv else fit())
