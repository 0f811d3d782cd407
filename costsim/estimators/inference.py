"""Serving estimate: ServeRequest + catalog specs -> core arrays -> result dict.

Also builds the lookup tables the serving simulation uses (`step_time_table`), so the DES never
recomputes FLOPs per event.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from costsim.core import inference as core
from costsim.core.inference_power import prefill_utilization_frac
from costsim.core.power import warm_idle_power_w
from costsim.core.serving_curve import (  # noqa: F401  (PREFILL_CHUNK_TOKENS re-exported: callers import it from here)
    PREFILL_CHUNK_TOKENS, batch_grid, best_index, decode_context_tokens, graph_sizes, serving_curve)
from costsim.economics.accounting import account_run
from costsim.errors import InputError
from costsim.estimators.inference_inputs import (  # noqa: F401  (re-exported: the catalog -> core records)
    EMBEDDINGS_16BIT, FP8_KV_BY_DEFAULT, _FRACTION_PARAMETERS, CoreInputs, core_inputs, default_kv_precision,
    device_from_accelerator, device_parameters, kernel_family_parameters, precision, served_model, shape_from_model, with_sampling,
)
from costsim.estimators.network import network_parameters
from costsim.specs.catalog import get_accelerator, get_model, node_for
from costsim.specs.engine import get_engine
from costsim.specs.hardware import Accelerator
from costsim.specs.model import ModelSpec
from costsim.specs.requests import ServeRequest

MAX_CURVE_BATCH = 4096      # curve and `batch max` search cap (engines cap concurrent sequences similarly)
MIN_KV_FRAC = 0.10           # default gpus: fewest whose usable memory keeps >= 10% for KV cache after weights


def slo_limits_text(ttft_slo_s: float | None, tpot_slo_s: float | None) -> str:
    """'TTFT 1 ms, TPOT 50 ms': the latency limits a request set, each at 3 significant figures."""
    from costsim.numtext import sig

    def dur(v: float) -> str:
        return f"{v:.3g} s" if v < 1e-3 else f"{sig(v * 1e3)} ms" if v < 1.0 else f"{sig(v)} s"

    parts = [f"{name} {dur(v)}" for name, v in (("TTFT", ttft_slo_s), ("TPOT", tpot_slo_s)) if v is not None]
    return ", ".join(parts) or "none"


def batch_cap_warnings(batch: float, runnable_batch: float) -> list[str]:
    """The note a 'batch max' result carries when its search stopped at MAX_CURVE_BATCH while memory (under any
    max_num_seqs) holds more sequences: the larger batches were not priced, not found worse (empty otherwise)."""
    if batch < MAX_CURVE_BATCH or runnable_batch <= MAX_CURVE_BATCH:
        return []
    return [f"the batch search stops at {MAX_CURVE_BATCH:,} concurrent sequences per replica, where memory holds "
            f"{int(runnable_batch):,}: throughput at larger batches was not priced (engines rarely run more: vLLM's "
            "max_num_seqs defaults to 256-1,024). Give --batch N to price a larger batch."]


# --------------------------------------------------------------------------------------------
# layout
# --------------------------------------------------------------------------------------------
#: Problems `layout_problems` reports, as bit flags (0 = a valid layout).
LAYOUT_TP_HEADS = 1        # tp does not divide the attention heads
LAYOUT_TP_DOMAIN = 2       # tp spans part of a second scale-up (NVLink / Infinity Fabric / ICI) domain
LAYOUT_PP_LAYERS = 4       # pp exceeds the layers
LAYOUT_EP_DENSE = 8        # ep > 1 on a dense model
LAYOUT_EP_EXPERTS = 16     # ep does not divide the routed experts
LAYOUT_MEMORY = 32         # weights + workspace + one sequence's KV cache do not fit
LAYOUT_PROBLEM_TEXT = {
    LAYOUT_TP_HEADS: "tp does not divide the attention heads",
    LAYOUT_TP_DOMAIN: "tp spans part of a scale-up domain",
    LAYOUT_PP_LAYERS: "pp exceeds the layers",
    LAYOUT_EP_DENSE: "ep > 1 needs a mixture-of-experts model",
    LAYOUT_EP_EXPERTS: "ep does not divide the routed experts",
    LAYOUT_MEMORY: "does not fit memory",
}


def layout_problems(m: ModelSpec, acc: Accelerator, tp, pp=1, ep=1, *, fit: CoreInputs | None = None,
                    context_tokens=None, prefill_chunk_tokens=None):
    """THE layout validity check of serving (used by the CLI, the API, scenarios, the deployment search
    and the serving simulation): bit flags per (tp, pp, ep) candidate, arrays broadcast; 0 = valid.

    Structural rules: tp divides the attention heads and fills whole scale-up groups: at most one NVLink domain (for
    parts without NVLink, the PCIe server they ship in: network_parameters), or a multiple of it, when the
    tensor-parallel all-reduces of every layer cross the nodes' NICs (priced so: core.allreduce_time_s);
    pp <= layers; ep > 1 only for MoE models and divides the routed experts. With `fit` (and the
    request's context), memory: weights + workspace + one sequence's KV cache fit the usable memory."""
    tp, pp, ep = (np.asarray(x, dtype=float) for x in (tp, pp, ep))
    dom = network_parameters(acc)["local_group_size"]
    flags = np.zeros(np.broadcast(tp, pp, ep).shape, dtype=np.int64)
    flags |= np.where(np.mod(m.n_heads, tp) != 0, LAYOUT_TP_HEADS, 0)
    # across nodes: whole groups only, and only for parts with a scale-up fabric (a lone device per host has none)
    flags |= np.where((tp > dom) & ((np.mod(tp, dom) != 0) | (dom <= 1)), LAYOUT_TP_DOMAIN, 0)
    flags |= np.where(pp > m.n_layers, LAYOUT_PP_LAYERS, 0)
    flags |= np.where((ep > 1) & (not m.is_moe), LAYOUT_EP_DENSE, 0)
    flags |= np.where((ep > 1) & m.is_moe & (np.mod(max(m.n_experts, 1), ep) != 0), LAYOUT_EP_EXPERTS, 0)
    if fit is not None:
        lay = core.Layout(tp=tp, pp=pp, ep=ep)
        ctx = context_tokens if context_tokens is not None else m.max_context
        chunk = prefill_chunk_tokens if prefill_chunk_tokens is not None else min(PREFILL_CHUNK_TOKENS, ctx)
        mb = core.max_batch(fit.shape, fit.dev, fit.prec, lay, ctx, chunk)
        flags |= np.where(mb < 1, LAYOUT_MEMORY, 0)
    return flags


def check_layout(m: ModelSpec, acc: Accelerator, gpus: int, tp: int, pp: int, ep: int) -> None:
    """Raise InputError (exit 2) for a structurally impossible explicit layout, naming the field and
    the fix. Memory does not raise: a layout that does not fit is a valid request with an
    infeasible result (exit 3)."""
    if tp * pp * ep != gpus:
        raise InputError(f"tp ({tp}) x pp ({pp}) x ep ({ep}) = {tp * pp * ep} must equal gpus per replica ({gpus}).", field="gpus")
    flags = int(layout_problems(m, acc, tp, pp, ep))
    name = m.id or m.name
    if flags & LAYOUT_TP_HEADS:
        raise InputError(f"tp ({tp}) must divide the model's {m.n_heads} attention heads; pick a divisor.", field="tp")
    if flags & LAYOUT_TP_DOMAIN:
        group = int(network_parameters(acc)["local_group_size"])
        if group <= 1:
            raise InputError(f"tp ({tp}): {acc.id} has no scale-up fabric ({acc.scaleup.fabric}, one device per host), so "
                             "tensor parallelism, which all-reduces on every layer, is not priced on it. Use pp (or more "
                             "replicas) for more devices.", field="tp")
        where = (f"{acc.scaleup.domain_size}-device scale-up domain" if group == acc.scaleup.domain_size
                 else f"{group}-device scale-up domain (the {acc.id} server's {acc.scaleup.fabric})")
        raise InputError(f"tp ({tp}) spans part of a second {where} of {acc.id}; tensor parallelism across nodes "
                         f"needs whole domains (a multiple of {group}), and all-reduces over the network on every layer. "
                         f"Use tp at most {group} with pp (or more replicas), or a multiple of {group}.", field="tp")
    if flags & LAYOUT_PP_LAYERS:
        raise InputError(f"pp ({pp}) exceeds the model's {m.n_layers} layers.", field="pp")
    if flags & LAYOUT_EP_DENSE:
        raise InputError(f"--ep {ep} needs a mixture-of-experts model; '{name}' is dense. Drop --ep or use 1.", field="ep")
    if flags & LAYOUT_EP_EXPERTS:
        raise InputError(f"--ep {ep} must divide the number of routed experts of '{name}' ({m.n_experts}); "
                         "pick a divisor.", field="ep")


def _check_ep(m: ModelSpec, acc: Accelerator, ep: int) -> None:
    flags = int(layout_problems(m, acc, 1, 1, ep))
    if flags & (LAYOUT_EP_DENSE | LAYOUT_EP_EXPERTS):
        check_layout(m, acc, ep, 1, 1, ep)


_DIMENSION_TEXT = {"tp": "tensor parallelism", "pp": "pipeline parallelism", "ep": "expert parallelism"}


def check_engine_layout(engine: str, tp: int | None, pp: int | None, ep: int | None) -> None:
    """Raise InputError (exit 2) for a layout dimension above 1 that the engine does not run (EngineProfile.parallelism)."""
    eng = get_engine(engine)
    for dim, size in (("tp", tp), ("pp", pp), ("ep", ep)):
        if size and size > 1 and dim not in eng.parallelism:
            runs = " and ".join(f"--{d}" for d in eng.parallelism)
            raise InputError(f"engine '{eng.id}' runs no {_DIMENSION_TEXT[dim]}: --{dim} {size} is not possible with it. "
                             f"Use {runs} for more GPUs per replica (or more replicas), or a production engine (--engine).",
                             field=dim)


def engine_allows(engine: str, dim: str) -> bool:
    """Whether the engine splits a replica over layout dimension `dim` ('tp', 'pp' or 'ep')."""
    return dim in get_engine(engine).parallelism


def resolve_layout(req: ServeRequest, m: ModelSpec, acc: Accelerator, engine: str | None = None) -> tuple[int, int, int, int]:
    """(gpus, tp, pp, ep) of one replica with `engine` (default: req.engine); gpus = -1 when the replica size is to be
    searched."""
    engine = engine or req.engine
    pp, ep = req.pp or 1, req.ep or 1
    if req.gpus is not None and req.tp is None and req.pp is None and not engine_allows(engine, "tp"):
        pp = max(1, req.gpus // ep)  # a stack without tensor parallelism splits a replica's layers over its GPUs
    _check_ep(m, acc, ep)  # before the layout search too (it would otherwise keep ep and report a feasible plan)
    if req.gpus is None and req.tp is None:
        check_engine_layout(engine, None, pp, ep)  # the search tries only the engine's dimensions; a given pp / ep must be one
        return -1, -1, pp, ep  # search
    if req.gpus is None:
        gpus = req.tp * pp * ep
        tp = req.tp
    else:
        gpus = req.gpus
        if req.tp is None:
            if gpus % (pp * ep):
                raise InputError(f"gpus ({gpus}) must be a multiple of pp x ep ({pp * ep}).", field="gpus")
            tp = gpus // (pp * ep)
        else:
            tp = req.tp
    check_engine_layout(engine, tp, pp, ep)
    check_layout(m, acc, gpus, tp, pp, ep)
    return gpus, tp, pp, ep


def candidate_layouts(m: ModelSpec, acc: Accelerator, pp: int | None = None, ep: int = 1,
                      max_gpus: int = 1024, engine: str = "default") -> list[tuple[int, int, int, int]]:
    """(gpus, tp, pp, ep) in increasing gpus: TP within the scale-up domain, then PP across it
    (structurally valid per `layout_problems`, and only the dimensions the engine runs); a given pp is kept, None
    searches it."""
    out = []
    pps = [pp] if pp is not None else ([1, 2, 4, 8, 16] if engine_allows(engine, "pp") else [1])
    for p in pps:
        for t in ((1, 2, 4, 8, 16, 32, 64) if engine_allows(engine, "tp") else (1,)):
            g = t * p * ep
            if g <= max_gpus and int(layout_problems(m, acc, t, p, ep)) == 0:
                out.append((g, t, p, ep))
    return sorted(set(out), key=lambda x: (x[0], x[2]))


# --------------------------------------------------------------------------------------------
# the estimate
# --------------------------------------------------------------------------------------------
def _energy_power(shape, dev, prec, layout, acc, b, i, ctx_dec, t_dec):
    """Prefill and decode power at batch b: prompts of i tokens, decode steps at the running context ctx_dec."""
    pre = core.prefill_breakdown(shape, dev, prec, layout, b, i)
    dec = core.decode_step_breakdown(shape, dev, prec, layout, b, ctx_dec)
    peak, bw = float(dev.peak_flop_per_s), float(dev.bandwidth_bytes_per_s)
    cu_p, mu_p = (float(x) for x in prefill_utilization_frac(pre, dev))
    cu_d = min(1.0, float(dec["matmul_flop_per_gpu"]) / t_dec / peak)
    mu_d = min(1.0, float(dec["bytes_read_per_gpu"]) / t_dec / bw)
    p_pre = float(core.prefill_power_w(pre, dev, acc.idle_w, acc.tdp_w))
    p_dec = float(core.decode_step_power_w(dec, dev, acc.idle_w, acc.tdp_w))
    return {"prefill_w": p_pre, "decode_w": p_dec, "prefill_compute_util_frac": cu_p, "prefill_memory_util_frac": mu_p,
            "decode_compute_util_frac": cu_d, "decode_memory_util_frac": mu_d}, pre, dec


def _speed_at_cap(parts: dict, total_key: str) -> float:
    """Speed of a decode step or prompt pass under the power cap, as a fraction of its uncapped speed (1 without one)."""
    total = float(parts[total_key])
    return (total - float(parts.get("power_cap_s", 0.0))) / total if total > 0 else 1.0


def _infeasible(reason: str, **extra) -> dict[str, Any]:
    keys = ["batch", "max_batch", "memory_per_gpu_bytes", "kv_cache_bytes_per_token", "prefill_time_s", "ttft_s",
            "prefill_tokens_per_s", "decode_step_time_s", "tpot_s", "decode_tokens_per_s", "throughput_tokens_per_s",
            "gpu_power_w", "gpu_energy_per_token_j", "facility_energy_per_token_j", "cost_usd_per_million_tokens"]
    out: dict[str, Any] = {"feasible": False, "reason": reason}
    out.update({k: None for k in keys})
    out.update(extra)
    return out


def kv_context_tokens(input_tokens: float, output_tokens: float, output_cv: float = 0.0) -> float:
    """Tokens of KV cache memory holds per running sequence: a whole request (I + O), or the running batch's mean
    context when output lengths spread wider (cv > 1: I + O (1 + cv^2) / 2 passes I + O, the few long answers holding
    their slots longest). Sizing by I + O alone let a batch the decode step prices at a longer mean context overfill
    memory (318 sequences of Llama 3.1 8B on an H100 at cv 2: 144 GB of KV for 84 GB)."""
    return float(max(input_tokens + output_tokens, decode_context_tokens(input_tokens, output_tokens, output_cv)))


def estimate_serve(req: ServeRequest, *, model: ModelSpec | None = None, acc: Accelerator | None = None,
                   engine: str | None = None, overrides: dict[str, float] | None = None,
                   with_curve: bool = True) -> dict[str, Any]:
    """One replica's throughput, latency, energy and cost (the single-replica estimate; the
    deployment search in costsim.estimators.deployment prices many replicas). `engine` overrides
    req.engine."""
    m = served_model(model or get_model(req.model), req)
    a = acc or get_accelerator(req.hardware)
    engine = engine or req.engine
    wp = req.weight_precision or "bf16"
    if req.weight_precision is None:
        req = req.model_copy(update={"weight_precision": wp})
    ci = core_inputs(m, a, wp, req.kv_precision, engine, overrides, power_cap_w=req.power_cap_w)
    shape, prec, dev, dtype, params = ci.shape, ci.prec, ci.dev, ci.compute_dtype, ci.params
    i, o = float(req.input_tokens), float(req.output_tokens)
    cv = float(req.output_tokens_cv)
    ctx_dec = float(decode_context_tokens(i, o, cv))  # the running sequences' mean context a decode step reads
    if i + o > m.max_context:
        raise InputError(f"input_tokens + output_tokens ({int(i + o)}) exceeds the model's context of {m.max_context} tokens.", field="input_tokens")
    kv_per_tok = float(core.kv_bytes_stored_per_sequence(shape, prec, i + o)) / (i + o)
    chunk = min(PREFILL_CHUNK_TOKENS, (i + o) * 1.0)
    ctx_full = kv_context_tokens(i, o, cv)  # the KV a running sequence holds, what memory sizes the batch by
    usable_bytes = float(core.usable_memory_bytes(dev))  # bytes per GPU the engine may fill

    gpus, tp, pp, ep = resolve_layout(req, m, a, engine)
    searched = gpus < 0
    if searched:
        if req.pp is not None:
            check_layout(m, a, req.pp * ep, 1, req.pp, ep)  # a given pp must fit the layers (exit 2), and is kept
        cands = candidate_layouts(m, a, req.pp, ep, engine=engine)
        chosen = None
        fallback = None
        for g, t, p_, e in cands:
            lay = core.Layout(tp=t, pp=p_, ep=e)
            kv_room = float(core.kv_budget_bytes_per_gpu(dev, core.weight_bytes_per_gpu(shape, prec, lay),
                                                         core.workspace_bytes_per_gpu(shape, lay, chunk, 0.0)))
            fits = float(core.max_batch(shape, dev, prec, lay, ctx_full, chunk)) >= 1
            if fits and fallback is None:
                fallback = (g, t, p_, e)
            if fits and kv_room >= MIN_KV_FRAC * usable_bytes:
                chosen = (g, t, p_, e)
                break
        chosen = chosen or fallback
        if chosen is None:
            g, t, p_, e = cands[-1] if cands else (1, 1, 1, 1)
            lay = core.Layout(tp=t, pp=p_, ep=e)
            w = float(core.weight_bytes_per_gpu(shape, prec, lay))
            return _infeasible(f"{m.name} at {req.weight_precision} does not fit on up to {g} x {a.name} "
                               f"({w / 1e9:.1f} GB of weights per GPU vs {usable_bytes / 1e9:.1f} GB usable); "
                               f"use more GPUs (--gpus{', a larger --pp' if req.pp is not None else ''}) or a smaller weight precision.",
                               kv_cache_bytes_per_token=kv_per_tok, memory_per_gpu_bytes=w)
        gpus, tp, pp, ep = chosen
    layout = core.Layout(tp=tp, pp=pp, ep=ep)
    mb = int(core.max_batch(shape, dev, prec, layout, ctx_full, chunk))
    w_gpu = float(core.weight_bytes_per_gpu(shape, prec, layout))
    layout_doc = {"gpus": gpus, "tp": tp, "pp": pp, "ep": ep, "searched": searched}
    if mb < 1:
        return _infeasible(f"{m.name} at {req.weight_precision} needs {w_gpu / 1e9:.1f} GB of weights per GPU on {gpus} x {a.name} "
                           f"plus KV cache for one {int(ctx_full)}-token request, but only {usable_bytes / 1e9:.1f} GB per GPU is usable; "
                           "use more GPUs (--gpus/--tp/--pp) or a smaller --weight-precision.",
                           max_batch=0, kv_cache_bytes_per_token=kv_per_tok, memory_per_gpu_bytes=w_gpu, layout=layout_doc)
    # the engine's max_num_seqs caps the batch below what memory holds
    mb_run = mb if req.max_num_seqs is None else min(mb, int(req.max_num_seqs))
    mb_curve = min(mb_run, MAX_CURVE_BATCH)
    cap_warnings: list[str] = []
    grid = batch_grid(mb_curve, extra=graph_sizes(dev))
    curve = serving_curve(shape, dev, prec, layout, grid, i, o, cv)
    if req.batch == "fill":
        from costsim.estimators.trtllm_bench import fill_batch  # trtllm_bench builds on this module's KV defaults

        b, dev = fill_batch(m, shape, dev, a, tp=tp, pp=pp, ep=ep, num_gpus=gpus, input_tokens=i, output_tokens=o,
                            weight_precision=req.weight_precision, kv_precision=req.kv_precision,
                            max_batch_fit=mb_run, engine=engine)
    elif req.batch == "max":
        idx = best_index(curve, max_batch=mb_run, ttft_slo_s=req.ttft_slo_s, tpot_slo_s=req.tpot_slo_s)
        if idx < 0:
            c1 = serving_curve(shape, dev, prec, layout, 1.0, i, o, cv)
            return _infeasible(f"no batch meets the SLOs: at batch 1 TTFT is {float(c1['ttft_s']):.3g} s and TPOT {float(c1['tpot_s']):.3g} s "
                               f"(limits: {slo_limits_text(req.ttft_slo_s, req.tpot_slo_s)}).",
                               max_batch=mb, kv_cache_bytes_per_token=kv_per_tok, layout=layout_doc,
                               memory_per_gpu_bytes=float(core.memory_per_gpu_bytes(shape, prec, layout, 1, ctx_full, chunk)))
        b = float(grid[idx])
        cap_warnings = batch_cap_warnings(b, mb_run)
    else:
        b = float(req.batch)
        if b > mb:
            return _infeasible(f"batch {int(b)} does not fit: KV cache for {int(b)} requests of {int(ctx_full)} tokens needs more than the "
                               f"memory left after weights; at most {mb} fit on {gpus} x {a.name}.",
                               max_batch=mb, kv_cache_bytes_per_token=kv_per_tok, layout=layout_doc,
                               memory_per_gpu_bytes=float(core.memory_per_gpu_bytes(shape, prec, layout, b, ctx_full, chunk)))
    pt = serving_curve(shape, dev, prec, layout, b, i, o, cv)
    t_pre, t_dec = float(pt["prefill_time_s"]), float(pt["decode_step_time_s"])
    ttft, tpot, thr = float(pt["ttft_s"]), float(pt["tpot_s"]), float(pt["throughput_tokens_per_s"])
    slo_ok = (req.ttft_slo_s is None or ttft <= req.ttft_slo_s) and (req.tpot_slo_s is None or tpot <= req.tpot_slo_s)

    power, pre_bd, dec_bd = _energy_power(shape, dev, prec, layout, a, b, i, ctx_dec, t_dec)
    # one cycle: prefill of the batch's prompts, then O decode steps -> B*O output tokens
    # + the host's request admission / retirement (the GPUs wait at warm idle)
    t_req = float(dev.request_overhead_s or 0.0) * b
    # + the pipeline's wait while a prompt crosses its stages with fewer sequences than stages (serving_curve's tpot)
    t_pipe = max(0.0, o * tpot - (t_pre + o * t_dec + t_req))
    cycle_s = t_pre + o * t_dec + t_req + t_pipe
    gpu_j = gpus * (power["prefill_w"] * t_pre + power["decode_w"] * o * t_dec
                    + float(warm_idle_power_w(a.idle_w, a.tdp_w)) * (t_req + t_pipe))
    tokens = b * o
    acct = account_run(acc=a, node=node_for(a), num_gpus=gpus, wall_time_s=cycle_s, gpu_energy_j=gpu_j,
                       facility=req.facility, economics=req.economics,
                       gpu_peak_power_w=max(power["prefill_w"], power["decode_w"]))
    priced = acct["cost_usd"] is not None
    avg_power = gpu_j / gpus / cycle_s
    mem = float(core.memory_per_gpu_bytes(shape, prec, layout, b, ctx_full, chunk))
    result: dict[str, Any] = {
        "feasible": bool(slo_ok),
        "reason": None if slo_ok else f"batch {int(b)} misses the SLO (TTFT {ttft:.3g} s, TPOT {tpot:.3g} s)",
        "model": m.id or m.name, "hardware": a.id, "gpus": gpus, "layout": layout_doc,
        "weight_precision": req.weight_precision, "kv_precision": req.kv_precision or default_kv_precision(req.weight_precision, engine),
        "compute_dtype": dtype, "engine": engine, "sampling_top_k": m.default_top_k,
        # speculative decoding: drafts per step, their acceptance rate and the tokens a verify step yields per sequence
        "speculative_tokens": m.speculative_tokens, "acceptance_frac": m.speculative_acceptance_frac,
        "tokens_per_step": float(shape.spec_tokens_per_step),
        "batch": int(b), "max_batch": mb,
        # the batch a decode step computes on each rank (sequences per pipeline micro-batch and EP rank), padded to the
        # engine's CUDA graph; None when the engine does not pad
        "cuda_graph_batch_per_rank": (int(float(core.graph_batch(b / (pp * ep), dev.cuda_graph_padding, dev.cuda_graph_max_batch)))
                                      if float(dev.cuda_graph_padding) > 0 else None),
        "input_tokens": int(i), "output_tokens": int(o), "output_tokens_cv": cv,
        "decode_context_tokens": ctx_dec, "kv_context_tokens": ctx_full,
        "memory_per_gpu_bytes": mem, "memory_usable_per_gpu_bytes": usable_bytes,
        "weights_per_gpu_bytes": w_gpu, "kv_cache_bytes_per_token": kv_per_tok,
        # hybrid models: one sequence's linear-attention state (whole model), held whatever its context
        "linear_state_bytes_per_sequence": float(core.linear_state_bytes_per_sequence(shape)),
        "state_precision": m.linear_state_dtype if m.linear_attention_layers else None,
        "prefill_time_s": t_pre, "ttft_s": ttft, "prefill_tokens_per_s": b * i / t_pre,
        "decode_step_time_s": t_dec, "tpot_s": tpot, "decode_tokens_per_s": b / t_dec,
        "throughput_tokens_per_s": thr, "throughput_tokens_per_s_per_gpu": thr / gpus,
        # the per-GPU power limit the estimate ran under (None = the TDP), and the speed it leaves each phase
        "power_cap_w": req.power_cap_w,
        "decode_speed_at_cap_frac": _speed_at_cap(dec_bd, "step_time_s"),
        "prefill_speed_at_cap_frac": _speed_at_cap(pre_bd, "prefill_time_s"),
        "gpu_power_w": avg_power, "gpu_power_by_phase_w": {"prefill": power["prefill_w"], "decode": power["decode_w"], "idle": float(warm_idle_power_w(a.idle_w, a.tdp_w))},
        "gpu_energy_per_token_j": gpu_j / tokens,
        "facility_energy_per_token_j": acct["facility_energy_j"] / tokens,
        # None only when the device has no price (no rental quote, no purchase price, no override): see cost_unavailable_reason
        "cost_usd_per_million_tokens": acct["cost_usd"] / tokens * 1e6 if priced else None,
        "cost_unavailable_reason": acct["cost_unavailable_reason"],
        "co2e_g_per_million_tokens": acct["co2e_kg"] * 1000.0 / tokens * 1e6,
        "energy_labels": {"gpu_energy_per_token_j": "accelerators only, per output token",
                          "facility_energy_per_token_j": "accelerators + host share, times PUE, per output token"},
        "breakdown": {
            "decode_step_s": {k: float(v) for k, v in dec_bd.items() if k.endswith("_s")},
            "prefill_s": {k: float(v) for k, v in pre_bd.items() if k.endswith("_s")},
            "utilization": {k: v for k, v in power.items() if k.endswith("_frac")},
            "cost_usd_per_million_tokens": ({k: v / tokens * 1e6 for k, v in acct["cost_breakdown_usd"].items()} if priced else {}),
        },
        # one batch cycle (prefill of the batch's prompts + its decode steps), all GPUs of the replica
        "accounting_period": {"wall_time_s": cycle_s, "output_tokens": tokens, "gpus": gpus},
        "power_by_component_w": acct["power_by_component_w"],
        "energy_by_component_j": acct["energy_by_component_j"],
        "energy_by_component_j_per_token": {k: v / tokens for k, v in acct["energy_by_component_j"].items()},
        "cost_by_component_usd_per_million_tokens": {k: (v / tokens * 1e6 if v is not None else None) for k, v in acct["cost_by_component_usd"].items()},
        "co2e_by_component_g_per_million_tokens": {k: {kk[:-3] + "_g": vv * 1000.0 / tokens * 1e6 for kk, vv in d.items()} for k, d in acct["co2e_by_component_kg"].items()},
        "water_l_per_million_tokens": acct["water_l"] / tokens * 1e6,
        "assumptions": [
            {"name": "weight_bits_per_param", "value": core.WEIGHT_BITS_PER_PARAM[req.weight_precision], "unit": "bit",
             "source": "storage incl. scales: int4 4.5 (fp16 scale per 32 weights), q4_0 4.5, q8_0 8.5, int8 8.125 (fp16 scale per 128)"},
            {"name": "compute_dtype", "value": dtype, "unit": "", "source": "implied by weight precision and device support (costsim.core.inference.compute_dtype)"},
            *({"name": k, "value": v, "unit": "s" if k.endswith("_s") else "", "source": f"{a.category} default / profile / engine '{engine}'"}
              for k, v in params.items()),
            *([{"name": "power_cap_w", "value": req.power_cap_w, "unit": "W",
                "source": "per-GPU limit: decode steps and prompt passes at the clock it leaves (costsim.core.power.cap_roofline_frac); "
                          "held-out check: MLPerf Inference v4.0 DGX-H100 GPT-J offline at 350 W kept 74.6 % of its 700 W "
                          "throughput, costsim 68.6 % (I-mlperf40-gptj-h100-maxq-350w-throughput-frac)"}]
              if req.power_cap_w is not None else []),
            {"name": "batching", "value": "continuous", "unit": "",
             "source": "TPOT includes the prefill stalls of replacement requests; TTFT = one prompt's prefill + one running step"},
            *acct["assumptions"],
        ],
    }
    if with_curve:
        result["curve"] = {k: [float(x) for x in v] for k, v in curve.items()}
    if cap_warnings:
        result["warnings"] = cap_warnings
    return result


# --------------------------------------------------------------------------------------------
# lookup tables for the serving DES
# --------------------------------------------------------------------------------------------
def step_time_table(model: ModelSpec | str, acc: Accelerator | str, *, tp: int = 1, pp: int = 1, ep: int = 1,
                    weight_precision: str = "bf16", kv_precision: str | None = None,
                    batch_sizes=None, context_lengths=None, prefill_tokens=None,
                    engine: str = "default", overrides: dict[str, float] | None = None) -> dict[str, Any]:
    """Precomputed step times for the serving simulation.

    Returns numpy arrays: `batch_sizes` (nb), `context_lengths` (nc), `decode_step_time_s` (nb x nc,
    one decode step of nb sequences at mean context nc), `prefill_tokens` (np_) and
    `prefill_time_s` (np_, one prefill pass over that many prompt tokens in 512-token prompts),
    plus `max_batch_by_context` (nc) and `kv_bytes_per_token_per_gpu`. Interpolate between grid points.
    """
    m = get_model(model) if isinstance(model, str) else model
    a = get_accelerator(acc) if isinstance(acc, str) else acc
    ci = core_inputs(m, a, weight_precision, kv_precision, engine, overrides)
    shape, prec, dev, dtype = ci.shape, ci.prec, ci.dev, ci.compute_dtype
    layout = core.Layout(tp=tp, pp=pp, ep=ep)
    bs = np.asarray(batch_sizes if batch_sizes is not None else batch_grid(1024), dtype=float)
    cs = np.asarray(context_lengths if context_lengths is not None else np.geomspace(16, m.max_context, 24).round(), dtype=float)
    pts = np.asarray(prefill_tokens if prefill_tokens is not None else np.geomspace(1, 65536, 33).round(), dtype=float)
    dec = core.decode_step_time_s(shape, dev, prec, layout, bs[:, None], cs[None, :])
    prompt = np.minimum(pts, 512.0)
    pre = core.prefill_time_s(shape, dev, prec, layout, pts / prompt, prompt)
    return {
        "batch_sizes": bs, "context_lengths": cs, "decode_step_time_s": dec,
        "prefill_tokens": pts, "prefill_time_s": pre,
        "max_batch_by_context": core.max_batch(shape, dev, prec, layout, cs, PREFILL_CHUNK_TOKENS),
        "kv_bytes_per_token_per_gpu": float(core.kv_bytes_per_sequence_per_gpu(shape, prec, layout, 1.0)),
        "weights_per_gpu_bytes": float(core.weight_bytes_per_gpu(shape, prec, layout)),
        "compute_dtype": dtype,
    }
