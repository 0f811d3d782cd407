"""Best serving deployment for a GPU budget: replicas x TP x PP x EP (x weight precision), vectorized.

    search_deployment(model, acc, gpus, ...) -> DeploymentSearch

Every candidate replica layout (tp within the scale-up domain and dividing the heads, pp up to the
layers, ep dividing the routed experts of an MoE model; tp*pp*ep <= gpus) and every weight format
the hardware computes natively (bf16, fp8, fp4 where its profile lists a tensor-core rate) and the
model's released format (gpt-oss: MXFP4, weight-only where the part has no FP4 rate), unless
the caller fixes them, is evaluated at once through the numpy inference core: one
`serving_curve` call over a (candidate x batch) grid, masked by the memory limit (max batch from
the KV capacity left after weights) and the TTFT / TPOT limits. Each candidate keeps its
highest-throughput batch; the deployment runs floor(gpus / gpus_per_replica) replicas of it; the
objective (deployment throughput, or $ per output token) ranks the candidates. Validity comes from
`costsim.estimators.inference.layout_problems` (the one layout check of serving).

$ per token for ranking: (GPU-hour price x GPUs of a replica + electricity of its GPUs and host
share x PUE when the pricing basis is purchase) / replica throughput, with GPU power from
`costsim.core.inference.decode_step_power_w` (the decode step's parts at their own utilizations). The chosen deployment is then
priced exactly by `estimate_serve` (costsim.estimators.inference), which the API reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from costsim.core import inference as core
from costsim.core.serving_curve import batch_grid, decode_context_tokens, graph_sizes, serving_curve
from costsim.economics.accounting import (account_run, amortized_usd_per_gpu_hour, effective_pue, host_power_per_gpu_w,
                                          usd_per_gpu_hour)
from costsim.errors import InputError
from costsim.estimators.inference import (LAYOUT_EP_DENSE, LAYOUT_EP_EXPERTS, LAYOUT_MEMORY, LAYOUT_PP_LAYERS, LAYOUT_PROBLEM_TEXT,
                                          LAYOUT_TP_DOMAIN, LAYOUT_TP_HEADS, MAX_CURVE_BATCH, PREFILL_CHUNK_TOKENS, batch_cap_warnings,
                                          check_engine_layout, check_layout, core_inputs, default_kv_precision, engine_allows,
                                          kv_context_tokens, layout_problems)
from costsim.estimators.network import network_parameters
from costsim.specs.catalog import node_for
from costsim.specs.hardware import Accelerator
from costsim.specs.model import ModelSpec
from costsim.specs.engine import get_engine
from costsim.specs.requests import DEFAULT_RUNNERS_UP
from costsim.specs.site import EconomicsSpec, FacilitySpec
from costsim.units import J_PER_KWH, S_PER_HOUR

#: Weight formats the search tries when the caller does not fix one: the formats the device's
#: tensor cores compute natively, most precise first (weight-only int4 and llama.cpp formats
#: trade accuracy for memory and are only used when asked for).
SEARCHED_PRECISIONS = ("bf16", "fp8", "fp4")
_TP = (1, 2, 4, 8, 16, 32, 64)
_PP = (1, 2, 4, 8, 16, 32)
_EP = (1, 2, 4, 8, 16, 32, 64, 128, 256)


@dataclass(frozen=True)
class Deployment:
    """One deployment of a GPU budget: identical replicas of one layout and precision."""

    replicas: int
    """Replicas serving in parallel (a router spreads requests over them)."""
    gpus_per_replica: int
    """Accelerators per replica, tp x pp x ep."""
    tp: int
    """Tensor-parallel size inside a replica."""
    pp: int
    """Pipeline-parallel size inside a replica."""
    ep: int
    """Expert-parallel size inside a replica (1 for dense models)."""
    weight_precision: str
    """Weight storage format (bf16, fp8, fp4, ...)."""
    kv_precision: str
    """KV-cache storage format."""
    compute_dtype: str
    """Datatype the GEMMs run in on this hardware."""
    batch_per_replica: int
    """Concurrent sequences per replica at the chosen operating point."""
    max_batch_per_replica: int
    """Most sequences whose KV cache fits one replica (at input + output tokens of context)."""
    throughput_tokens_per_s: float
    """Output tokens per second of the whole deployment [tokens/s]."""
    throughput_tokens_per_s_per_replica: float
    """Output tokens per second of one replica [tokens/s]."""
    ttft_s: float
    """Time to first token at the operating point [s]."""
    tpot_s: float
    """Time per output token at the operating point (prefill stalls included) [s]."""
    gpus_used: int
    """replicas x gpus_per_replica (<= the budget)."""
    gpus_idle: int
    """Budget GPUs no replica uses (the budget is not a multiple of gpus_per_replica)."""
    gpu_power_w: float
    """Mean power of one GPU at the decode operating point (ranking estimate) [W]."""
    gpu_energy_per_token_j: float
    """GPU energy per output token at that point: gpu_power_w x gpus_per_replica / replica throughput [J]."""
    usd_per_million_tokens: float | None
    """$ per million output tokens of the whole budget, its idle GPUs at idle power included (ranking estimate; None
    when the hardware has no price) [USD]."""

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class DeploymentSearch:
    """Result of `search_deployment`: the chosen deployment and the runners-up."""

    feasible: bool
    """True when at least one deployment fits memory and meets the SLOs."""
    reason: str | None
    """Why no deployment is feasible (None when feasible)."""
    gpus: int
    """GPU budget searched."""
    objective: str
    """'throughput' (highest deployment tokens/s) or 'usd_per_token' (lowest $ per output token)."""
    engine: str
    """Serving-engine profile used."""
    chosen: Deployment | None
    """Best deployment under the objective (None when infeasible)."""
    runners_up: tuple[Deployment, ...]
    """Next-best deployments, best first (at most one per layout and precision)."""
    layouts_considered: int
    """(layout, precision) candidates evaluated."""
    layouts_feasible: int
    """Candidates that fit memory and meet the SLOs at some batch."""
    configurations_evaluated: int
    """(candidate, batch) points evaluated by the vectorized core."""
    rejected: dict[str, int]
    """Candidates rejected, by reason (structural rules of `layout_problems`, memory, SLO)."""

    def to_dict(self) -> dict:
        return {"feasible": self.feasible, "reason": self.reason, "gpus": self.gpus, "objective": self.objective,
                "engine": self.engine, "chosen": self.chosen.to_dict() if self.chosen else None,
                "runners_up": [d.to_dict() for d in self.runners_up], "layouts_considered": self.layouts_considered,
                "layouts_feasible": self.layouts_feasible, "configurations_evaluated": self.configurations_evaluated,
                "rejected": dict(self.rejected)}


def searched_precisions(acc: Accelerator, m: ModelSpec | None = None, engine: str = "default") -> list[str]:
    """Weight formats computed natively by the device, for the search (bf16 always; fp16 on parts without bf16), and the
    model's released format (ModelSpec.released_weight_precision: gpt-oss's MXFP4) where it is not among them: a
    weight-only format on parts without its tensor-core rate. An engine that runs only some formats
    (EngineProfile.weight_precisions: llama.cpp's GGUF types) gets those the device can hold: its 16-bit type and its
    quantized ones."""
    half = "bf16" if acc.supports("bf16") or not acc.supports("fp16") else "fp16"
    out = [half]
    for p in SEARCHED_PRECISIONS[1:]:
        if acc.supports(p):
            out.append(p)
    rel = None if m is None else m.released_weight_precision
    if rel is not None and rel not in out and not (rel == "mxfp4" and "fp4" in out):
        out.append(rel)
    allowed = get_engine(engine).weight_precisions
    if allowed is not None:
        out = [p for p in allowed if (p not in ("bf16", "fp16") or p == half) and p not in ("int8", "int4")]
        out = [p for p in out if p != "mxfp4" or rel == "mxfp4"]
    return out


def _candidate_layouts(m: ModelSpec, acc: Accelerator, gpus: int, tp: int | None, pp: int | None, ep: int | None,
                       engine: str = "default"):
    """Every (tp, pp, ep) of at most `gpus` GPUs over the dimensions the engine runs; a given size is kept."""
    tps = [tp] if tp else ([t for t in _TP if t <= gpus] if engine_allows(engine, "tp") else [1])
    pps = [pp] if pp else ([p for p in _PP if p <= gpus] if engine_allows(engine, "pp") else [1])
    eps = [ep] if ep else ([e for e in _EP if e <= gpus] if m.is_moe and engine_allows(engine, "ep") else [1])
    T, P, E = (a.ravel() for a in np.meshgrid(tps, pps, eps, indexing="ij"))
    keep = T * P * E <= gpus
    return T[keep], P[keep], E[keep]


def _stack(objs: list, index: np.ndarray, cls):
    """One core dataclass whose fields are arrays: field of objs[index[i]] for candidate i."""
    vals = {}
    for f in fields(cls):
        col = [getattr(o, f.name) for o in objs]
        if any(c is None for c in col):
            col = [getattr(o, "peak_flop_per_s") if c is None else c for o, c in zip(objs, col)]
        vals[f.name] = np.asarray(col, dtype=float)[index]
    return cls(**vals)


def _cost_rate_usd_per_s(acc: Accelerator, economics: EconomicsSpec, facility: FacilitySpec, gpus, gpu_power_w):
    """$ per second of `gpus` GPUs drawing `gpu_power_w` each (None when the device has no price)."""
    if economics.pricing == "rental":
        rate = usd_per_gpu_hour(acc, economics)
        return None if rate is None else np.asarray(gpus, float) * rate / S_PER_HOUR
    amort = amortized_usd_per_gpu_hour(acc, economics)
    if amort is None:
        return None
    host = host_power_per_gpu_w(acc, node_for(acc)) + (facility.fabric_storage_w_per_gpu if acc.category in ("datacenter_gpu", "ai_accelerator") else 0.0)
    elec = (np.asarray(gpu_power_w, float) + host) * effective_pue(facility) * economics.electricity_usd_per_kwh / J_PER_KWH
    return np.asarray(gpus, float) * (amort / S_PER_HOUR + elec)


def scaleup_domains(acc: Accelerator, gpus_per_replica: int) -> int:
    """Scale-up groups (NVLink domains, or PCIe servers) one replica spans: above one, its expert all-to-all and the
    pipeline hand-offs between them cross the scale-out network (costsim.core.inference_comm.alltoall_time_s)."""
    return int(math.ceil(gpus_per_replica / network_parameters(acc)["local_group_size"]))


def search_deployment(m: ModelSpec, acc: Accelerator, gpus: int, *, input_tokens: int, output_tokens: int,
                      weight_precision: str | None = None, kv_precision: str | None = None,
                      tp: int | None = None, pp: int | None = None, ep: int | None = None,
                      batch: int | str = "max", ttft_slo_s: float | None = None, tpot_slo_s: float | None = None,
                      engine: str = "default", objective: str = "throughput", runners_up: int = 4,
                      economics: EconomicsSpec | None = None, facility: FacilitySpec | None = None,
                      overrides: dict[str, float] | None = None, max_batch: int | None = None,
                      output_tokens_cv: float = 0.0, power_cap_w: float | None = None) -> DeploymentSearch:
    """Best deployment of `gpus` accelerators (see the module docstring). Arguments left None are
    searched; `max_batch` caps the sequences per replica (an engine's max_num_seqs); `output_tokens_cv` is the
    coefficient of variation of the requests' output lengths (core.serving_curve.decode_context_tokens)."""
    if gpus < 1:
        raise InputError(f"the GPU budget must be at least 1, got {gpus}.", field="gpus")
    if objective not in ("throughput", "usd_per_token"):
        raise InputError(f"objective must be 'throughput' or 'usd_per_token', got {objective!r}.", field="objective")
    economics = economics or EconomicsSpec()
    facility = facility or FacilitySpec()
    check_engine_layout(engine, tp, pp, ep)
    fixed = [x for x in (tp, pp, ep) if x]
    if fixed and int(np.prod(fixed)) > gpus:
        raise InputError(f"the fixed layout (tp {tp or '-'}, pp {pp or '-'}, ep {ep or '-'}) needs {int(np.prod(fixed))} GPUs per replica, "
                         f"more than the budget of {gpus}; raise --gpus or drop a fixed size.", field="gpus")
    if fixed:  # a dimension the caller fixed must be valid on its own (exit 2 with the fix), not a silent empty search
        t1, p1, e1 = tp or 1, pp or 1, ep or 1
        own = (LAYOUT_TP_HEADS | LAYOUT_TP_DOMAIN if tp else 0) | (LAYOUT_PP_LAYERS if pp else 0) | \
              (LAYOUT_EP_DENSE | LAYOUT_EP_EXPERTS if ep else 0)
        if int(layout_problems(m, acc, t1, p1, e1)) & own:
            check_layout(m, acc, t1 * p1 * e1, t1, p1, e1)
    i, o = float(input_tokens), float(output_tokens)
    if i + o > m.max_context:
        raise InputError(f"input_tokens + output_tokens ({int(i + o)}) exceeds the model's context of {m.max_context} tokens.", field="input_tokens")
    chunk = min(PREFILL_CHUNK_TOKENS, i + o)
    ctx = kv_context_tokens(i, o, output_tokens_cv)  # KV held per running sequence (the mean context when outputs spread)
    precs = [weight_precision] if weight_precision else searched_precisions(acc, m, engine)
    cis = [core_inputs(m, acc, wp, kv_precision, engine, overrides, power_cap_w=power_cap_w) for wp in precs]

    T, P, E = _candidate_layouts(m, acc, gpus, tp, pp, ep, engine)
    L = T.size
    rejected: dict[str, int] = {}
    structural = layout_problems(m, acc, T, P, E) if L else np.zeros(0, dtype=np.int64)
    for bit, text in LAYOUT_PROBLEM_TEXT.items():
        n = int(np.sum((structural & bit) != 0))
        if n:
            rejected[text] = n * len(precs)
    ok_l = structural == 0
    T, P, E = T[ok_l], P[ok_l], E[ok_l]
    L = T.size
    # candidates: every (valid layout, precision)
    pi = np.repeat(np.arange(len(precs)), L)
    T, P, E = np.tile(T, len(precs)), np.tile(P, len(precs)), np.tile(E, len(precs))
    C = T.size
    evaluated = 0
    mem_note = ""
    best: list[Deployment] = []
    if C:
        shape = cis[0].shape
        dev = _stack([c.dev for c in cis], pi, core.Device)
        prec = _stack([c.prec for c in cis], pi, core.Precision)
        lay = core.Layout(tp=T.astype(float), pp=P.astype(float), ep=E.astype(float))
        mb = core.max_batch(shape, dev, prec, lay, ctx, chunk)
        fits = mb >= 1
        mem_note = ""
        if int(np.sum(~fits)):
            rejected[LAYOUT_PROBLEM_TEXT[LAYOUT_MEMORY]] = int(np.sum(~fits))
            w = np.asarray(core.weight_bytes_per_gpu(shape, prec, lay), float) * np.ones(C)
            j = int(np.argmin(np.where(~fits, w, np.inf)))
            usable = float(np.asarray(core.usable_memory_bytes(dev) * np.ones(C))[j])
            mem_note = (f" (the leanest layout that does not fit, {precs[pi[j]]} TP{T[j]} PP{P[j]}"
                        f"{' EP%d' % E[j] if E[j] > 1 else ''}, holds {w[j] / 1e9:.1f} GB of weights per GPU of "
                        f"{usable / 1e9:.1f} GB usable, before the KV cache)")
        # the batch a replica may run: what memory holds, under the engine's max_num_seqs; a 'max' search stops at
        # MAX_CURVE_BATCH (the result says so where memory holds more), a fixed batch is priced as given
        mb_cap = mb if max_batch is None else np.minimum(mb, max_batch)
        if batch == "max":
            shared = batch_grid(int(max(1.0, min(float(mb_cap.max()), MAX_CURVE_BATCH))), extra=graph_sizes(dev))
            # one grid for every candidate, plus each candidate's own largest batch (the shared grid holds only the
            # largest candidate's, so a replica whose throughput peaks at its own memory limit was priced below it:
            # 1,311 where 1,397 fit, -0.2 %, and `serve --gpus 1` and `--gpus 8` priced the same replica apart)
            own = np.clip(np.floor(np.where(fits, mb_cap, 1.0)), 1.0, MAX_CURVE_BATCH)
            grid = np.concatenate([np.broadcast_to(shared, (C, shared.size)), own[:, None]], axis=1)
        else:
            grid = np.full((C, 1), float(batch))
        col = lambda obj: type(obj)(**{f.name: (np.asarray(getattr(obj, f.name))[:, None] if np.ndim(getattr(obj, f.name)) else getattr(obj, f.name))
                                       for f in fields(obj)})
        curve = serving_curve(shape, col(dev), col(prec), col(lay), grid, i, o, output_tokens_cv)
        evaluated = int(grid.size)
        ok = (grid <= mb_cap[:, None]) & fits[:, None]
        slo_ok = np.ones_like(ok)
        if ttft_slo_s is not None:
            slo_ok &= curve["ttft_s"] <= ttft_slo_s
        if tpot_slo_s is not None:
            slo_ok &= curve["tpot_s"] <= tpot_slo_s
        n_slo = int(np.sum(ok.any(axis=1) & ~(ok & slo_ok).any(axis=1)))
        if n_slo:
            rejected["misses the SLOs at every batch that fits"] = n_slo
        if batch != "max":
            n_b = int(np.sum(fits & (mb_cap < float(batch))))
            if n_b:
                rejected[f"batch {batch} does not fit"] = n_b
        ok &= slo_ok
        thr = np.where(ok, curve["throughput_tokens_per_s"], -np.inf)
        k = np.argmax(thr, axis=1)
        rows = np.arange(C)
        thr_rep = thr[rows, k]
        feas = np.isfinite(thr_rep)
        gpr = (T * P * E).astype(int)
        replicas = gpus // gpr
        b_sel = grid[rows, k]
        # GPU power at the chosen decode point (ranking estimate)
        dec = core.decode_step_breakdown(shape, dev, prec, lay, b_sel, decode_context_tokens(i, o, output_tokens_cv))
        p_gpu = np.asarray(core.decode_step_power_w(dec, dev, acc.idle_w, acc.tdp_w), float)
        rate = _cost_rate_usd_per_s(acc, economics, facility, gpr, p_gpu)
        # the budget's GPUs left idle are paid for too (at idle power): $ per token of the whole budget, so a
        # deployment that leaves GPUs idle does not rank on a rate that drops them
        idle_usd_per_s = _cost_rate_usd_per_s(acc, economics, facility, gpus - replicas * gpr, acc.idle_w)
        usd_mtok = None if rate is None else (replicas * rate + idle_usd_per_s) / np.where(feas, replicas * thr_rep, np.nan) * 1e6
        if objective == "usd_per_token" and usd_mtok is None:
            raise InputError(f"objective 'usd_per_token' needs a price for {acc.id}: its profile has none. Set --usd-per-gpu-hour "
                             "(economics.usd_per_gpu_hour) or use --objective throughput.", field="objective")
        score = np.where(feas, replicas * thr_rep if objective == "throughput" else -usd_mtok, -np.inf)
        # ties: fewer GPUs used, then smaller TP (less communication), then more precise weights
        order = np.lexsort((pi, T, replicas * gpr, -score))
        for c in order:
            if not feas[c]:
                continue
            wp = precs[pi[c]]
            best.append(Deployment(
                replicas=int(replicas[c]), gpus_per_replica=int(gpr[c]), tp=int(T[c]), pp=int(P[c]), ep=int(E[c]),
                weight_precision=wp, kv_precision=kv_precision or default_kv_precision(wp, engine), compute_dtype=cis[pi[c]].compute_dtype,
                batch_per_replica=int(b_sel[c]), max_batch_per_replica=int(mb[c]),
                throughput_tokens_per_s=float(replicas[c] * thr_rep[c]), throughput_tokens_per_s_per_replica=float(thr_rep[c]),
                ttft_s=float(curve["ttft_s"][c, k[c]]), tpot_s=float(curve["tpot_s"][c, k[c]]),
                gpus_used=int(replicas[c] * gpr[c]), gpus_idle=int(gpus - replicas[c] * gpr[c]), gpu_power_w=float(p_gpu[c]),
                gpu_energy_per_token_j=float(p_gpu[c] * gpr[c] / thr_rep[c]),
                usd_per_million_tokens=None if usd_mtok is None else float(usd_mtok[c])))
            if len(best) > runners_up:
                break
    n_feasible = int(np.sum(feas)) if C else 0
    if not best:
        # the leanest layout that does not fit stands beside the memory rejections it explains, not after the others
        why = "; ".join(f"{n} candidate(s): {t}" + (mem_note if C and t == LAYOUT_PROBLEM_TEXT[LAYOUT_MEMORY] else "")
                        for t, n in rejected.items()) or "no candidate layout"
        reason = (f"no deployment of {gpus} x {acc.id} serves {m.id or m.name} "
                  f"({'/'.join(precs)} weights, {int(i)} in / {int(o)} out tokens"
                  f"{', TTFT <= %g s' % ttft_slo_s if ttft_slo_s else ''}{', TPOT <= %g s' % tpot_slo_s if tpot_slo_s else ''}): {why}. "
                  "Use more GPUs, a smaller weight precision, shorter requests or looser SLOs.")
        return DeploymentSearch(False, reason, gpus, objective, engine, None, (), int(C), 0, evaluated, rejected)
    return DeploymentSearch(True, None, gpus, objective, engine, best[0], tuple(best[1:runners_up + 1]), int(C), n_feasible,
                            evaluated, rejected)


# --------------------------------------------------------------------------------------------
# the `costsim serve --gpus N` estimate: search, then price the chosen replica exactly
# --------------------------------------------------------------------------------------------
#: Rates of one replica that the deployment multiplies by its replica count (kept per replica under "per_replica").
_REPLICA_RATES = ("throughput_tokens_per_s", "decode_tokens_per_s", "prefill_tokens_per_s")


def search_for_request(req, m: ModelSpec, acc: Accelerator) -> DeploymentSearch:
    """`search_deployment` with the fields of a ServeRequest (gpus = the budget; the model served with its top_k)."""
    from costsim.estimators.inference import served_model

    m = served_model(m, req)
    return search_deployment(m, acc, int(req.gpus), input_tokens=req.input_tokens, output_tokens=req.output_tokens,
                             weight_precision=req.weight_precision, kv_precision=req.kv_precision, tp=req.tp, pp=req.pp, ep=req.ep,
                             batch=req.batch, ttft_slo_s=req.ttft_slo_s, tpot_slo_s=req.tpot_slo_s, engine=req.engine,
                             objective=req.objective, runners_up=DEFAULT_RUNNERS_UP if req.runners_up is None else req.runners_up, economics=req.economics, facility=req.facility,
                             max_batch=req.max_num_seqs, output_tokens_cv=req.output_tokens_cv, power_cap_w=req.power_cap_w)


def _charge_idle_gpus(r: dict, a: Accelerator, req, d: Deployment) -> None:
    """Add the budget's idle GPUs (at idle power, over the same cycle) to the deployment's per-token energy, cost and
    CO2e: the whole budget is paid for and draws power whether or not a replica runs on it. Their share is kept under
    `idle_gpus`; the component breakdowns stay the replicas' own."""
    cycle_s = float(r["accounting_period"]["wall_time_s"])
    tokens = float(r["accounting_period"]["output_tokens"]) * d.replicas  # the deployment's tokens in one cycle
    gpu_j = d.gpus_idle * float(a.idle_w) * cycle_s
    acct = account_run(acc=a, node=node_for(a), num_gpus=d.gpus_idle, wall_time_s=cycle_s, gpu_energy_j=gpu_j,
                       facility=req.facility, economics=req.economics, gpu_peak_power_w=float(a.idle_w))
    share = {"gpus": d.gpus_idle, "gpu_power_w": float(a.idle_w),
             "gpu_energy_per_token_j": gpu_j / tokens,
             "facility_energy_per_token_j": acct["facility_energy_j"] / tokens,
             "cost_usd_per_million_tokens": None if acct["cost_usd"] is None else acct["cost_usd"] / tokens * 1e6,
             "co2e_g_per_million_tokens": acct["co2e_kg"] * 1000.0 / tokens * 1e6}
    for k in ("gpu_energy_per_token_j", "facility_energy_per_token_j", "cost_usd_per_million_tokens", "co2e_g_per_million_tokens"):
        if r.get(k) is not None and share[k] is not None:
            r[k] = r[k] + share[k]
    r["idle_gpus"] = share
    r["assumptions"] = list(r.get("assumptions") or []) + [
        {"name": "idle_budget_gpus", "value": d.gpus_idle, "unit": "GPU",
         "source": "GPUs of the budget no replica uses, at idle power: in the per-token energy, cost and CO2e "
                   "(their share under idle_gpus), not in the component breakdowns"}]


def estimate_serve_deployment(req, *, model: ModelSpec | None = None, acc: Accelerator | None = None,
                              with_curve: bool = True) -> dict:
    """The best deployment of req.gpus GPUs, with the chosen replica priced by `estimate_serve`.

    Keys as `estimate_serve` (per-token figures are the same for every replica, plus the share of the budget's idle GPUs
    at idle power, kept under `idle_gpus`) plus `deployment`
    {replicas, gpus_per_replica, tp, pp, ep, weight_precision, kv_precision, compute_dtype,
    batch_per_replica, gpus_used, gpus_idle}, `per_replica` (one replica's rates), `runners_up`
    and `search`; throughput / decode / prefill tokens per second are the whole deployment's."""
    from costsim.estimators.inference import _infeasible, estimate_serve
    from costsim.specs.catalog import get_accelerator, get_model

    m = model or get_model(req.model)  # search_for_request and estimate_serve apply req.top_k
    a = acc or get_accelerator(req.hardware)
    s = search_for_request(req, m, a)
    search_doc = {"objective": s.objective, "engine": s.engine, "gpus": s.gpus, "layouts_considered": s.layouts_considered,
                  "layouts_feasible": s.layouts_feasible, "configurations_evaluated": s.configurations_evaluated,
                  "rejected": dict(s.rejected)}
    if not s.feasible or s.chosen is None:
        return _infeasible(s.reason or "no feasible deployment", model=m.id or m.name, hardware=a.id, gpus=req.gpus,
                           deployment=None, runners_up=[], search=search_doc, engine=req.engine)
    d = s.chosen
    rep = req.model_copy(update=dict(gpus=d.gpus_per_replica, tp=d.tp, pp=d.pp, ep=d.ep, weight_precision=d.weight_precision,
                                     kv_precision=d.kv_precision, batch=d.batch_per_replica, single_replica=True))
    r = estimate_serve(rep, model=m, acc=a, with_curve=with_curve)
    r["per_replica"] = {k: r.get(k) for k in (*_REPLICA_RATES, "gpus", "batch", "max_batch", "throughput_tokens_per_s_per_gpu")}
    for k in _REPLICA_RATES:
        if r.get(k) is not None:
            r[k] = r[k] * d.replicas
    r["gpus"] = req.gpus
    r["throughput_tokens_per_s_per_gpu"] = r["throughput_tokens_per_s"] / d.gpus_used if r.get("throughput_tokens_per_s") else None
    r["deployment"] = {"replicas": d.replicas, "gpus_per_replica": d.gpus_per_replica, "tp": d.tp, "pp": d.pp, "ep": d.ep,
                       "weight_precision": d.weight_precision, "kv_precision": d.kv_precision, "compute_dtype": d.compute_dtype,
                       "batch_per_replica": d.batch_per_replica, "gpus_used": d.gpus_used, "gpus_idle": d.gpus_idle,
                       "searched_weight_precision": req.weight_precision is None,
                       "scaleup_domains_per_replica": scaleup_domains(a, d.gpus_per_replica)}
    if d.gpus_idle:
        _charge_idle_gpus(r, a, req, d)
    r["runners_up"] = [x.to_dict() for x in s.runners_up]
    r["search"] = search_doc
    if req.batch == "max":
        runnable = d.max_batch_per_replica if req.max_num_seqs is None else min(d.max_batch_per_replica, req.max_num_seqs)
        if cap := batch_cap_warnings(d.batch_per_replica, runnable):
            r["warnings"] = list(r.get("warnings") or []) + cap
    r["layout"] = dict(r.get("layout") or {}, searched=True)
    return r
