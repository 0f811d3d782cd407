"""Price a model size with our own cores, for the planner (costsim.api.plan).

A hypothetical model of N parameters gets a Llama-shaped architecture (width/depth ratio ~128, as Llama 3
8B 4096/32 and 405B 16384/126; SwiGLU FFN 3.5 x d_model; grouped-query attention with 8 KV heads; a
128k vocabulary). The training core prices its run per training token on the chosen accelerators (layout
search, MFU, power, site, region); the inference core prices serving per output token (best deployment of
one node, or more when the model does not fit). A planner evaluates a coarse grid of sizes and interpolates
in log-log between them (costs are smooth in N).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from costsim.core.power import warm_idle_power_w
from costsim.economics.accounting import effective_pue, host_power_per_gpu_w
from costsim.errors import InputError
from costsim.specs.catalog import node_for
from costsim.specs.hardware import Accelerator
from costsim.specs.model import ModelSpec
from costsim.specs.requests import ServeRequest, TrainRequest
from costsim.specs.site import EconomicsSpec, FacilitySpec

ASPECT = 128.0  # d_model / n_layers (Llama 3: 8B 128, 70B 102, 405B 130; Llama 3 paper Table 3)
VOCAB = 128_256  # Llama 3 tokenizer
FFN_MULT = 3.5  # d_ff / d_model (Llama 3: 14336 / 4096)
HEAD_DIM = 128
KV_HEADS = 8
SHAPE_SOURCE = "Llama 3 architecture family (Dubey et al. 2024, arXiv:2407.21783, Table 3): aspect ~128, SwiGLU 3.5x, GQA 8 KV heads, 128k vocab"
TRAIN_PROBE_TOKENS = 1e12  # the training core is linear in tokens for a fixed layout: price 1T tokens and scale


def synthetic_model(params: float) -> ModelSpec:
    """A Llama-shaped dense model with about `params` parameters (within ~3 % above ~500M; below, the narrowest width
    with at least two layers, ~290M)."""
    if not (params > 0 and math.isfinite(params)):
        raise InputError(f"model size must be a positive number of parameters, got {params!r}.", field="params")
    # N = L (2 d^2 + 2 d x 8 x 128 (GQA attention) + 3 x 3.5 d^2 (SwiGLU)) + 2 V d. The width is a multiple of 1,024 (query
    # heads of 128 a multiple of 8, so 8 KV heads and tensor parallelism up to 8 divide them, as in every Llama 3 size);
    # the depth is what brings N to the target; among the widths within 2 % of it, the one whose aspect d / L is
    # nearest Llama 3's ~128. (Widths in steps of 128 with L = d / 128 had given 1-4 KV heads and prime head counts at
    # most sizes: a cost curve that jumped between neighbouring sizes, 0.14-0.54 MFU at 3T parameters.)
    candidates = []
    for d in range(1024, 65_536 + 1, 1024):
        per_layer = d * d * 2 + 2 * d * KV_HEADS * HEAD_DIM + 3 * d * int(FFN_MULT * d)
        n_layers = max(2, int(round((params - 2 * VOCAB * d) / per_layer)))
        n = n_layers * per_layer + 2 * VOCAB * d
        candidates.append((abs(math.log(n / params)), abs(math.log(d / n_layers / ASPECT)), n, d, n_layers))
    # nearest the target size first (10x the weight: 1 % off costs what a 10 % aspect change does), then the aspect
    _, _, _, d, n_layers = min(candidates, key=lambda c: 10.0 * c[0] + c[1])
    heads, kv = d // HEAD_DIM, KV_HEADS
    return ModelSpec(id=f"planned-{int(round(params / 1e6))}m", name=f"planned {params / 1e9:.3g}B (Llama-shaped)",
                     n_layers=n_layers, d_model=d, n_heads=heads, n_kv_heads=kv, d_ff=int(FFN_MULT * d), ffn_type="swiglu",
                     vocab_size=VOCAB, max_context=8192, sources=[SHAPE_SOURCE])


@dataclass(frozen=True)
class TrainPrice:
    """Training priced per token of a model size on a job of `gpus` accelerators (feasible=False: reason)."""

    params: float
    feasible: bool
    reason: str | None
    usd_per_token: float
    facility_j_per_token: float
    co2e_kg_per_token: float
    gpu_hours_per_token: float
    tokens_per_s: float
    peak_power_w: float
    mfu_frac: float


@dataclass(frozen=True)
class ServePrice:
    """Serving priced per output token of a model size (best deployment of `gpus` accelerators)."""

    params: float
    feasible: bool
    reason: str | None
    usd_per_token: float
    facility_j_per_token: float
    co2e_kg_per_token: float
    tokens_per_s_per_gpu: float
    facility_w_per_gpu: float
    gpus_per_deployment: int
    weight_precision: str | None
    #: the part of usd_per_token that pays for the accelerators' time (rental, or capex share), not their electricity:
    #: what a fleet sized above the mean demand pays again for its idle capacity
    capacity_usd_per_token: float = math.nan
    #: the embodied share of co2e_kg_per_token (amortized manufacturing carbon; scales with accelerator-hours)
    embodied_kg_per_token: float = math.nan
    #: facility power of one idle accelerator of the fleet (device warm idle, model loaded, + its host's idle share,
    #: times PUE), W
    idle_facility_w_per_gpu: float = math.nan
    #: accelerators of one replica of the chosen deployment (tp x pp x ep): the smallest fleet that serves the model at all
    gpus_per_replica: float = math.nan


def price_training(model: ModelSpec, acc: Accelerator, gpus: int, *, precision: str = "bf16",
                   facility: FacilitySpec | None = None, economics: EconomicsSpec | None = None) -> TrainPrice:
    from costsim.estimators.training import estimate

    req = TrainRequest(model=model.id or "planned", hardware=acc.id, gpus=gpus, tokens=TRAIN_PROBE_TOKENS, precision=precision,
                       facility=facility or FacilitySpec(), economics=economics or EconomicsSpec(), top_k=1)
    r = estimate(req, spec=model, acc=acc)
    n = float(model.params_total)
    if not r.get("feasible") or r.get("wall_time_s") is None:
        return TrainPrice(n, False, r.get("reason") or "no feasible layout", *([math.nan] * 7))
    t = TRAIN_PROBE_TOKENS
    cost = r.get("cost_usd")
    return TrainPrice(n, True, None, (cost / t) if cost is not None else math.nan, r["facility_energy_j"] / t, r["co2e_kg"] / t,
                      r["gpu_hours"] / t, t / r["wall_time_s"], float(r["facility_peak_power_w"]), float(r["mfu_frac"]))


def price_serving(model: ModelSpec, acc: Accelerator, *, input_tokens: int, output_tokens: int, weight_precision: str | None = None,
                  facility: FacilitySpec | None = None, economics: EconomicsSpec | None = None,
                  budgets: tuple[int, ...] = (8, 16, 32, 64, 128), engine: str = "default",
                  ttft_slo_s: float | None = None, tpot_slo_s: float | None = None) -> ServePrice:
    from costsim.estimators.deployment import estimate_serve_deployment

    n = float(model.params_total)
    reason = "no deployment fits"
    best: ServePrice | None = None
    for g in budgets:
        req = ServeRequest(model=model.id or "planned", hardware=acc.id, gpus=g, input_tokens=input_tokens, output_tokens=output_tokens,
                           weight_precision=weight_precision, facility=facility or FacilitySpec(), economics=economics or EconomicsSpec(),
                           runners_up=0, engine=engine, ttft_slo_s=ttft_slo_s, tpot_slo_s=tpot_slo_s)
        try:
            r = estimate_serve_deployment(req, model=model, acc=acc, with_curve=False)
        except InputError as exc:
            reason = exc.message
            continue
        if not r.get("feasible", True) or not r.get("throughput_tokens_per_s"):
            reason = r.get("reason") or reason
            continue
        price = _serve_price(n, r, g, acc, facility)
        # the cheapest budget per token, not the first that fits: a model that only just fits the first leaves its
        # replicas no room for KV cache (a 1.3T model: $112 per million tokens on 16 H100s, $9.46 on 32); the price
        # falls with the budget while the cache is what limits it, then rises with the communication: stop there
        if best is not None and _rank(price) >= _rank(best):
            break
        best = price
    if best is not None:
        return best
    return ServePrice(n, False, reason, *([math.nan] * 5), 0, None)


def _rank(p: ServePrice) -> float:
    """What a serving budget is chosen on: $ per token where priced, else facility energy per token."""
    return p.usd_per_token if math.isfinite(p.usd_per_token) else p.facility_j_per_token


def _serve_price(n: float, r: dict, g: int, acc: Accelerator, facility: FacilitySpec | None) -> ServePrice:
    """A ServePrice from one budget's deployment estimate (estimate_serve_deployment's result)."""
    dep = r.get("deployment") or {}
    used = int(dep.get("gpus_used") or g)
    thr_gpu = float(r["throughput_tokens_per_s"]) / used
    e_tok = float(r["facility_energy_per_token_j"])
    usd = r.get("cost_usd_per_million_tokens")
    co2 = r.get("co2e_g_per_million_tokens")
    split = (r.get("breakdown") or {}).get("cost_usd_per_million_tokens") or {}
    capacity = (usd - float(split.get("electricity_usd") or 0.0)) / 1e6 if usd is not None else math.nan
    embodied = sum(float(v.get("embodied_g") or 0.0) for v in (r.get("co2e_by_component_g_per_million_tokens") or {}).values()
                   if isinstance(v, dict)) / 1e9
    fac = facility or FacilitySpec()
    # an idle accelerator of a serving fleet keeps its model loaded: warm idle, as the serving estimator prices
    # the time between requests (costsim.core.power.warm_idle_power_w)
    idle_w = (float(warm_idle_power_w(acc.idle_w, acc.tdp_w)) + host_power_per_gpu_w(acc, node_for(acc), busy=False)) \
        * effective_pue(fac)
    return ServePrice(n, True, None, usd / 1e6 if usd is not None else math.nan, e_tok,
                      (co2 / 1e9) if co2 is not None else math.nan, thr_gpu, e_tok * thr_gpu, used, dep.get("weight_precision"),
                      capacity_usd_per_token=capacity, embodied_kg_per_token=embodied, idle_facility_w_per_gpu=idle_w,
                      gpus_per_replica=float(dep.get("gpus_per_replica") or used))


def loglog_interp(x_new, x, y) -> np.ndarray:
    """Interpolate a positive quantity in log-log space (nan where outside the priced range or not priced)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(y) & (y > 0)
    if ok.sum() < 2:
        return np.full(np.shape(x_new), np.nan)
    lx, ly = np.log(x[ok]), np.log(y[ok])
    xn = np.log(np.asarray(x_new, float))
    out = np.exp(np.interp(xn, lx, ly))
    return np.where((xn >= lx[0] - 1e-9) & (xn <= lx[-1] + 1e-9), out, np.nan)
