"""TrainRequest + specs -> core arrays -> result dict (`costsim train`, the API, the training DES).

Whole-run numbers (until the training DES replaces the goodput layer):
  num_steps      = ceil(tokens / tokens_per_step)
  compute_time_s = num_steps * step_time_s
  wall_time_s    = compute_time_s / goodput_frac      (costsim.core.goodput: failures, checkpoints, restarts and
                                                       planned maintenance, by default Llama 3's 47 stops in 54 days
                                                       of a checkpoint + 10 min down + the restart, as the training
                                                       simulation draws them: training.maintenance)
Energy, per GPU and phase (costsim.core.power.device_power_w):
  compute phase  at the achieved hardware-FLOP utilization of the busy time, memory activity 0.2;
  exposed comm / bubble phase: compute 0, memory 0.1 (NCCL copy kernels; near idle);
  outside productive steps (costsim.core.goodput terms): work re-done after a failure at the step
  power, checkpoint stalls at warm idle (a context alive, costsim.core.power), restarts and maintenance downtime at idle.
Host power, PUE, cost and CO2e: costsim.economics.accounting.account_run.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from costsim.core import goodput as gp
from costsim.core import search as srch
from costsim.core.calibration import (FP8_SOURCE, MATMUL_FRAC_SOURCE, MOE_HOST_LAUNCH_S_PER_LOCAL_EXPERT_LOWP,
                                      MOE_ROUTER_LOAD_CV)
from costsim.core.datatypes import FP4_BF16_LAYERS_DEFAULT
from costsim.core.frameworks import FEATURES, FRAMEWORKS, Framework, default_framework_name, layout_features
from costsim.core.power import checkpoint_phase_power, device_power_w
from costsim.core.training import ModelShape, dp_bucket_params
from costsim.economics.accounting import account_run
from costsim.errors import InputError
from costsim.estimators.training_shapes import (  # noqa: F401  (re-exported: callers import them from here)
    device_matmul_frac,
    hardware_shape,
    lora_shape,
    lora_targets_label,
    lora_targets_text,
    mamf_bf16_frac,
    model_shape,
    num_compute_units,
    power_cap_compute_frac,
    trainable_params,
    training_gemm_ceiling,
)
from costsim.numtext import duration
from costsim.specs.catalog import get_accelerator, get_model, get_node, node_for
from costsim.specs.hardware import Accelerator
from costsim.specs.model import ModelSpec
from costsim.specs.requests import TrainRequest

DEFAULT_BATCH_TOKENS = 4.0e6  # ~4M tokens per step when no batch is given (Llama 2/3, GPT-3 era practice)
COMPUTE_PHASE_MEMORY_UTIL = 0.2  # estimate: elementwise kernels between GEMMs
COMM_PHASE_MEMORY_UTIL = 0.1  # estimate: NCCL copy kernels
RECOMPUTE_CODE = {"none": 0, "selective": 1, "full": 2}



def _fixed(req: TrainRequest) -> dict:
    return {"tp": req.tp, "pp": req.pp, "cp": req.cp, "ep": req.ep, "etp": req.etp,
            "ep_overlap": None if req.ep_overlap is None else float(req.ep_overlap),
            "act_offload": None if req.activation_offload is None else float(req.activation_offload), "dp": req.dp, "vp": req.vp,
            "micro_batch": req.micro_batch, "recompute": None if req.recompute is None else RECOMPUTE_CODE[req.recompute],
            "zero": req.zero, "recompute_layers": req.recompute_layers}


def _at_most_layers(count: int, field: str, spec: ModelSpec, all_of_them: str) -> None:
    """A layer count a request gives (field `field`) must not exceed the model's layers; exit 2 naming the flag."""
    if count > spec.n_layers:
        flag = "--" + field.replace("_", "-")
        raise InputError(f"{flag} {count} exceeds the model's {spec.n_layers} layers; give at most {spec.n_layers} "
                         f"({all_of_them}).", field=field)


def _check(req: TrainRequest, spec: ModelSpec) -> None:
    if req.ep is not None and req.ep > 1 and not spec.is_moe:
        raise InputError(f"--ep {req.ep} needs a mixture-of-experts model; '{spec.name}' is dense. Drop --ep or use 1.", field="ep")
    if req.ep is not None and spec.is_moe and spec.n_experts % req.ep != 0:
        raise InputError(f"--ep {req.ep} must divide the number of experts ({spec.n_experts}).", field="ep")
    if req.ep_overlap and not spec.is_moe:
        raise InputError(f"--ep-overlap needs a mixture-of-experts model; '{spec.name}' is dense. Drop it.",
                         field="ep_overlap")
    if req.ep_dispatcher is not None and not spec.is_moe:
        raise InputError(f"--ep-dispatcher needs a mixture-of-experts model; '{spec.name}' is dense. Drop it.",
                         field="ep_dispatcher")
    if req.moe_expert_launch is not None and not spec.is_moe:
        raise InputError(f"--moe-expert-launch needs a mixture-of-experts model; '{spec.name}' is dense. Drop it.",
                         field="moe_expert_launch")
    if req.moe_router_balance is not None and not spec.is_moe:
        raise InputError(f"--moe-router-balance needs a mixture-of-experts model; '{spec.name}' is dense. Drop it.",
                         field="moe_router_balance")
    if req.etp is not None and not spec.is_moe:
        raise InputError(f"--etp {req.etp} needs a mixture-of-experts model; '{spec.name}' is dense. Drop --etp.",
                         field="etp")
    if req.fp4_bf16_layers:
        if req.precision != "fp4":
            raise InputError(f"--fp4-bf16-layers keeps layers of an NVFP4 run in BF16; this run is {req.precision}. Drop it or "
                             "use --precision fp4.", field="fp4_bf16_layers")
        _at_most_layers(req.fp4_bf16_layers, "fp4_bf16_layers", spec, "all of them is a BF16 run: --precision bf16")
    if req.fp8_activation_store and req.precision not in ("fp8", "fp4"):
        raise InputError(f"--fp8-activation-store keeps the activation function's input in FP8, which an fp8 / fp4 run does; "
                         f"this run is {req.precision}. Drop it or use --precision fp8.", field="fp8_activation_store")
    if req.recompute_layers is not None:
        if req.recompute != "full":
            raise InputError(f"--recompute-layers {req.recompute_layers} says how many layers full recomputation reruns; give "
                             "--recompute full with it, or drop it.", field="recompute_layers")
        _at_most_layers(req.recompute_layers, "recompute_layers", spec, "all of them is plain --recompute full")
    for field, what in (("lora_targets", "places LoRA adapters"), ("lora_dropout", "is the LoRA adapters' dropout"),
                        ("lora_base_precision", "stores a LoRA run's frozen base (QLoRA)")):
        if getattr(req, field) is not None and not req.lora_rank:
            flag = "--" + field.replace("_", "-")
            raise InputError(f"{flag} {getattr(req, field)} {what}, but no --lora-rank was given; add --lora-rank (e.g. 16) "
                             f"for a LoRA run, or drop {flag}.", field=field)
    if req.lora_base_precision == "nf4" and req.precision not in ("bf16", "fp16"):
        raise InputError(f"--lora-base-precision nf4 (QLoRA) dequantizes the frozen weights to bf16 and computes in bf16; this "
                         f"run is --precision {req.precision}. Use --precision bf16, or drop --lora-base-precision for a "
                         f"{req.precision} LoRA run.", field="lora_base_precision")
    if req.lora_rank and req.lora_rank > spec.d_model:
        raise InputError(f"--lora-rank {req.lora_rank} exceeds the model's hidden size ({spec.d_model}): a low-rank adapter has "
                         f"rank at most {spec.d_model} (typical: 8-64). Give a smaller --lora-rank.", field="lora_rank")
    if req.seq_len > 4 * spec.max_context and spec.max_context >= 2048:
        raise InputError(f"--seq-len {req.seq_len} is far beyond the model's context ({spec.max_context}); pick a sequence length at most {spec.max_context}.", field="seq_len")
    prod = 1
    for k in ("tp", "pp", "cp", "dp"):
        v = getattr(req, k)
        if v is not None:
            prod *= v
    if prod > req.gpus or req.gpus % prod != 0:
        raise InputError(f"the fixed parallel sizes multiply to {prod}, which does not divide --gpus {req.gpus}; tp*pp*cp*dp must equal the GPU count.", field="gpus")


def _batch(req: TrainRequest) -> tuple[int | None, float]:
    if req.global_batch is not None:
        return req.global_batch, req.global_batch * req.seq_len
    if req.global_batch_tokens is not None:
        if req.global_batch_tokens < req.seq_len:
            raise InputError(f"--global-batch-tokens {req.global_batch_tokens:g} is less than one sequence of --seq-len "
                             f"{req.seq_len} tokens; give at least {req.seq_len} tokens (a batch holds whole sequences), "
                             "or use --global-batch in sequences.", field="global_batch_tokens")
        g = round(req.global_batch_tokens / req.seq_len)
        return g, g * req.seq_len
    return None, DEFAULT_BATCH_TOKENS


def _batch_source(req: TrainRequest) -> str:
    if req.global_batch_tokens is not None:
        g = round(req.global_batch_tokens / req.seq_len)
        if g * req.seq_len != req.global_batch_tokens:
            return (f"request: rounded from {req.global_batch_tokens:.0f} tokens to {g} sequences of {req.seq_len} tokens "
                    f"({g * req.seq_len} tokens)")
    return "request"


def run_stack(req: TrainRequest, framework: str) -> Framework:
    """The stack `framework` as this request runs it: with the Framework fields the request sets (stack_overrides)."""
    return dataclasses.replace(FRAMEWORKS[framework], **stack_overrides(req))


#: TrainRequest field -> the costsim.core.frameworks.Framework field it sets for the request's own run
_STACK_FIELDS = {"ep_dispatcher": "moe_dispatch", "moe_expert_launch": "moe_expert_launch",
                 "moe_router_balance": "moe_router_balance", "dp_bucket_params": "dp_bucket_params",
                 "dropout": "dropout_masks", "cp_comm_type": "cp_comm_type", "fp8_activation_store": "act_fn_fp8_input_store",
                 "lora_dropout": "lora_dropout"}


def stack_overrides(req: TrainRequest) -> dict[str, Any]:
    """Framework fields a request sets for its own run (costsim.core.frameworks.Framework): those it gives (not None)."""
    out = {field: getattr(req, key) for key, field in _STACK_FIELDS.items() if getattr(req, key) is not None}
    if "lora_dropout" in out:  # a probability on the request, whether the adapters run dropout at all on the stack
        out["lora_dropout"] = out["lora_dropout"] > 0.0
    return out


def framework_name(req: TrainRequest, acc: Accelerator, framework: str | None = None) -> str:
    """The training stack: an explicit argument, else the request's, else the vendor default."""
    name = framework or req.framework or default_framework_name(acc.vendor)
    if name not in FRAMEWORKS:
        raise InputError(f"unknown framework '{name[:80]}'; known: {', '.join(FRAMEWORKS)}.", field="framework")
    return name


def run_search(req: TrainRequest, spec: ModelSpec | None = None, acc: Accelerator | None = None,
               framework: str | None = None):
    spec = spec or get_model(req.model)
    acc = acc or get_accelerator(req.hardware)
    _check(req, spec)
    fw_name = framework_name(req, acc, framework)
    fw = run_stack(req, fw_name)
    node = get_node(req.node) if req.node is not None else node_for(acc)
    if req.node is not None and node.accelerator != acc.id:
        raise InputError(f"node '{node.id}' holds {node.accelerator}, not {acc.id}; pick a node profile for {acc.id} "
                         "(costsim hardware list) or drop --node.", field="node")
    if req.scaleup_domain_size is not None and req.scaleup_domain_size > acc.scaleup.domain_size:
        # the field narrows the profile's domain (a TPU slice, an NVL36 half rack); it cannot widen the part's fabric
        raise InputError(f"--scaleup-domain-size {req.scaleup_domain_size:,} is larger than {acc.id}'s scale-up domain "
                         f"({acc.scaleup.domain_size:,} devices over {acc.scaleup.fabric or 'its fabric'}); give at most "
                         f"{acc.scaleup.domain_size:,}, or a part with a larger domain (costsim hardware list).",
                         field="scaleup_domain_size")
    # an NVFP4 run's bf16 layers: their GEMMs at the bf16 rates (HardwareShape.lowp_layer_frac)
    n_bf16 = (FP4_BF16_LAYERS_DEFAULT if req.fp4_bf16_layers is None else req.fp4_bf16_layers) if req.precision == "fp4" else 0
    ms, hs = lora_shape(model_shape(spec), req, fw.lora_dropout), hardware_shape(acc, node, req.precision, req.scaleup_domain_size, req.attention_precision,
                                               req.power_cap_w, lowp_layer_frac=1.0 - n_bf16 / spec.n_layers,
                                               quant_layouts=1 if req.lora_rank else 2)
    bad = srch.fixed_violations(ms, req.gpus, req.seq_len, hs.domain_size, _fixed(req), fw)
    if bad:
        field, msg = bad[0]
        raise InputError(msg + (" Also: " + " ".join(m for _, m in bad[1:]) if len(bad) > 1 else ""), field=field)
    gbs, target = _batch(req)
    res = srch.search(ms, hs, req.gpus, req.seq_len, gbs, target, _fixed(req), req.sequence_parallel, req.top_k, fw)
    res["framework"] = fw_name
    return spec, acc, node, ms, hs, res


def _pick(ev: dict, i: int) -> dict:
    out = {}
    for k, v in ev.items():
        if isinstance(v, dict):
            out[k] = {kk: float(np.asarray(vv)[i]) for kk, vv in v.items()}
        else:
            out[k] = float(np.asarray(v)[i]) if np.ndim(v) else float(v)
    return out


def _phase_power(acc: Accelerator, best: dict, power_cap_w: float | None = None) -> tuple[float, float]:
    """GPU power in the compute and the communication phase, W (at most the power limit when one is set)."""
    p_compute = float(device_power_w(acc.idle_w, acc.tdp_w, min(best["compute_util_frac"], 1.0), COMPUTE_PHASE_MEMORY_UTIL,
                                     power_cap_w))
    return p_compute, comm_phase_power_w(acc, power_cap_w)


def comm_phase_power_w(acc: Accelerator, power_cap_w: float | None = None) -> float:
    """GPU power while a training step waits on exposed communication or a pipeline bubble, W: no compute, NCCL's copy
    kernels on memory (the step's low level; `costsim site` reads its training swing from it)."""
    return float(device_power_w(acc.idle_w, acc.tdp_w, 0.0, COMM_PHASE_MEMORY_UTIL, power_cap_w))


def checkpoint_bytes(spec: ModelSpec, ms: ModelShape | None = None) -> float:
    """Weights (bf16) + optimizer state (fp32 master, m, v): 14 B per trained parameter, whole model (a LoRA run, `ms`
    with lora_rank, saves its adapters only: the frozen base is already on storage)."""
    return 14.0 * (trainable_params(ms) if ms is not None else spec.params_total)


def checkpoint_time_s(req: TrainRequest, spec: ModelSpec, ms: ModelShape | None = None) -> float:
    """Seconds to write one checkpoint: the request's, else the trained state (a LoRA run's adapters only) over the
    job's share of the storage bandwidth. `ms`: the request's model shape (built from the request when None)."""
    if req.checkpoint_time_s is not None:
        return float(req.checkpoint_time_s)
    ms = ms if ms is not None else lora_shape(model_shape(spec), req)
    return checkpoint_bytes(spec, ms) / (req.gpus * gp.DEFAULT_CHECKPOINT_BYTES_PER_S_PER_GPU)


def _reliability(req: TrainRequest, spec: ModelSpec, ms: ModelShape | None = None, run_compute_s: float | None = None) -> dict:
    rate = req.failure_rate_per_gpu_hour if req.failure_rate_per_gpu_hour is not None else gp.DEFAULT_FAILURE_RATE_PER_GPU_HOUR
    ck = checkpoint_time_s(req, spec, ms)
    rs = req.restart_time_s if req.restart_time_s is not None else gp.DEFAULT_RESTART_TIME_S
    m_day, m_down = maintenance(req)
    g = gp.goodput(rate, req.gpus, ck, rs, run_compute_s, m_day, m_down)
    return {"failure_rate_per_gpu_hour": rate, "checkpoint_time_s": ck, "restart_time_s": rs,
            "maintenance_per_day": m_day, "maintenance_downtime_s": m_down, **{k: float(v) for k, v in g.items()}}


def zero_goodput_reason(rel: dict) -> str:
    """Why a run makes no progress, with the numbers of each cause that takes half the time or more: its planned stops
    (each a checkpoint, the downtime and the restart) and its interruptions (each the restart plus the lost work)."""
    h = 3600.0
    parts, fixes = [], []
    m = rel["maintenance_loss_frac"]
    if m >= 0.5:
        share = f"need {m:.3g} times the time there is" if m > 1 else f"take {100 * m:.0f}% of the time"
        parts.append(f"{rel['maintenance_per_day']:.3g} planned stops a day, each a {duration(rel['checkpoint_time_s'])} checkpoint, "
                     f"{duration(rel['maintenance_downtime_s'])} down and a {duration(rel['restart_time_s'])} restart, {share}")
        fixes.append("--maintenance-per-day or --maintenance-downtime-s")
    if rel["failure_loss_frac"] >= 0.5 or not parts:
        parts.append(f"interruptions arrive every {rel['mtbf_s'] / h:.3g} h on average, and each costs "
                     f"{rel['loss_per_failure_s'] / h:.3g} h (restart {rel['restart_time_s'] / h:.3g} h plus half a checkpoint period "
                     "and half a write)")
    fixes.insert(0, "fewer GPUs, a shorter --restart-time-s or --checkpoint-time-s, a lower --failure-rate-per-gpu-hour")
    return "goodput is zero: " + "; ".join(parts) + "; use " + ", or lower ".join(fixes)


def maintenance(req: TrainRequest) -> tuple[float, float]:
    """Planned stops per day and the downtime of each, s: the request's, else Llama 3's (costsim.core.goodput)."""
    return (req.maintenance_per_day if req.maintenance_per_day is not None else gp.DEFAULT_MAINTENANCE_PER_DAY,
            req.maintenance_downtime_s if req.maintenance_downtime_s is not None else gp.DEFAULT_MAINTENANCE_DOWNTIME_S)


def _time_split_s(compute_time_s: float, wall_time_s: float, rel: dict) -> dict[str, float]:
    """Wall time split by what the GPUs do (costsim.core.goodput.time_split_s)."""
    split = gp.time_split_s(compute_time_s, wall_time_s, rel, rel["checkpoint_time_s"], rel["restart_time_s"],
                            rel["maintenance_per_day"], rel["maintenance_downtime_s"])
    return {k: float(v) for k, v in split.items()}


def step_profile(req: TrainRequest, spec: ModelSpec | None = None, acc: Accelerator | None = None) -> dict:
    """Per-step numbers of the fastest feasible layout, for the training DES to look up."""
    spec, acc, node, ms, hs, res = run_search(req, spec, acc)
    if res["order"].size == 0:
        return {"feasible": False, "reason": res["reason"]}
    i = int(res["order"][0])
    best = _pick({k: v for k, v in res["eval"].items() if k != "memory"}, i)
    p_c, p_x = _phase_power(acc, best, req.power_cap_w)
    return {"feasible": True, "reason": None, "parallelism": srch.layout_row(res["layout"], i),
            "step_time_s": best["step_time_s"], "compute_time_s": best["compute_time_s"],
            "exposed_comm_time_s": best["exposed_comm_time_s"], "tokens_per_step": best["tokens_per_step"],
            "gpu_power_compute_w": p_c, "gpu_power_comm_w": p_x, "gpu_power_idle_w": acc.idle_w,
            "checkpoint_bytes": checkpoint_bytes(spec, ms), "num_gpus": req.gpus,
            "memory_per_gpu_bytes": best["memory_per_gpu_bytes"], "mfu_frac": best["mfu_frac"]}


def layout_requires(row: dict, fw: Framework, precision: str, sequence_parallel: bool) -> tuple[list[dict], str]:
    """What the chosen layout relies on (feature, first year, source) on the run's stack `fw` (run_stack) and one
    sentence for a reader comparing with a published run: a run on an older stack could not use features it did not
    have."""
    feats = layout_features(row, fw, precision, sequence_parallel)
    req = [{"feature": FEATURES[f][0], "since_year": FEATURES[f][1], "source": FEATURES[f][2]} for f in feats]
    newest = sorted(req, key=lambda r: -r["since_year"])[:3]
    if not req:
        return req, "This layout needs nothing beyond data, tensor and plain pipeline parallelism."
    note = ("This layout relies on " + "; ".join(f"{r['feature']} ({r['since_year']})" for r in newest)
            + (f" and {len(req) - 3} more" if len(req) > 3 else "")  # it said 'and more (layout_requires)': a JSON key
            + ". A published run on a stack without them could not use it: compare with the megatron-2021, "
              "megatron-2022 or deepspeed-megatron-2021 training stack, or fix the published layout (tp, pp, cp, vp).")
    return req, note


KEYS = ("feasible", "reason", "train_flop", "step_time_s", "tokens_per_s", "mfu_frac", "achieved_flop_per_s_per_gpu",
        "memory_per_gpu_bytes", "memory_breakdown_bytes", "parallelism", "num_steps", "compute_time_s", "goodput_frac",
        "wall_time_s", "gpu_hours", "gpu_energy_j", "it_energy_j", "facility_energy_j", "facility_peak_power_w",
        "co2e_kg", "cost_usd", "search", "top_layouts", "assumptions", "breakdowns", "framework", "layout_requires",
        "layout_note")


def estimate(req: TrainRequest, spec: ModelSpec | None = None, acc: Accelerator | None = None,
             framework: str | None = None) -> dict[str, Any]:
    spec, acc, node, ms, hs, res = run_search(req, spec, acc, framework)
    framework = res["framework"]
    stack = run_stack(req, framework)
    # a LoRA run fine-tunes: the model's training_tokens (its pre-training) is no default for its length
    tokens = req.tokens if req.tokens is not None else (None if req.lora_rank else spec.training_tokens)
    # no token count (a custom model without training_tokens): the step-level answers (step time, MFU,
    # memory, power, tokens/s) stand on their own; the whole-run figures are marked not computed
    step_only = tokens is None
    if step_only:
        tokens = 1.0  # placeholder for the arithmetic below; every whole-run figure is nulled at the end
    out: dict[str, Any] = {k: None for k in KEYS}
    out["model"] = spec.id or spec.name
    out["hardware"] = acc.id
    out["num_gpus"] = req.gpus
    out["tokens"] = tokens
    out["framework"] = framework
    # what trains: every parameter, or a LoRA run's adapters beside the frozen base
    n_trained = trainable_params(ms)
    out["training_mode"] = "lora" if ms.lora_rank > 0 else "full"
    out["trainable_params"] = n_trained
    out["lora"] = ({"rank": ms.lora_rank, "targets": lora_targets_label(ms),
                    "base_precision": "nf4" if ms.lora_base_bytes > 0 else req.precision,
                    "trainable_params": n_trained, "trainable_frac": n_trained / spec.params_total}
                   if ms.lora_rank > 0 else None)
    out["layout_requires"] = []
    out["search"] = {"configs_enumerated": int(res["configs_enumerated"]), "configs_evaluated": int(res["configs_evaluated"]),
                     "feasible_configs": int(res["feasible_configs"]), "search_time_s": res["search_time_s"]}
    assumptions = [
        {"name": "flop_formula", "value": "6*N_matmul_active + 12*L*H*hd*seq (full attention matrix counted)", "unit": "FLOP/token", "source": "PaLM (arXiv 2204.02311) App. B; Megatron-LM MFU convention"}
        if ms.lora_rank <= 0 else
        {"name": "flop_formula", "value": "4*N_matmul_active + 6*N_adapter_active + 12*L*H*hd*seq (LoRA: no weight gradients of the frozen base)",
         "unit": "FLOP/token", "source": "PaLM App. B convention with the frozen base's weight-gradient GEMMs dropped (Hu et al. 2021, arXiv 2106.09685)"},
        {"name": "framework", "value": framework, "unit": "", "source": FRAMEWORKS[framework].source},
        {"name": "matmul_frac", "value": hs.matmul_frac, "unit": "", "source": MATMUL_FRAC_SOURCE},
        {"name": "fp8_linear_gemm_gain", "value": (hs.peak_flop_per_s * hs.matmul_frac) / (hs.attn_peak * hs.attn_frac), "unit": "x bf16", "source": FP8_SOURCE if req.precision in ("fp8", "fp4") else "not fp8: 1"},
        {"name": "lowp_linear_layer_frac", "value": hs.lowp_layer_frac if req.precision in ("fp8", "fp4") else 0.0, "unit": "",
         "source": ("share of the layers whose linear GEMMs run in the low-precision type: every layer (Megatron-core's default, "
                    "costsim.core.datatypes.FP4_BF16_LAYERS_DEFAULT) less the --fp4-bf16-layers an NVFP4 run keeps in BF16")
         if req.precision in ("fp8", "fp4") else "bf16/fp16 run"},
        {"name": "quantize_bytes_per_element", "value": hs.quant_bytes_per_element, "unit": "B",
         "source": "NVFP4: read bf16 + amax pass + row- and column-wise E2M1 with E4M3 scales per 16 (costsim.core.datatypes); fp8 casts are fused into the producing kernels"},
        {"name": "peak_flop_per_s", "value": hs.peak_flop_per_s, "unit": "FLOP/s", "source": f"{acc.id} profile, {req.precision}"},
    ]
    if spec.is_moe:
        assumptions.append({"name": "ep_dispatcher", "value": stack.moe_dispatch, "unit": "",
                            "source": "request --ep-dispatcher" if req.ep_dispatcher else f"{framework} stack default"})
        assumptions.append({"name": "moe_expert_launch", "value": stack.moe_expert_launch, "unit": "",
                            "source": ("request --moe-expert-launch" if req.moe_expert_launch else f"{framework} stack default")
                            + (f"; host-launched fp8 / fp4 experts keep the GPU waiting "
                               f"{MOE_HOST_LAUNCH_S_PER_LOCAL_EXPERT_LOWP * 1e3:g} ms per local expert per layer and pass "
                               "(fitted on MB2511-Q30B-B200-8)" if stack.moe_expert_launch == "host" else "")})
        assumptions.append({"name": "moe_router_load_cv", "value": MOE_ROUTER_LOAD_CV[stack.moe_router_balance], "unit": "",
                            "source": ("request --moe-router-balance " if req.moe_router_balance else f"{framework} stack default ")
                            + f"'{stack.moe_router_balance}': per-expert routed-load CV; each MoE layer waits for the busiest "
                            "expert-parallel rank (costsim.core.moe_routing.ep_load_factor; calibration.MOE_ROUTER_LOAD_CV "
                            "gives the sources)"})
    if ms.lora_rank > 0:
        assumptions.append({"name": "lora", "unit": "", "value": f"rank {ms.lora_rank} on "
                            + lora_targets_text(lora_targets_label(ms)),
                            "source": "request --lora-rank / --lora-targets: frozen base weights (no weight gradients, gradient "
                                      "traffic or optimizer state), adapters in bf16 beside each adapted GEMM "
                                      "(costsim.core.training.linear_layer_times); frozen GEMMs without an adapter keep no inputs and "
                                      "an fp8 / fp4 run holds the frozen linear weights in that type (training_memory)"})
        if ms.lora_base_bytes > 0:
            assumptions.append({"name": "lora_base_bytes_per_weight", "unit": "B", "value": ms.lora_base_bytes,
                                "source": "QLoRA (--lora-base-precision nf4): NF4 with double quantization, 4 + 8/64 + 32/(64 x 256) "
                                          "bits per frozen linear weight (Dettmers et al. 2023, arXiv 2305.14314 Sec. 3); every "
                                          "forward and input-gradient pass dequantizes it to bf16 in HBM before the GEMM"})
    if req.power_cap_w is not None:
        assumptions.append({"name": "power_cap_compute_frac", "value": power_cap_compute_frac(acc, req.power_cap_w), "unit": "",
                            "source": f"GEMM and attention speed at a {req.power_cap_w:g} W limit relative to the {acc.tdp_w:g} W TDP "
                                      "(costsim.core.power.cap_throughput_frac, compute phase: clock-bound DVFS model)"})
    if res["order"].size == 0:
        out.update({"feasible": False, "reason": res["reason"], "top_layouts": [], "assumptions": assumptions})
        return out
    ev = res["eval"]
    order = res["order"]
    i = int(order[0])
    best = _pick({k: v for k, v in ev.items() if k != "memory"}, i)
    mem = {k: float(v[i]) for k, v in ev["memory"].items()}
    lay = res["layout"]
    tokens_per_step = best["tokens_per_step"]
    if not step_only and tokens < tokens_per_step:
        what = f"--tokens {tokens:.3g}" if req.tokens is not None else f"the model's training_tokens ({tokens:.3g}; give --tokens)"
        raise InputError(f"{what} is less than one training step: the global batch is {tokens_per_step:,.0f} tokens "
                         f"({tokens_per_step / req.seq_len:,.0f} sequences of {req.seq_len:,}); give at least {tokens_per_step:.3g} "
                         "tokens, or a smaller --global-batch / --global-batch-tokens.", field="tokens")
    num_steps = math.ceil(tokens / tokens_per_step)
    train_flop = best["model_flop_per_step"] / tokens_per_step * tokens
    compute_time = num_steps * best["step_time_s"]
    rel = _reliability(req, spec, ms, compute_time)
    g = rel["goodput_frac"]
    feasible_run = g > 0
    wall = compute_time / g if feasible_run else math.inf
    p_c, p_x = _phase_power(acc, best, req.power_cap_w)
    step = best["step_time_s"]
    p_step = (p_c * best["compute_time_s"] + p_x * best["exposed_comm_time_s"]) / step
    split = _time_split_s(compute_time, wall, rel) if feasible_run else {}
    p_warm = float(checkpoint_phase_power(acc.idle_w, acc.tdp_w))
    gpu_energy = (req.gpus * (p_step * (split["productive_s"] + split["redone_s"]) + p_warm * split["checkpoint_stall_s"]
                              + acc.idle_w * (split["restart_s"] + split["maintenance_s"])) if feasible_run else math.inf)
    acct = account_run(acc=acc, node=node, num_gpus=req.gpus, wall_time_s=wall, gpu_energy_j=gpu_energy,
                       facility=req.facility, economics=req.economics, gpu_peak_power_w=p_c) if feasible_run else {}
    from costsim.economics.accounting import host_power_per_gpu_w

    peak_fac = req.gpus * (p_c + host_power_per_gpu_w(acc, node)) * req.facility.pue
    if acct.get("power_by_component_w"):  # same components as the energy (GPU, host, network/storage, PUE)
        peak_fac = acct["power_by_component_w"]["facility"]["peak_w"]
    top = []
    for j in order[: req.top_k]:
        j = int(j)
        row = srch.layout_row(lay, j)
        row.update({"step_time_s": float(ev["step_time_s"][j]), "tokens_per_s": float(ev["tokens_per_s"][j]),
                    "mfu_frac": float(ev["mfu_frac"][j]), "memory_per_gpu_bytes": float(ev["memory_per_gpu_bytes"][j])})
        top.append(row)
    assumptions += [
        {"name": "dropout", "unit": "", "value": "yes: two 1-byte masks of s x h per layer kept" if stack.dropout_masks
         else "no (no dropout masks kept)",
         "source": "request --dropout / --no-dropout" if req.dropout is not None else f"the {stack.name} stack's default"},
        {"name": "dp_bucket_params", "unit": "parameters",
         "value": float(dp_bucket_params(stack, float(lay.dp[i]) * float(lay.cp[i]))),
         "source": "request --dp-bucket-params" if req.dp_bucket_params is not None
         else "Megatron-core's default DDP bucket, max(40M, 1M x dp x cp) parameters (megatron/training/training.py)"},
        {"name": "global_batch", "value": int(lay.global_batch[i]), "unit": "sequences",
         "source": _batch_source(req) if (req.global_batch or req.global_batch_tokens) else f"default ~{DEFAULT_BATCH_TOKENS:.0f} tokens per step, rounded to a multiple of dp*micro_batch"},
        {"name": "failure_rate_per_gpu_hour", "value": rel["failure_rate_per_gpu_hour"], "unit": "1/GPU-h",
         "source": "override" if req.failure_rate_per_gpu_hour is not None else gp.FAILURE_RATE_SOURCE},
        {"name": "checkpoint_time_s", "value": rel["checkpoint_time_s"], "unit": "s",
         "source": "override" if req.checkpoint_time_s is not None else gp.CHECKPOINT_SOURCE},
        {"name": "restart_time_s", "value": rel["restart_time_s"], "unit": "s",
         "source": "override" if req.restart_time_s is not None else gp.RESTART_SOURCE},
        {"name": "maintenance_per_day", "value": rel["maintenance_per_day"], "unit": "stops/day",
         "source": "override" if req.maintenance_per_day is not None else gp.MAINTENANCE_SOURCE},
        {"name": "maintenance_downtime_s", "value": rel["maintenance_downtime_s"], "unit": "s",
         "source": "override" if req.maintenance_downtime_s is not None else gp.MAINTENANCE_SOURCE},
        {"name": "gpu_power_compute_w", "value": p_c, "unit": "W", "source": "costsim.core.power.device_power_w at the achieved compute utilization"},
        {"name": "gpu_power_comm_w", "value": p_x, "unit": "W", "source": "costsim.core.power.device_power_w, exposed communication / bubble phase"},
    ] + acct.get("assumptions", [])
    out.update({
        "feasible": bool(feasible_run),
        "reason": None if feasible_run else zero_goodput_reason(rel),
        "train_flop": train_flop, "step_time_s": step, "tokens_per_s": best["tokens_per_s"], "mfu_frac": best["mfu_frac"],
        "hfu_frac": best["hfu_frac"], "achieved_flop_per_s_per_gpu": best["achieved_flop_per_s_per_gpu"],
        "memory_per_gpu_bytes": best["memory_per_gpu_bytes"], "memory_breakdown_bytes": mem,
        "memory_capacity_bytes": acc.memory_bytes,
        "parallelism": srch.layout_row(lay, i), "tokens_per_step": tokens_per_step, "num_steps": num_steps,
        "framework": framework,
        **dict(zip(("layout_requires", "layout_note"),
                   layout_requires(srch.layout_row(lay, i), stack, req.precision, req.sequence_parallel))),
        "compute_time_s": compute_time, "goodput_frac": g, "wall_time_s": wall,
        "gpu_hours": acct.get("gpu_hours"), "gpu_energy_j": gpu_energy, "it_energy_j": acct.get("it_energy_j"),
        "facility_energy_j": acct.get("facility_energy_j"), "facility_peak_power_w": peak_fac,
        "co2e_kg": acct.get("co2e_kg"), "cost_usd": acct.get("cost_usd"),
        "cost_breakdown_usd": acct.get("cost_breakdown_usd"), "co2e_breakdown_kg": acct.get("co2e_breakdown_kg"),
        **{k: acct.get(k) for k in ("power_by_component_w", "energy_by_component_j", "cost_by_component_usd",
                                    "co2e_by_component_kg", "water_by_component", "cost_unavailable_reason")},
        "top_layouts": top, "assumptions": assumptions,
        "breakdowns": {
            "step_time_s": {k: best[k] for k in ("compute_time_s", "exposed_comm_time_s", "bubble_time_s", "tp_comm_time_s",
                                                  "cp_comm_time_s", "ep_comm_time_s", "moe_host_launch_time_s", "moe_load_wait_time_s", "pp_p2p_time_s", "dp_comm_time_s",
                                                  "dp_exposed_time_s", "optimizer_time_s")},
            "matmul_efficiency_frac": best["matmul_efficiency_frac"],
            "num_micro_batches": best["num_micro_batches"],
            "goodput": {k: rel[k] for k in gp.BREAKDOWN_KEYS},
            "gpu_power_w": {"compute": p_c, "comm": p_x, "idle": acc.idle_w, "checkpoint_stall": p_warm, "step_average": p_step},
            "wall_time_split_s": split,
        },
    })
    out["whole_run_computed"] = not step_only
    if step_only:
        for k in WHOLE_RUN_KEYS:
            out[k] = None
        out["breakdowns"]["wall_time_split_s"] = None
        out["whole_run_note"] = ((f"a LoRA fine-tuning run's length is not the model's pre-training ({spec.name}'s training_tokens) "
                                  "and no --tokens was given: step-level figures only (step time, MFU, memory, power, tokens/s); "
                                  "give --tokens (e.g. 1e9) for the whole run (days, GPU-hours, energy, cost, CO2e).")
                                 if ms.lora_rank > 0 else
                                 (f"model '{spec.name}' has no training_tokens in its profile and no --tokens was given: step-level "
                                  "figures only (step time, MFU, memory, power, tokens/s); give --tokens (e.g. 15e12) for the "
                                  "whole run (days, GPU-hours, energy, cost, CO2e)."))
    return out


# figures that need the token count; nulled when it is unknown (step-level answers only)
WHOLE_RUN_KEYS = ("tokens", "train_flop", "num_steps", "compute_time_s", "wall_time_s", "gpu_hours", "gpu_energy_j", "it_energy_j",
                  "facility_energy_j", "co2e_kg", "cost_usd", "cost_breakdown_usd", "co2e_breakdown_kg", "energy_by_component_j",
                  "cost_by_component_usd", "co2e_by_component_kg", "water_by_component")
